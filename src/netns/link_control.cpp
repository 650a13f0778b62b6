#include "tapflow/netns/link_control.hpp"

#include <linux/netlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vlan.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace tapflow::netns {
namespace {

struct SockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using SockPtr = std::unique_ptr<nl_sock, SockFree>;
using CachePtr = std::unique_ptr<nl_cache, CacheFree>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkPut>;
using AddrPtr = std::unique_ptr<rtnl_addr, AddrPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;

// What the kernel said about the last failed request: its errno (libnl folds
// it into coarser NLE_* codes) and the extended-ack text, e.g. "MTU greater
// than device maximum".
struct KernelError {
  int err = 0;
  std::string message;
};

int record_kernel_error(sockaddr_nl* /*peer*/, nlmsgerr* e, void* arg) {
  auto* out = static_cast<KernelError*>(arg);
  out->err = -e->error;
  out->message.clear();
  // libnl hands us the payload of the NLMSG_ERROR message; its header sits
  // right before it and says whether extended-ack attributes follow.
  const auto* payload = reinterpret_cast<const unsigned char*>(e);
  nlmsghdr hdr;
  std::memcpy(&hdr, payload - NLMSG_HDRLEN, sizeof hdr);
  if ((hdr.nlmsg_flags & NLM_F_ACK_TLVS) == 0) return NL_STOP;
  if (hdr.nlmsg_len < NLMSG_HDRLEN) return NL_STOP;
  const std::size_t total = hdr.nlmsg_len - NLMSG_HDRLEN;
  std::size_t offset = sizeof(nlmsgerr);
  if ((hdr.nlmsg_flags & NLM_F_CAPPED) == 0 && e->msg.nlmsg_len > NLMSG_HDRLEN) {
    offset += e->msg.nlmsg_len - NLMSG_HDRLEN;  // the echoed request's payload
  }
  offset = (offset + NLMSG_ALIGNTO - 1) & ~std::size_t{NLMSG_ALIGNTO - 1};
  if (offset >= total) return NL_STOP;
  const auto* attrs = reinterpret_cast<const nlattr*>(payload + offset);
  if (const nlattr* msg = nla_find(attrs, static_cast<int>(total - offset), NLMSGERR_ATTR_MSG)) {
    const auto* text = static_cast<const char*>(nla_data(msg));
    out->message.assign(text, strnlen(text, static_cast<std::size_t>(nla_len(msg))));
  }
  return NL_STOP;  // libnl turns it into its NLE_* return code as usual
}

NlAddrPtr make_nl_addr(const IpPrefix& prefix) {
  NlAddrPtr a(nl_addr_build(prefix.addr.family, prefix.addr.bytes.data(), prefix.addr.size()));
  if (!a) throw Error("building a netlink address for " + prefix.to_string(), ENOMEM);
  nl_addr_set_prefixlen(a.get(), prefix.len);
  return a;
}

LinkSummary summarize(rtnl_link* l) {
  LinkSummary s;
  s.ifindex = rtnl_link_get_ifindex(l);
  if (const char* name = rtnl_link_get_name(l)) s.name = name;
  if (const char* kind = rtnl_link_get_type(l)) s.kind = kind;
  if (const char* alias = rtnl_link_get_ifalias(l)) s.alias = alias;
  if (nl_addr* mac = rtnl_link_get_addr(l); mac && nl_addr_get_len(mac) == 6) {
    std::memcpy(s.mac.octets.data(), nl_addr_get_binary_addr(mac), 6);
  }
  s.mtu = rtnl_link_get_mtu(l);
  s.flags = rtnl_link_get_flags(l);
  s.parent_ifindex = rtnl_link_get_link(l);
  if (rtnl_link_is_vlan(l)) s.vlan_id = static_cast<std::uint16_t>(rtnl_link_vlan_get_id(l));
  return s;
}

}  // namespace

struct LinkControl::Impl {
  SockPtr sock;
  KernelError last;
  std::string ns_name;

  // Throws for a libnl return code `rc` (< 0): the kernel's errno and message
  // when it answered, libnl's own text when the failure was local.
  [[noreturn]] void fail(const std::string& what, int rc) const {
    std::string text = what;
    if (!ns_name.empty()) text += " in namespace '" + ns_name + "'";
    if (last.err != 0) {
      if (!last.message.empty()) text += " (" + last.message + ")";
      throw Error(text, last.err);
    }
    throw Error(text + ": " + nl_geterror(rc), 0);
  }

  void reset() { last = {}; }

  // "'tap1' (ifindex 5)", or just the ifindex when it cannot be named.
  std::string describe(int ifindex) {
    rtnl_link* raw = nullptr;
    const KernelError saved = last;
    std::string out = "ifindex " + std::to_string(ifindex);
    if (rtnl_link_get_kernel(sock.get(), ifindex, nullptr, &raw) >= 0) {
      LinkPtr l(raw);
      if (const char* name = rtnl_link_get_name(l.get()))
        out = "'" + std::string(name) + "' (" + out + ")";
    }
    last = saved;
    return out;
  }

  // Applies the attributes set in `changes` to link `ifindex`.
  void change(int ifindex, rtnl_link* changes, const std::string& what) {
    LinkPtr orig(rtnl_link_alloc());
    if (!orig) throw Error(what + ": out of memory", ENOMEM);
    rtnl_link_set_ifindex(orig.get(), ifindex);
    reset();
    if (const int rc = rtnl_link_change(sock.get(), orig.get(), changes, 0); rc < 0) {
      fail(what + " of " + describe(ifindex), rc);
    }
  }

  LinkPtr new_changes(const char* what) {
    LinkPtr l(rtnl_link_alloc());
    if (!l) throw Error(std::string(what) + ": out of memory", ENOMEM);
    return l;
  }

  LinkPtr get(int ifindex, const char* name) {
    rtnl_link* raw = nullptr;
    reset();
    const int rc = rtnl_link_get_kernel(sock.get(), ifindex, name, &raw);
    if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return nullptr;
    if (rc < 0) {
      fail(name ? "looking up link '" + std::string(name) + "'"
                : "looking up link ifindex " + std::to_string(ifindex),
           rc);
    }
    return LinkPtr(raw);
  }
};

LinkControl::LinkControl(const NetNamespace& ns) : impl_(std::make_unique<Impl>()) {
  impl_->ns_name = ns.name();
  impl_->sock.reset(nl_socket_alloc());
  if (!impl_->sock) throw Error("allocating a netlink socket", ENOMEM);
  nl_socket_modify_err_cb(impl_->sock.get(), NL_CB_CUSTOM, record_kernel_error, &impl_->last);
  {
    // The socket belongs to the namespace it is created in, for good.
    NamespaceScope scope(ns);
    if (const int rc = nl_connect(impl_->sock.get(), NETLINK_ROUTE); rc < 0) {
      throw Error(
          "opening an rtnetlink socket in namespace '" + ns.name() + "': " + nl_geterror(rc), 0);
    }
  }
  // Best effort: without it errors just lack the kernel's explanation.
  const int one = 1;
  setsockopt(nl_socket_get_fd(impl_->sock.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
}

LinkControl::~LinkControl() = default;

std::optional<int> LinkControl::ifindex(const std::string& name) {
  LinkPtr l = impl_->get(0, name.c_str());
  if (!l) return std::nullopt;
  return rtnl_link_get_ifindex(l.get());
}

std::vector<LinkSummary> LinkControl::links() {
  nl_cache* raw = nullptr;
  impl_->reset();
  if (const int rc = rtnl_link_alloc_cache(impl_->sock.get(), AF_UNSPEC, &raw); rc < 0) {
    impl_->fail("listing links", rc);
  }
  CachePtr cache(raw);
  std::vector<LinkSummary> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    out.push_back(summarize(reinterpret_cast<rtnl_link*>(o)));
  }
  return out;
}

std::optional<LinkSummary> LinkControl::link(int ifindex) {
  LinkPtr l = impl_->get(ifindex, nullptr);
  if (!l) return std::nullopt;
  return summarize(l.get());
}

// set_up/set_mtu/set_mac first look and do nothing when the link already is
// that way: the kernel does not. Writing a MAC address, even the one the link
// has, makes it flush every neighbour on the link (NETDEV_CHANGEADDR), static
// ones included; so does taking it down. A restarted tapflowd re-applying its
// settings to the TAPs it takes back must not wipe the namespace's ARP/ND
// tables (routes via those neighbours would go to the controller until the
// kernel re-resolved them, and `nud permanent` entries would be lost).
void LinkControl::set_up(int ifindex, bool up) {
  if (auto cur = link(ifindex); cur && ((cur->flags & IFF_UP) != 0) == up) return;
  LinkPtr changes = impl_->new_changes("setting link state");
  if (up) {
    rtnl_link_set_flags(changes.get(), IFF_UP);
  } else {
    rtnl_link_unset_flags(changes.get(), IFF_UP);
  }
  impl_->change(ifindex, changes.get(), up ? "setting up" : "setting down");
}

void LinkControl::set_mtu(int ifindex, unsigned mtu) {
  if (auto cur = link(ifindex); cur && cur->mtu == mtu) return;
  LinkPtr changes = impl_->new_changes("setting MTU");
  rtnl_link_set_mtu(changes.get(), mtu);
  impl_->change(ifindex, changes.get(), "setting MTU " + std::to_string(mtu));
}

void LinkControl::set_mac(int ifindex, const openflow::MacAddress& mac) {
  if (auto cur = link(ifindex); cur && cur->mac == mac) return;
  LinkPtr changes = impl_->new_changes("setting MAC address");
  NlAddrPtr addr(nl_addr_build(AF_LLC, mac.octets.data(), mac.octets.size()));
  if (!addr) throw Error("setting MAC address: out of memory", ENOMEM);
  rtnl_link_set_addr(changes.get(), addr.get());
  impl_->change(ifindex, changes.get(), "setting MAC address " + mac.to_string());
}

void LinkControl::set_alias(int ifindex, const std::string& alias) {
  LinkPtr changes = impl_->new_changes("setting alias");
  rtnl_link_set_ifalias(changes.get(), alias.c_str());
  impl_->change(ifindex, changes.get(), "setting alias '" + alias + "'");
}

void LinkControl::add_address(int ifindex, const IpPrefix& prefix) {
  AddrPtr a(rtnl_addr_alloc());
  if (!a) throw Error("adding address: out of memory", ENOMEM);
  NlAddrPtr local = make_nl_addr(prefix);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), prefix.addr.family);
  rtnl_addr_set_local(a.get(), local.get());
  impl_->reset();
  const int rc = rtnl_addr_add(impl_->sock.get(), a.get(), 0);
  if (rc < 0 && rc != -NLE_EXIST) {
    impl_->fail("adding address " + prefix.to_string() + " to " + impl_->describe(ifindex), rc);
  }
}

void LinkControl::del_address(int ifindex, const IpPrefix& prefix) {
  AddrPtr a(rtnl_addr_alloc());
  if (!a) throw Error("deleting address: out of memory", ENOMEM);
  NlAddrPtr local = make_nl_addr(prefix);
  rtnl_addr_set_ifindex(a.get(), ifindex);
  rtnl_addr_set_family(a.get(), prefix.addr.family);
  rtnl_addr_set_local(a.get(), local.get());
  impl_->reset();
  const int rc = rtnl_addr_delete(impl_->sock.get(), a.get(), 0);
  if (rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND) {
    impl_->fail("deleting address " + prefix.to_string() + " from " + impl_->describe(ifindex), rc);
  }
}

std::vector<IpPrefix> LinkControl::addresses(int ifindex) {
  nl_cache* raw = nullptr;
  impl_->reset();
  if (const int rc = rtnl_addr_alloc_cache(impl_->sock.get(), &raw); rc < 0) {
    impl_->fail("listing addresses of " + impl_->describe(ifindex), rc);
  }
  CachePtr cache(raw);
  std::vector<IpPrefix> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex) continue;
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr) continue;
    const int family = nl_addr_get_family(local);
    const unsigned len = nl_addr_get_len(local);
    IpPrefix p;
    if (family == AF_INET && len == 4) {
      p.addr.family = AF_INET;
    } else if (family == AF_INET6 && len == 16) {
      p.addr.family = AF_INET6;
    } else {
      continue;
    }
    std::memcpy(p.addr.bytes.data(), nl_addr_get_binary_addr(local), len);
    p.len = static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(a));
    out.push_back(p);
  }
  return out;
}

int LinkControl::add_vlan(int parent_ifindex, const std::string& name, std::uint16_t vid) {
  const std::string what = "adding VLAN " + std::to_string(vid) + " '" + name + "' on ";
  LinkPtr l(rtnl_link_vlan_alloc());
  if (!l)
    throw Error(what + "ifindex " + std::to_string(parent_ifindex) + ": out of memory", ENOMEM);
  rtnl_link_set_link(l.get(), parent_ifindex);
  rtnl_link_set_name(l.get(), name.c_str());
  rtnl_link_vlan_set_id(l.get(), vid);
  impl_->reset();
  const int rc = rtnl_link_add(impl_->sock.get(), l.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (rc == -NLE_EXIST) {
    // Left from an earlier run (VLANs live as long as their persistent TAP):
    // the same VLAN on the same parent is what was asked for.
    if (LinkPtr old = impl_->get(0, name.c_str())) {
      const LinkSummary s = summarize(old.get());
      if (s.kind == "vlan" && s.parent_ifindex == parent_ifindex && s.vlan_id == vid)
        return s.ifindex;
    }
    impl_->reset();
    throw Error(
        what + impl_->describe(parent_ifindex) + ": '" + name + "' exists and is not that VLAN",
        EEXIST);
  }
  if (rc < 0) {
    // "Unknown device type": the kernel was built without CONFIG_VLAN_8021Q
    // (or cannot load the 8021q module). Say so rather than leave it a riddle.
    const std::string hint =
        impl_->last.err == EOPNOTSUPP
            ? " [this kernel has no 802.1Q VLAN support: CONFIG_VLAN_8021Q / module 8021q]"
            : "";
    impl_->fail(what + impl_->describe(parent_ifindex) + hint, rc);
  }
  const auto index = ifindex(name);
  if (!index)
    throw Error(what + impl_->describe(parent_ifindex) + ": gone right after creation", ENODEV);
  return *index;
}

void LinkControl::del_link(int ifindex) {
  LinkPtr l(rtnl_link_alloc());
  if (!l) throw Error("deleting link: out of memory", ENOMEM);
  rtnl_link_set_ifindex(l.get(), ifindex);
  impl_->reset();
  const int rc = rtnl_link_delete(impl_->sock.get(), l.get());
  if (rc < 0 && rc != -NLE_NODEV && rc != -NLE_OBJ_NOTFOUND) {
    impl_->fail("deleting " + impl_->describe(ifindex), rc);
  }
}

}  // namespace tapflow::netns
