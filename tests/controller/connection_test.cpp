// The controller core against fake switches over real loopback TCP.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <random>

#include "harness.hpp"

namespace tapflow::controller {
namespace {

using namespace testing;

TEST(Handshake, OpenFlow13ReachesUpWithPortsAndTableMiss) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 0x1234, {FakeSwitch::make_port(1, "s1-eth1"),
                                   FakeSwitch::make_port(2, "s1-eth2")});
  ASSERT_TRUE(f.app.wait_kind("up"));
  auto ev = f.app.events();
  EXPECT_EQ(ev[0].dpid, 0x1234u);
  EXPECT_EQ(ev[0].detail, "2 ports");
  f.run([&] {
    Datapath* dp = f.controller().find(0x1234);
    ASSERT_NE(dp, nullptr);
    EXPECT_EQ(dp->version(), kVersion13);
    ASSERT_NE(dp->port(2), nullptr);
    EXPECT_EQ(dp->port(2)->name, "s1-eth2");
    EXPECT_EQ(dp->log_name().substr(0, 21), "dpid=0000000000001234");
  });
}

TEST(Listeners, IPv6AndSeveralListenersAtOnce) {
  auto cfg = ControllerFixture::fast_config();
  cfg.listeners = {ListenerConfig{"127.0.0.1", 0, false}, ListenerConfig{"::1", 0, false}};
  ControllerFixture f(cfg);
  auto eps = f.run([&] { return f.controller().local_endpoints(); });
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_TRUE(eps[1].address().is_v6());
  FakeSwitch v4(f.port);
  v4.handshake(kVersion13, 4);
  FakeSwitch v6(eps[1].port(), true);
  v6.handshake(kVersion10, 6);
  ASSERT_TRUE(f.app.wait_kind("up", 2));
  EXPECT_EQ(f.run([&] { return f.controller().find(6)->peer().substr(0, 5); }), "[::1]");
}

TEST(Listeners, BadAddressOrBusyPortIsAClearError) {
  asio::io_context io;
  RecordingApp app;
  ControllerConfig bad;
  bad.listeners = {ListenerConfig{"300.1.1.1", 0, false}};
  Controller c1(io, bad, app);
  EXPECT_THROW(c1.start(), std::runtime_error);
  ControllerConfig tls;
  tls.listeners = {ListenerConfig{"127.0.0.1", 0, true}};
  Controller c2(io, tls, app);
  try {
    c2.start();
    ADD_FAILURE() << "a TLS listener without certificates started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs TLS certificate files"), std::string::npos);
  }
}

TEST(Handshake, OpenFlow10WithPortsInFeatures) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion10, 7, {FakeSwitch::make_port(1, "ether1")});
  ASSERT_TRUE(f.app.wait_kind("up"));
  EXPECT_EQ(f.app.events()[0].detail, "1 ports");
  EXPECT_EQ(f.run([&] { return f.controller().find(7)->version(); }), kVersion10);
}

TEST(Handshake, HelloWithoutBitmapNegotiatesTheLowerVersion) {
  // A 1.4 switch without a bitmap: min(1.4, 1.3) = 1.3, which we speak.
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.send(Message{0x05, 1, Hello{}});
  auto hello = sw.expect<Hello>();
  ASSERT_TRUE(hello);
  auto freq = sw.expect<FeaturesRequest>();
  ASSERT_TRUE(freq);
  EXPECT_EQ(freq->version, kVersion13);
}

TEST(Handshake, UnsupportedVersionGetsHelloFailedThenClose) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.send(Message{0x02, 9, Hello{}});  // OpenFlow 1.1 only
  auto err = sw.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(std::get<Error>(err->body).type, error_type::kHelloFailed);
  EXPECT_EQ(std::get<Error>(err->body).code, hello_failed::kIncompatible);
  EXPECT_TRUE(sw.closed_by_peer());
  EXPECT_EQ(f.app.events().size(), 0u);  // never up, so no down either
}

TEST(Handshake, BitmapWithNoCommonVersionFails) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  HelloElement bm;
  bm.bitmaps = {1u << 5 | 1u << 6};  // 1.4 and 1.5
  sw.send(Message{0x06, 1, Hello{{bm}}});
  auto err = sw.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(std::get<Error>(err->body).type, error_type::kHelloFailed);
  EXPECT_TRUE(sw.closed_by_peer());
}

TEST(Handshake, SilentPeerIsDroppedAtHandshakeTimeout) {
  ControllerFixture f;
  FakeSwitch sw(f.port);  // never says HELLO
  EXPECT_TRUE(sw.closed_by_peer(4s));
}

TEST(BadInput, MalformedMessageGetsErrorAndConnectionContinues) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  // A PACKET_IN whose match length runs past the message: BAD_MATCH/BAD_LEN.
  sw.send_raw(*parse_hex(R"(
    04 0a 0022 0000abcd          # PACKET_IN, len 34, xid 0xabcd
    ffffffff 0040 00 00          # buffer none, total_len 64, reason, table
    0000000000000000             # cookie
    0001 0040 00000000           # match OXM, length 64 (only 8 bytes present)
    0000                         # pad
  )"));
  auto err = sw.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->xid, 0xabcdu);
  const auto& e = std::get<Error>(err->body);
  EXPECT_EQ(e.type, error_type::kBadMatch);
  EXPECT_EQ(e.code, bad_match::kBadLen);
  EXPECT_EQ(e.data.size(), 34u);  // the offending message, up to 64 bytes
  // Still connected: an echo is answered.
  sw.send(Message{kVersion13, 77, EchoRequest{{1, 2, 3}}});
  auto rep = sw.expect<EchoReply>();
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->xid, 77u);
  EXPECT_EQ(std::get<EchoReply>(rep->body).data, (Bytes{1, 2, 3}));
}

TEST(BadInput, WrongVersionAfterNegotiationIsBadVersion) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  sw.send(Message{kVersion10, 5, EchoRequest{}});
  auto err = sw.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(std::get<Error>(err->body).code, bad_request::kBadVersion);
}

TEST(BadInput, FramingErrorClosesOnlyThatConnection) {
  ControllerFixture f;
  FakeSwitch good(f.port);
  good.handshake(kVersion13, 1);
  FakeSwitch bad(f.port);
  bad.handshake(kVersion13, 2);
  ASSERT_TRUE(f.app.wait_kind("up", 2));
  bad.send_raw(*parse_hex("04 02 0004 00000001"));  // header length 4 < 8
  auto err = bad.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(std::get<Error>(err->body).code, bad_request::kBadLen);
  EXPECT_TRUE(bad.closed_by_peer());
  ASSERT_TRUE(f.app.wait_kind("down"));
  EXPECT_EQ(f.app.events().back().dpid, 2u);
  good.send(Message{kVersion13, 3, EchoRequest{}});
  EXPECT_TRUE(good.expect<EchoReply>());
}

TEST(BadInput, GarbageClientIsDroppedOthersUnaffected) {
  ControllerFixture f;
  FakeSwitch good(f.port);
  good.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  FakeSwitch garbage(f.port);
  std::mt19937 rng(42);
  Bytes junk(4096);
  for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
  junk[0] = 0x04;  // looks like a HELLO header with a silly length
  junk[1] = 0x00;
  junk[2] = 0x00;
  junk[3] = 0x03;
  garbage.send_raw(junk);
  EXPECT_TRUE(garbage.closed_by_peer());
  good.send(Message{kVersion13, 3, EchoRequest{}});
  EXPECT_TRUE(good.expect<EchoReply>());
}

TEST(BadInput, SwitchMustNotSendControllerRequests) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  sw.send(Message{kVersion13, 42, FeaturesRequest{}});
  auto err = sw.expect<Error>();
  ASSERT_TRUE(err);
  EXPECT_EQ(err->xid, 42u);
  EXPECT_EQ(std::get<Error>(err->body).code, bad_request::kBadType);
}

TEST(Keepalive, IdleSwitchIsEchoedAndDroppedWhenSilent) {
  ControllerFixture f;  // echo every 200 ms, 3 misses
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 5);
  ASSERT_TRUE(f.app.wait_kind("up"));
  // Stay silent: an ECHO_REQUEST comes, we ignore it, and get dropped.
  std::optional<Message> m;
  do {
    m = sw.recv(1s);
  } while (m && !std::holds_alternative<EchoRequest>(m->body));
  ASSERT_TRUE(m) << "no ECHO_REQUEST from the controller";
  EXPECT_TRUE(sw.closed_by_peer(2s));
  ASSERT_TRUE(f.app.wait_kind("down"));
  EXPECT_NE(f.app.events().back().detail.find("echo timeout"), std::string::npos);
}

TEST(Keepalive, AnsweringSwitchStaysUp) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 5);
  ASSERT_TRUE(f.app.wait_kind("up"));
  auto until = std::chrono::steady_clock::now() + 1500ms;
  int echoes = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto m = sw.recv(100ms);
    if (m && std::holds_alternative<EchoRequest>(m->body)) {
      ++echoes;
      sw.send(Message{kVersion13, m->xid, EchoReply{}});
    }
  }
  EXPECT_GE(echoes, 3);
  EXPECT_EQ(RecordingApp::count(f.app.events(), "down"), 0u);
}

TEST(Requests, MultipartRepliesAreReassembled) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  std::promise<Result<Connection::Replies>> done;
  f.run([&] {
    f.controller().find(1)->request(MultipartRequest{0, PortStatsRequest{}},
                                    [&](Result<Connection::Replies> r) { done.set_value(r); });
  });
  auto req = sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  PortStats a, b;
  a.port_no = 1;
  b.port_no = 2;
  sw.send(Message{kVersion13, req->xid, MultipartReply{multipart_flags::kMore, PortStatsReply{{a}}}});
  sw.send(Message{kVersion13, 999, EchoRequest{}});  // unrelated traffic in between
  sw.send(Message{kVersion13, req->xid, MultipartReply{0, PortStatsReply{{b}}}});
  auto r = done.get_future().get();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ(std::get<PortStatsReply>(std::get<MultipartReply>((*r)[1].body).body).ports[0].port_no,
            2u);
}

TEST(Requests, StreamedPartsArriveOneByOneAndEachPushesTheDeadline) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  std::vector<std::uint32_t> seen;  // port numbers, in arrival order (event loop only)
  std::promise<std::pair<Result<Connection::Replies>, std::vector<std::uint32_t>>> done;
  f.run([&] {
    f.controller().find(1)->request_streaming(
        Message{kVersion13, 0, MultipartRequest{0, PortStatsRequest{}}},
        [&](const Message& m) {
          const auto& mp = std::get<MultipartReply>(m.body);
          for (const PortStats& p : std::get<PortStatsReply>(mp.body).ports) {
            seen.push_back(p.port_no);
          }
        },
        [&](Result<Connection::Replies> r) { done.set_value({std::move(r), seen}); }, 400ms);
  });
  auto req = sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  // Five parts 200 ms apart: 1 s in all, longer than the 400 ms timeout, but
  // every part is within 400 ms of the one before.
  for (std::uint32_t i = 1; i <= 5; ++i) {
    PortStats p;
    p.port_no = i;
    sw.send(Message{kVersion13, req->xid,
                    MultipartReply{i < 5 ? multipart_flags::kMore : std::uint16_t{0},
                                   PortStatsReply{{p}}}});
    if (i < 5) std::this_thread::sleep_for(200ms);
  }
  auto [r, ports] = done.get_future().get();
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_TRUE(r->empty());  // nothing kept
  EXPECT_EQ(ports, (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));
}

TEST(Requests, StreamedRequestStillTimesOutWhenPartsStop) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  std::promise<Result<Connection::Replies>> done;
  std::atomic<int> parts{0};
  f.run([&] {
    f.controller().find(1)->request_streaming(
        Message{kVersion13, 0, MultipartRequest{0, PortStatsRequest{}}},
        [&](const Message&) { ++parts; },
        [&](Result<Connection::Replies> r) { done.set_value(std::move(r)); }, 300ms);
  });
  auto req = sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  PortStats p;
  p.port_no = 1;
  sw.send(Message{kVersion13, req->xid, MultipartReply{multipart_flags::kMore, PortStatsReply{{p}}}});
  auto r = done.get_future().get();  // the last part never comes
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(parts.load(), 1);
}

TEST(Requests, ErrorReplyAndTimeoutAreDeliveredToTheCaller) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion10, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  std::promise<Result<Connection::Replies>> failed, timed_out;
  f.run([&] {
    auto* dp = f.controller().find(1);
    dp->request(MultipartRequest{0, DescStatsRequest{}},
                [&](Result<Connection::Replies> r) { failed.set_value(r); });
    dp->request(BarrierRequest{}, [&](Result<Connection::Replies> r) { timed_out.set_value(r); },
                300ms);
  });
  auto req = sw.expect<MultipartRequest>();
  ASSERT_TRUE(req);
  Error e;
  e.type = 3;  // OpenFlow 1.0 FLOW_MOD_FAILED
  e.code = 0;  // ALL_TABLES_FULL
  sw.send(Message{kVersion10, req->xid, e});
  auto r1 = failed.get_future().get();
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().type, error_type::kFlowModFailed);  // 1.3 numbering
  EXPECT_EQ(r1.error().code, flow_mod_failed::kTableFull);
  auto r2 = timed_out.get_future().get();  // barrier never answered
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().detail.find("in time"), std::string::npos);
}

TEST(Requests, UnsolicitedErrorReachesTheApp) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  Error e;
  e.type = error_type::kFlowModFailed;
  e.code = flow_mod_failed::kTableFull;
  sw.send(Message{kVersion13, 4242, e});
  ASSERT_TRUE(f.app.wait_kind("error"));
  auto ev = f.app.events().back();
  EXPECT_EQ(ev.xid, 4242u);
  EXPECT_EQ(ev.error.code, flow_mod_failed::kTableFull);
}

TEST(Events, PacketInPortStatusFlowRemoved) {
  ControllerFixture f;
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 3, {FakeSwitch::make_port(1, "p1")});
  ASSERT_TRUE(f.app.wait_kind("up"));
  PacketIn pi;
  pi.in_port = 1;
  pi.data = Bytes(64, 0xab);
  pi.total_len = 64;
  sw.send(Message{kVersion13, 0, pi});
  PortStatus ps;
  ps.reason = port_reason::kAdd;
  ps.desc = FakeSwitch::make_port(9, "p9");
  sw.send(Message{kVersion13, 0, ps});
  FlowRemoved fr;
  fr.cookie = 77;
  sw.send(Message{kVersion13, 0, fr});
  ASSERT_TRUE(f.app.wait_kind("flow_removed"));
  auto ev = f.app.events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[1].kind, "packet_in");
  EXPECT_EQ(ev[1].detail, "1");
  EXPECT_EQ(ev[2].kind, "port_status");
  EXPECT_EQ(ev[3].detail, "77");
  EXPECT_EQ(f.run([&] { return f.controller().find(3)->ports().size(); }), 2u);
}

TEST(Registry, ReconnectWithSameDatapathIdReplacesOldConnection) {
  ControllerFixture f;
  FakeSwitch first(f.port);
  first.handshake(kVersion13, 0xabc);
  ASSERT_TRUE(f.app.wait_kind("up"));
  FakeSwitch second(f.port);
  second.handshake(kVersion13, 0xabc);
  ASSERT_TRUE(f.app.wait_kind("up", 2));
  EXPECT_TRUE(first.closed_by_peer());
  auto ev = f.app.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[1].kind, "down");  // the old one goes down before the new one is up
  EXPECT_NE(ev[1].detail.find("replaced"), std::string::npos);
  EXPECT_EQ(ev[2].kind, "up");
  EXPECT_EQ(f.run([&] { return f.controller().datapaths().size(); }), 1u);
  second.send(Message{kVersion13, 3, EchoRequest{}});
  EXPECT_TRUE(second.expect<EchoReply>());
}

TEST(Registry, AllowListRefusesUnknownDatapath) {
  auto cfg = ControllerFixture::fast_config();
  cfg.allowed_datapaths = {1};
  ControllerFixture f(cfg);
  FakeSwitch stranger(f.port);
  HelloElement bm;
  bm.bitmaps = {1u << kVersion13};
  stranger.send(Message{kVersion13, 1, Hello{{bm}}});
  auto freq = stranger.expect<FeaturesRequest>();
  ASSERT_TRUE(freq);
  FeaturesReply fr;
  fr.datapath_id = 2;
  stranger.send(Message{kVersion13, freq->xid, fr});
  EXPECT_TRUE(stranger.closed_by_peer());
  FakeSwitch friendly(f.port);
  friendly.handshake(kVersion13, 1);
  EXPECT_TRUE(f.app.wait_kind("up"));
}

TEST(Backpressure, SwitchThatNeverReadsIsCutOffAndOthersAreServed) {
  auto cfg = ControllerFixture::fast_config();
  cfg.connection.write_high_watermark = 64 * 1024;
  cfg.connection.write_limit = 4 * 1024 * 1024;
  cfg.connection.echo_interval = 5s;
  ControllerFixture f(cfg);
  FakeSwitch stuck(f.port);
  int rcvbuf = 4096;
  ::setsockopt(stuck.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  stuck.handshake(kVersion13, 1);
  FakeSwitch good(f.port);
  good.handshake(kVersion13, 2);
  ASSERT_TRUE(f.app.wait_kind("up", 2));

  // Flood the stuck switch; report when the producer is told to slow down.
  std::atomic<bool> saw_congestion{false};
  f.run([&] {
    auto* dp = f.controller().find(1);
    FlowMod fm;
    fm.match.add(oxm::eth_type(0x0800)).add(oxm::ipv4_dst(0x0a000000, 0xffffff00));
    for (int i = 0; i < 200000 && !dp->is_closed(); ++i) {
      fm.cookie = static_cast<std::uint64_t>(i);
      if (!dp->send(fm)) break;
      if (dp->congested()) saw_congestion = true;
    }
  });
  EXPECT_TRUE(saw_congestion);
  ASSERT_TRUE(f.app.wait_kind("down"));
  EXPECT_NE(f.app.events().back().detail.find("not reading"), std::string::npos);
  good.send(Message{kVersion13, 3, EchoRequest{}});
  EXPECT_TRUE(good.expect<EchoReply>());
}

TEST(Backpressure, WhenWritableFiresAfterDrain) {
  auto cfg = ControllerFixture::fast_config();
  cfg.connection.write_high_watermark = 16 * 1024;
  ControllerFixture f(cfg);
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  std::promise<void> writable;
  bool congested = f.run([&] {
    auto* dp = f.controller().find(1);
    EchoRequest big{Bytes(60000, 0x55)};
    (void)dp->send(big);
    bool c = dp->congested();
    dp->when_writable([&] { writable.set_value(); });
    return c;
  });
  EXPECT_TRUE(congested);
  ASSERT_TRUE(sw.expect<EchoRequest>());  // reading drains the queue
  EXPECT_EQ(writable.get_future().wait_for(2s), std::future_status::ready);
}

// Control traffic overtakes bulk: with 280 KiB of FLOW_MODs queued for a
// switch (sent in one go, faster than a write completes), a PACKET_OUT sent as control arrives after at
// most one write slice (64 KiB) of them, not after all of them; normal
// messages keep their order.
TEST(Backpressure, ControlMessagesOvertakeQueuedBulk) {
  auto cfg = ControllerFixture::fast_config();
  cfg.connection.write_high_watermark = 4 * 1024 * 1024;
  cfg.connection.write_limit = 16 * 1024 * 1024;
  ControllerFixture f(cfg);
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  constexpr int kBulk = 4000;
  f.run([&] {
    auto* dp = f.controller().find(1);
    FlowMod fm;
    fm.match.add(oxm::eth_type(0x0800)).add(oxm::ipv4_dst(0x0a000000, 0xffffff00));
    for (int i = 0; i < kBulk; ++i) {
      fm.cookie = static_cast<std::uint64_t>(i);
      ASSERT_TRUE(dp->send(fm).ok());
    }
    ASSERT_GT(dp->queued_bytes(), 200u * 1024);
    PacketOut po;
    po.buffer_id = kNoBuffer;
    po.in_port = port::kController;
    po.actions.push_back(action::Output{1, 0});
    po.data = Bytes(60, 0xbf);
    ASSERT_TRUE(dp->send(Message{kVersion13, dp->next_xid(), po}, controller::SendPriority::kControl).ok());
  });
  int before = 0;
  std::uint64_t last_cookie = 0;
  bool in_order = true, got = false;
  while (!got) {
    auto m = sw.recv(5s);
    ASSERT_TRUE(m);
    if (const auto* fm = std::get_if<FlowMod>(&m->body)) {
      if (before > 0 && fm->cookie != last_cookie + 1) in_order = false;
      last_cookie = fm->cookie;
      ++before;
    } else if (std::holds_alternative<PacketOut>(m->body)) {
      got = true;
    }
  }
  // One slice is about 64 KiB / 64-byte FLOW_MODs: about a thousand.
  EXPECT_LT(before, 2000) << "the PACKET_OUT waited behind " << before << " FLOW_MODs";
  EXPECT_TRUE(in_order);
  int after = 0;
  while (auto m = sw.recv(2s)) {
    if (const auto* fm = std::get_if<FlowMod>(&m->body)) {
      if (fm->cookie != last_cookie + 1) in_order = false;
      last_cookie = fm->cookie;
      ++after;
      if (before + after == kBulk) break;
    }
  }
  EXPECT_EQ(before + after, kBulk);
  EXPECT_TRUE(in_order);
}

TEST(Scale, ThousandIdleConnectionsDoNotSlowAHandshake) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  ASSERT_GE(rl.rlim_max, 4096u) << "need 4096 file descriptors";
  if (rl.rlim_cur < 4096) {
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  auto cfg = ControllerFixture::fast_config();
  cfg.connection.handshake_timeout = 10s;
  cfg.connection.echo_interval = 5s;
  ControllerFixture f(cfg);
  std::vector<std::unique_ptr<FakeSwitch>> idle;
  for (int i = 0; i < 1000; ++i) idle.push_back(std::make_unique<FakeSwitch>(f.port));
  auto t0 = std::chrono::steady_clock::now();
  FakeSwitch sw(f.port);
  sw.handshake(kVersion13, 1);
  ASSERT_TRUE(f.app.wait_kind("up"));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 5s) << "a handshake took too long beside 1000 idle connections";
  EXPECT_GE(f.run([&] { return f.controller().connection_count(); }), 1001u);
}

}  // namespace
}  // namespace tapflow::controller
