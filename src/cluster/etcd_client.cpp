#include "tapflow/cluster/etcd_client.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tapflow::cluster {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using boost::system::error_code;

// ---------------------------------------------------------------- wire

namespace wire {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // '-' and '_': the URL-safe alphabet
  if (c == '/' || c == '_') return 63;
  return -1;
}

// A message that quotes at most `n` characters of what etcd sent.
std::string excerpt(std::string_view s, std::size_t n = 120) {
  std::string out(s.substr(0, n));
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  if (s.size() > n) out += "...";
  return out;
}

std::optional<std::string> bytes_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return base64_decode(it->get_ref<const std::string&>());
}

template <class T>
Result<T> bad(std::string message) {
  return Result<T>{EtcdErrc::kBadResponse, std::move(message), {}};
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16 |
                       static_cast<unsigned char>(data[i + 1]) << 8 |
                       static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = data.size() - i; rest > 0) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  // Padding is optional; anything after it, or a lone sextet, is malformed.
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '=' && text.size() - end < 2) --end;
  if (text.size() % 4 != 0 && end != text.size()) return std::nullopt;
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  unsigned acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < end; ++i) {
    const int v = base64_value(text[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6 | static_cast<unsigned>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>(acc >> bits & 0xff);
    }
  }
  if (end % 4 == 1) return std::nullopt;
  return out;
}

std::optional<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint ep;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    ep.tls = true;
    url.remove_prefix(8);
  } else {
    return std::nullopt;
  }
  if (url.ends_with("/")) url.remove_suffix(1);
  if (url.empty() || url.find('/') != std::string_view::npos) return std::nullopt;
  std::string_view port;
  if (url.front() == '[') {
    const auto close = url.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    ep.host = url.substr(1, close - 1);
    const auto rest = url.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else {
    const auto colon = url.rfind(':');
    if (colon != std::string_view::npos) {
      if (url.find(':') != colon) return std::nullopt;  // a bare IPv6 address needs brackets
      ep.host = url.substr(0, colon);
      port = url.substr(colon + 1);
    } else {
      ep.host = url;
    }
    if (ep.host.empty()) return std::nullopt;
  }
  if (port.empty()) {
    ep.port = "2379";
  } else {
    unsigned value = 0;
    const auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535)
      return std::nullopt;
    ep.port = std::string(port);
  }
  return ep;
}

std::string grant_request(std::chrono::seconds ttl) {
  return json{{"TTL", std::to_string(ttl.count())}}.dump();
}

std::string lease_request(std::int64_t lease) { return json{{"ID", std::to_string(lease)}}.dump(); }

std::string campaign_request(const std::string& name, std::int64_t lease,
                             const std::string& value) {
  return json{{"name", base64_encode(name)},
              {"lease", std::to_string(lease)},
              {"value", base64_encode(value)}}
      .dump();
}

std::string resign_request(const LeaderKey& leader) {
  return json{{"leader",
               {{"name", base64_encode(leader.name)},
                {"key", base64_encode(leader.key)},
                {"rev", std::to_string(leader.rev)},
                {"lease", std::to_string(leader.lease)}}}}
      .dump();
}

std::string name_request(const std::string& name) {
  return json{{"name", base64_encode(name)}}.dump();
}

std::optional<std::int64_t> int64_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  std::int64_t value = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return value;
}

ErrorBody classify(unsigned status, const json* body) {
  std::string message;
  int grpc = -1;
  bool has_error = false;
  if (body && body->is_object()) {
    if (auto it = body->find("error"); it != body->end()) {
      has_error = true;
      if (it->is_string()) {
        // Unary calls: {"error": "...", "message": "...", "code": 2}.
        message = it->get<std::string>();
        if (auto c = body->find("code"); c != body->end() && c->is_number_integer())
          grpc = c->get<int>();
      } else if (it->is_object()) {
        // Streams, in a 200 answer: {"error": {"grpc_code":.., "http_code":.., "message":..}}.
        if (auto m = it->find("message"); m != it->end() && m->is_string())
          message = m->get<std::string>();
        for (const char* field : {"grpc_code", "code"})
          if (auto c = it->find(field); c != it->end() && c->is_number_integer())
            grpc = c->get<int>();
        if (auto h = it->find("http_code"); h != it->end() && h->is_number_integer())
          status = h->get<unsigned>();
      } else {
        message = it->dump();
      }
    }
  }
  if (status >= 200 && status < 300 && !has_error) return {};
  if (message.empty()) message = fmt::format("HTTP {}", status);
  if (grpc >= 0) message += fmt::format(" (gRPC code {})", grpc);

  ErrorBody e;
  e.message = std::move(message);
  // etcd's gateway answers these with 500 (gRPC "Unknown"): they are the
  // answer, and every member would give the same one.
  if (contains(e.message, "lease not found")) {
    e.code = EtcdErrc::kLeaseNotFound;
  } else if (contains(e.message, "election: no leader")) {
    e.code = EtcdErrc::kNoLeader;
  } else if (grpc == 14 || grpc == 4 || grpc == 8 || grpc == 1 || status >= 500 ||
             contains(e.message, "etcdserver: no leader") ||
             contains(e.message, "leader changed") || contains(e.message, "timed out") ||
             contains(e.message, "too many requests")) {
    // Unavailable, DeadlineExceeded, ResourceExhausted, Cancelled and other
    // 5xx: this member cannot serve now (no raft leader, stopping, ...).
    e.code = EtcdErrc::kUnavailable;
    e.failover = true;
  } else {
    e.code = EtcdErrc::kRejected;
  }
  return e;
}

Result<Lease> decode_grant(const json& j) {
  if (!j.is_object()) return bad<Lease>("lease grant: not a JSON object");
  if (auto it = j.find("error");
      it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
    return {EtcdErrc::kRejected, "lease grant: " + it->get<std::string>(), {}};
  const auto id = int64_field(j, "ID");
  const auto ttl = int64_field(j, "TTL");
  if (!id || !ttl)
    return bad<Lease>("lease grant: ID or TTL is not an int64: " + excerpt(j.dump()));
  if (*id == 0 || *ttl <= 0) return bad<Lease>("lease grant: no ID or TTL in " + excerpt(j.dump()));
  return {EtcdErrc::kOk, {}, Lease{*id, *ttl}};
}

Result<std::int64_t> decode_keepalive(const json& j) {
  if (!j.is_object()) return bad<std::int64_t>("lease keepalive: not a JSON object");
  const auto ttl = int64_field(j, "TTL");
  if (!ttl) return bad<std::int64_t>("lease keepalive: TTL is not an int64: " + excerpt(j.dump()));
  return {EtcdErrc::kOk, {}, *ttl < 0 ? 0 : *ttl};
}

Result<LeaderKey> decode_campaign(const json& j) {
  if (!j.is_object()) return bad<LeaderKey>("campaign: not a JSON object");
  auto it = j.find("leader");
  if (it == j.end() || !it->is_object())
    return bad<LeaderKey>("campaign: no leader in " + excerpt(j.dump()));
  const auto name = bytes_field(*it, "name");
  const auto key = bytes_field(*it, "key");
  const auto rev = int64_field(*it, "rev");
  const auto lease = int64_field(*it, "lease");
  if (!name || !key || !rev || !lease)
    return bad<LeaderKey>("campaign: malformed leader " + excerpt(it->dump()));
  if (key->empty() || *rev <= 0)
    return bad<LeaderKey>("campaign: leader without key or rev " + excerpt(it->dump()));
  return {EtcdErrc::kOk, {}, LeaderKey{*name, *key, *rev, *lease}};
}

Result<KeyValue> decode_leader(const json& j) {
  if (!j.is_object()) return bad<KeyValue>("leader: not a JSON object");
  auto it = j.find("kv");
  if (it == j.end() || it->is_null()) return {EtcdErrc::kNoLeader, "election: no leader", {}};
  if (!it->is_object()) return bad<KeyValue>("leader: kv is not an object");
  const auto key = bytes_field(*it, "key");
  const auto value = bytes_field(*it, "value");
  const auto create = int64_field(*it, "create_revision");
  const auto mod = int64_field(*it, "mod_revision");
  const auto lease = int64_field(*it, "lease");
  if (!key || !value || !create || !mod || !lease)
    return bad<KeyValue>("leader: malformed kv " + excerpt(it->dump()));
  if (key->empty() || *create <= 0)
    return bad<KeyValue>("leader: kv without key or create_revision " + excerpt(it->dump()));
  return {EtcdErrc::kOk, {}, KeyValue{*key, *value, *create, *mod, *lease}};
}

}  // namespace wire

// ---------------------------------------------------------------- calls

struct EtcdClient::Impl {
  Impl(asio::io_context& io_context, EtcdOptions o) : io(io_context), options(std::move(o)) {}
  ~Impl();

  void endpoint_ok(std::size_t i);
  void endpoint_failed(std::size_t i, const std::string& why);

  asio::io_context& io;
  EtcdOptions options;
  std::vector<wire::Endpoint> endpoints;
  std::unique_ptr<ssl::context> ssl;
  std::size_t current = 0;
  std::optional<std::size_t> in_use;  // the endpoint last logged as in use
  std::vector<bool> failing;          // failure logged, no success since
  std::vector<std::weak_ptr<detail::Call>> calls;
};

namespace detail {

// One HTTP exchange, retried on the next endpoint while that makes sense.
//   kUnary:    the whole exchange within request_timeout; the answer is one JSON body.
//   kCampaign: connect and send within request_timeout, then wait as long as it takes.
//   kStream:   like kCampaign, then one JSON object per line ({"result": ...}).
class Call : public std::enable_shared_from_this<Call> {
 public:
  enum class Kind { kUnary, kCampaign, kStream };
  using OnJson = std::function<void(const std::string& endpoint, const json& j)>;
  using OnError = std::function<void(EtcdErrc code, std::string message)>;

  Call(EtcdClient::Impl& client, Kind kind, std::string what, std::string path, std::string body,
       OnJson on_json, OnError on_error)
      : client_(&client),
        kind_(kind),
        what_(std::move(what)),
        path_(std::move(path)),
        body_(std::move(body)),
        on_json_(std::move(on_json)),
        on_error_(std::move(on_error)),
        resolver_(client.io),
        timer_(client.io) {}

  void start() { attempt(); }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }

  // No callback after this; the connection is closed (etcd sees it).
  void cancel() {
    client_ = nullptr;
    on_json_ = nullptr;
    on_error_ = nullptr;
    close();
  }
  bool active() const { return client_ != nullptr; }

 private:
  template <class F>
  void with_stream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*tcp_);
  }

  beast::tcp_stream& lowest() { return tls_ ? tls_->next_layer() : *tcp_; }

  void close() {
    timer_.cancel();
    resolver_.cancel();
    if (tcp_ || tls_) {
      error_code ec;
      lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
      lowest().socket().close(ec);
    }
  }

  const std::string& url() const { return client_->options.endpoints[ep_]; }
  std::chrono::milliseconds timeout() const {
    return timeout_.count() > 0 ? timeout_ : client_->options.request_timeout;
  }

  void attempt() {
    ++attempt_id_;
    ++tries_;
    ep_ = client_->current;
    sent_ = false;
    timed_out_ = false;
    close();
    buffer_.clear();
    parser_.emplace();
    // Streams have no end; a unary answer of more than 4 MiB is not etcd's.
    if (kind_ == Kind::kStream)
      parser_->body_limit(boost::none);
    else
      parser_->body_limit(4u << 20);
    const auto& ep = client_->endpoints[ep_];
    if (ep.tls) {
      tcp_.reset();
      tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(client_->io, *client_->ssl);
      error_code ec;
      asio::ip::make_address(ep.host, ec);
      if (ec)  // SNI for names only, not for addresses
        // SSL_set_tlsext_host_name() without its old-style cast.
        SSL_ctrl(tls_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(ep.host.c_str()));
      tls_->set_verify_callback(ssl::host_name_verification(ep.host));
    } else {
      tls_.reset();
      tcp_ = std::make_unique<beast::tcp_stream>(client_->io);
    }
    req_ = {};
    req_.method(http::verb::post);
    req_.target(path_);
    req_.version(11);
    req_.set(http::field::host, ep.host + ":" + ep.port);
    req_.set(http::field::content_type, "application/json");
    req_.keep_alive(false);
    req_.body() = body_;
    req_.prepare_payload();

    const unsigned id = attempt_id_;
    timer_.expires_after(timeout());
    timer_.async_wait([self = shared_from_this(), id](error_code ec) {
      if (ec || id != self->attempt_id_ || !self->client_) return;
      self->timed_out_ = true;
      self->close();
    });
    resolver_.async_resolve(
        ep.host, ep.port,
        [self = shared_from_this(), id](error_code ec, tcp::resolver::results_type results) {
          if (id != self->attempt_id_ || !self->client_) return;
          if (ec) return self->failed(ec, "resolve");
          self->lowest().async_connect(results, [self, id](error_code ec2, const tcp::endpoint&) {
            if (id != self->attempt_id_ || !self->client_) return;
            if (ec2) return self->failed(ec2, "connect");
            error_code ignored;
            self->lowest().socket().set_option(tcp::no_delay(true), ignored);
            if (self->tls_)
              self->tls_->async_handshake(ssl::stream_base::client, [self, id](error_code ec3) {
                if (id != self->attempt_id_ || !self->client_) return;
                if (ec3) return self->failed(ec3, "TLS handshake");
                self->send();
              });
            else
              self->send();
          });
        });
  }

  void send() {
    const unsigned id = attempt_id_;
    with_stream([&](auto& stream) {
      http::async_write(stream, req_, [self = shared_from_this(), id](error_code ec, std::size_t) {
        if (id != self->attempt_id_ || !self->client_) return;
        if (ec) return self->failed(ec, "send");
        self->sent_ = true;
        if (self->kind_ != Kind::kUnary) self->timer_.cancel();  // now wait as long as it takes
        self->receive();
      });
    });
  }

  void receive() {
    const unsigned id = attempt_id_;
    with_stream([&](auto& stream) {
      auto handler = [self = shared_from_this(), id](error_code ec, std::size_t) {
        if (id != self->attempt_id_ || !self->client_) return;
        if (self->kind_ == Kind::kStream)
          self->on_stream_data(ec);
        else if (ec)
          self->failed(ec, "receive");
        else
          self->on_response();
      };
      if (kind_ == Kind::kStream)
        http::async_read_some(stream, buffer_, *parser_, std::move(handler));
      else
        http::async_read(stream, buffer_, *parser_, std::move(handler));
    });
  }

  // A whole answer (unary, campaign, or a stream that ended with an error status).
  void on_response() {
    const auto& res = parser_->get();
    const unsigned status = res.result_int();
    const std::string& text = res.body();
    json j = json::parse(text, nullptr, false);
    const bool parsed = !j.is_discarded();
    const auto e = wire::classify(status, parsed ? &j : nullptr);
    if (e.code != EtcdErrc::kOk) {
      std::string message = e.message;
      if (!parsed && !text.empty()) message += ": " + wire::excerpt(text);
      if (e.failover) return retry_or_fail(message);
      return finish_error(e.code, message);
    }
    if (!parsed) return finish_error(EtcdErrc::kBadResponse, "not JSON: " + wire::excerpt(text));
    client_->endpoint_ok(ep_);
    // A stream answered whole (keepalive): its first message.
    if (j.is_object())
      if (auto it = j.find("result"); it != j.end()) j = json(*it);
    deliver(j);
    if (client_) finish();
  }

  void on_stream_data(error_code ec) {
    if (!ec && !parser_->is_header_done()) return receive();
    if (parser_->is_header_done() && parser_->get().result_int() != 200) {
      // An error answer: read it whole, then judge it as a unary answer.
      if (!ec && !parser_->is_done()) return receive();
      if (ec) return failed(ec, "receive");
      return on_response();
    }
    std::string& body = parser_->get().body();
    std::size_t start = 0;
    for (std::size_t nl; (nl = body.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string_view line(body.data() + start, nl - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        return finish_error(EtcdErrc::kBadResponse,
                            "stream message is not a JSON object: " + wire::excerpt(line));
      if (auto err = wire::classify(200, &j); err.code != EtcdErrc::kOk) {
        if (err.failover) client_->endpoint_failed(ep_, err.message);
        return finish_error(err.code, err.message);
      }
      auto it = j.find("result");
      if (it == j.end())
        return finish_error(EtcdErrc::kBadResponse,
                            "stream message without result: " + wire::excerpt(line));
      client_->endpoint_ok(ep_);
      deliver(*it);
      if (!client_) return;  // cancelled by the callback
    }
    body.erase(0, start);
    if (body.size() > (1u << 20))
      return finish_error(EtcdErrc::kBadResponse, "stream message longer than 1 MiB");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || (!ec && parser_->is_done()))
      return stream_lost("the stream ended");
    if (ec) return failed(ec, "receive");
    receive();
  }

  void deliver(const json& j) {
    if (on_json_) on_json_(url(), j);
  }

  void failed(error_code ec, const char* step) {
    std::string why = timed_out_ ? fmt::format("{} timed out after {} ms", step, timeout().count())
                                 : fmt::format("{}: {}", step, ec.message());
    // A campaign or stream lost after its request was sent is not retried
    // here: its caller decides (campaign again, observe again).
    if (sent_ && kind_ != Kind::kUnary && !timed_out_) return stream_lost(why);
    retry_or_fail(why);
  }

  void stream_lost(const std::string& why) {
    client_->endpoint_failed(ep_, why);
    finish_error(EtcdErrc::kUnavailable, why);
  }

  void retry_or_fail(const std::string& why) {
    client_->endpoint_failed(ep_, why);
    errors_ += (errors_.empty() ? "" : "; ") + url() + ": " + why;
    if (tries_ < client_->endpoints.size()) return attempt();
    finish_error(EtcdErrc::kUnavailable, "no etcd endpoint answered (" + errors_ + ")");
  }

  void finish_error(EtcdErrc code, const std::string& message) {
    auto cb = std::move(on_error_);
    const std::string text = code == EtcdErrc::kUnavailable && message.starts_with("no etcd")
                                 ? what_ + ": " + message
                                 : fmt::format("{}: etcd {}: {}", what_, url(), message);
    finish();
    if (cb) cb(code, text);
  }

  void finish() {
    client_ = nullptr;
    on_json_ = nullptr;
    on_error_ = nullptr;
    close();
  }

  EtcdClient::Impl* client_;
  Kind kind_;
  std::string what_, path_, body_;
  OnJson on_json_;
  OnError on_error_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::unique_ptr<beast::tcp_stream> tcp_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::chrono::milliseconds timeout_{0};
  std::size_t ep_ = 0;
  std::size_t tries_ = 0;
  unsigned attempt_id_ = 0;
  bool sent_ = false;
  bool timed_out_ = false;
  std::string errors_;
};

}  // namespace detail

void CallHandle::cancel() {
  if (auto call = call_.lock()) call->cancel();
  call_.reset();
}

bool CallHandle::active() const {
  auto call = call_.lock();
  return call && call->active();
}

EtcdClient::Impl::~Impl() {
  for (auto& weak : calls)
    if (auto call = weak.lock()) call->cancel();
}

void EtcdClient::Impl::endpoint_ok(std::size_t i) {
  failing[i] = false;
  if (in_use != i) {
    spdlog::info("etcd: using endpoint {}", options.endpoints[i]);
    in_use = i;
  }
}

void EtcdClient::Impl::endpoint_failed(std::size_t i, const std::string& why) {
  const bool first = !failing[i];
  failing[i] = true;
  if (current == i) current = (i + 1) % endpoints.size();
  if (in_use == i) in_use.reset();
  if (first)
    spdlog::warn("etcd: endpoint {} failed ({}){}", options.endpoints[i], why,
                 endpoints.size() > 1 ? ", trying " + options.endpoints[current] : "");
  else
    spdlog::debug("etcd: endpoint {} failed again ({})", options.endpoints[i], why);
}

// ---------------------------------------------------------------- client

namespace {

template <class T, class Decode>
detail::Call::OnJson typed_json(Callback<T> cb, Decode decode) {
  return [cb = std::move(cb), decode](const std::string& endpoint, const json& j) {
    Result<T> r = decode(j);
    if (!r.ok()) r.error = fmt::format("etcd {}: {}", endpoint, r.error);
    cb(std::move(r));
  };
}

template <class T>
detail::Call::OnError typed_error(Callback<T> cb) {
  return [cb = std::move(cb)](EtcdErrc code, std::string message) {
    cb(Result<T>{code, std::move(message), {}});
  };
}

}  // namespace

EtcdClient::EtcdClient(asio::io_context& io, EtcdOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  auto& o = impl_->options;
  if (o.endpoints.empty()) throw std::invalid_argument("etcd: no endpoints");
  bool tls = false;
  for (const auto& url : o.endpoints) {
    auto ep = wire::parse_endpoint(url);
    if (!ep) throw std::invalid_argument("etcd: malformed endpoint '" + url + "'");
    tls |= ep->tls;
    impl_->endpoints.push_back(std::move(*ep));
  }
  impl_->failing.assign(impl_->endpoints.size(), false);
  if (tls && !o.tls) throw std::invalid_argument("etcd: https endpoints need TLS options (a CA)");
  if (o.tls) {
    try {
      auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
      ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      if (o.tls->ca_file.empty())
        ctx->set_default_verify_paths();
      else
        ctx->load_verify_file(o.tls->ca_file);
      ctx->set_verify_mode(ssl::verify_peer);
      if (!o.tls->cert_file.empty()) {
        ctx->use_certificate_chain_file(o.tls->cert_file);
        ctx->use_private_key_file(o.tls->key_file.empty() ? o.tls->cert_file : o.tls->key_file,
                                  ssl::context::pem);
      }
      impl_->ssl = std::move(ctx);
    } catch (const boost::system::system_error& e) {
      throw std::invalid_argument(std::string("etcd: TLS files: ") + e.what());
    }
  }
}

EtcdClient::~EtcdClient() = default;

const std::string& EtcdClient::endpoint() const { return impl_->options.endpoints[impl_->current]; }

const EtcdOptions& EtcdClient::options() const { return impl_->options; }

namespace {

CallHandle launch(EtcdClient::Impl& impl, detail::Call::Kind kind, std::string what,
                  std::string path, std::string body, detail::Call::OnJson on_json,
                  detail::Call::OnError on_error, std::chrono::milliseconds timeout = {}) {
  auto call =
      std::make_shared<detail::Call>(impl, kind, std::move(what), std::move(path), std::move(body),
                                     std::move(on_json), std::move(on_error));
  std::erase_if(impl.calls, [](const auto& w) {
    auto c = w.lock();
    return !c || !c->active();
  });
  call->set_timeout(timeout);
  impl.calls.push_back(call);
  // Started from the io_context, never inside the caller's stack: callbacks
  // then never run before the call returns its handle.
  asio::post(impl.io, [call] {
    if (call->active()) call->start();
  });
  return CallHandle(call);
}

}  // namespace

CallHandle EtcdClient::grant_lease(std::chrono::seconds ttl, Callback<Lease> cb) {
  return launch(*impl_, detail::Call::Kind::kUnary, "lease grant", "/v3/lease/grant",
                wire::grant_request(ttl), typed_json<Lease>(cb, wire::decode_grant),
                typed_error<Lease>(cb));
}

CallHandle EtcdClient::keep_alive(std::int64_t lease, Callback<std::int64_t> cb,
                                  std::chrono::milliseconds timeout) {
  return launch(*impl_, detail::Call::Kind::kUnary, fmt::format("lease keepalive {:x}", lease),
                "/v3/lease/keepalive", wire::lease_request(lease),
                typed_json<std::int64_t>(cb, wire::decode_keepalive), typed_error<std::int64_t>(cb),
                timeout);
}

CallHandle EtcdClient::revoke(std::int64_t lease, Callback<Empty> cb) {
  return launch(*impl_, detail::Call::Kind::kUnary, fmt::format("lease revoke {:x}", lease),
                "/v3/lease/revoke", wire::lease_request(lease),
                typed_json<Empty>(cb, [](const json&) { return Result<Empty>{}; }),
                typed_error<Empty>(cb));
}

CallHandle EtcdClient::campaign(const std::string& name, std::int64_t lease,
                                const std::string& value, Callback<LeaderKey> cb) {
  return launch(*impl_, detail::Call::Kind::kCampaign, "campaign " + name, "/v3/election/campaign",
                wire::campaign_request(name, lease, value),
                typed_json<LeaderKey>(cb, wire::decode_campaign), typed_error<LeaderKey>(cb));
}

CallHandle EtcdClient::resign(const LeaderKey& leader, Callback<Empty> cb) {
  return launch(*impl_, detail::Call::Kind::kUnary, "resign " + leader.name, "/v3/election/resign",
                wire::resign_request(leader),
                typed_json<Empty>(cb, [](const json&) { return Result<Empty>{}; }),
                typed_error<Empty>(cb));
}

CallHandle EtcdClient::leader(const std::string& name, Callback<KeyValue> cb) {
  return launch(*impl_, detail::Call::Kind::kUnary, "leader " + name, "/v3/election/leader",
                wire::name_request(name), typed_json<KeyValue>(cb, wire::decode_leader),
                typed_error<KeyValue>(cb));
}

CallHandle EtcdClient::observe(const std::string& name, Callback<KeyValue> cb) {
  return launch(*impl_, detail::Call::Kind::kStream, "observe " + name, "/v3/election/observe",
                wire::name_request(name), typed_json<KeyValue>(cb, wire::decode_leader),
                typed_error<KeyValue>(cb));
}

}  // namespace tapflow::cluster
