// EtcdClient against hand-written HTTP answers over loopback: malformed and
// error answers give clear errors naming the endpoint, dead or silent
// endpoints fail over, chunked streams split anywhere are reassembled, and a
// cancelled call closes its connection and stays silent.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "etcd_cluster.hpp"
#include "tapflow/cluster/etcd_client.hpp"

namespace tapflow::cluster {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using testing::free_port;
using testing::run_until;

// Answers every request with `pieces`, written 20 ms apart, then closes
// (or, with `hold`, keeps the connection open and silent).
class FakeEtcd {
 public:
  FakeEtcd(asio::io_context& io, std::vector<std::string> pieces, bool hold = false)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)),
        pieces_(std::move(pieces)),
        hold_(hold) {
    accept();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int connections = 0;
  int closed_by_client = 0;
  std::string last_request;

 private:
  struct Conn {
    explicit Conn(asio::io_context& io, tcp::socket s) : sock(std::move(s)), timer(io) {}
    tcp::socket sock;
    asio::steady_timer timer;
    asio::streambuf in;
    std::size_t next = 0;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++connections;
      auto c = std::make_shared<Conn>(io_, std::move(s));
      asio::async_read_until(
          c->sock, c->in, "\r\n\r\n", [this, c](boost::system::error_code ec2, std::size_t) {
            if (ec2) return;
            std::string head(asio::buffers_begin(c->in.data()), asio::buffers_end(c->in.data()));
            last_request = head;
            write_next(c);
          });
      accept();
    });
  }

  void write_next(std::shared_ptr<Conn> c) {
    if (c->next == pieces_.size()) {
      if (!hold_) {
        boost::system::error_code ignored;
        c->sock.shutdown(tcp::socket::shutdown_both, ignored);
        c->sock.close(ignored);
        return;
      }
      // Wait for the client to go away.
      auto buf = std::make_shared<char>();
      c->sock.async_read_some(asio::buffer(buf.get(), 1),
                              [this, c, buf](boost::system::error_code ec, std::size_t) {
                                if (ec) ++closed_by_client;
                              });
      return;
    }
    asio::async_write(
        c->sock, asio::buffer(pieces_[c->next]),
        [this, c](boost::system::error_code ec, std::size_t) {
          if (ec) return;
          ++c->next;
          c->timer.expires_after(20ms);
          c->timer.async_wait([this, c](boost::system::error_code) { write_next(c); });
        });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::vector<std::string> pieces_;
  bool hold_;
};

std::string answer(unsigned status, const std::string& body, const char* reason = "OK") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

const std::string kChunkedHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

template <class T>
std::optional<Result<T>> wait_result(asio::io_context& io, std::optional<Result<T>>& slot,
                                     std::chrono::milliseconds limit = 3s) {
  run_until(
      io, [&] { return slot.has_value(); }, limit);
  return slot;
}

TEST(EtcdClientFake, GrantAndItsRequest) {
  asio::io_context io;
  FakeEtcd fake(io, {answer(200, R"({"header":{},"ID":"42","TTL":"2"})")});
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::optional<Result<Lease>> got;
  client.grant_lease(2s, [&](Result<Lease> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  ASSERT_TRUE(got->ok()) << got->error;
  EXPECT_EQ(got->value.id, 42);
  EXPECT_EQ(got->value.ttl, 2);
  EXPECT_NE(fake.last_request.find("POST /v3/lease/grant HTTP/1.1"), std::string::npos);
  EXPECT_NE(fake.last_request.find("Content-Type: application/json"), std::string::npos);
}

TEST(EtcdClientFake, NotJsonIsABadResponseNamingTheEndpoint) {
  asio::io_context io;
  FakeEtcd fake(io, {answer(200, "<html>hello</html>")});
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::optional<Result<Lease>> got;
  client.grant_lease(2s, [&](Result<Lease> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  EXPECT_EQ(got->code, EtcdErrc::kBadResponse);
  EXPECT_NE(got->error.find(fake.url()), std::string::npos) << got->error;
  EXPECT_NE(got->error.find("not JSON: <html>hello</html>"), std::string::npos) << got->error;
}

TEST(EtcdClientFake, MissingFieldsAreABadResponse) {
  asio::io_context io;
  FakeEtcd fake(io, {answer(200, R"({"header":{},"ID":"42"})")});
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::optional<Result<Lease>> got;
  client.grant_lease(2s, [&](Result<Lease> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  EXPECT_EQ(got->code, EtcdErrc::kBadResponse);
  EXPECT_NE(got->error.find("etcd " + fake.url() + ": lease grant: no ID or TTL"),
            std::string::npos)
      << got->error;
}

TEST(EtcdClientFake, LeaseNotFoundIsTheAnswerNotAFailover) {
  asio::io_context io;
  const std::string body =
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":2})";
  FakeEtcd first(io, {answer(500, body, "Internal Server Error")});
  FakeEtcd second(io, {answer(200, R"({"leader":{"key":"eA==","rev":"3","lease":"7"}})")});
  EtcdClient client(io, {{first.url(), second.url()}, {}, 500ms});
  std::optional<Result<LeaderKey>> got;
  client.campaign("n", 7, "v", [&](Result<LeaderKey> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  EXPECT_EQ(got->code, EtcdErrc::kLeaseNotFound);
  EXPECT_NE(got->error.find("campaign n: etcd " + first.url() +
                            ": etcdserver: requested lease not found (gRPC code 2)"),
            std::string::npos)
      << got->error;
  EXPECT_EQ(second.connections, 0);
}

TEST(EtcdClientFake, RefusedAnd5xxFailOverToTheNextEndpoint) {
  asio::io_context io;
  const std::string refused = "http://127.0.0.1:" + std::to_string(free_port());
  FakeEtcd unavailable(io, {answer(503, "upstream gone", "Service Unavailable")});
  FakeEtcd good(io, {answer(200, R"({"header":{},"ID":"42","TTL":"2"})")});
  EtcdClient client(io, {{refused, unavailable.url(), good.url()}, {}, 500ms});
  std::optional<Result<Lease>> got;
  client.grant_lease(2s, [&](Result<Lease> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  ASSERT_TRUE(got->ok()) << got->error;
  EXPECT_EQ(unavailable.connections, 1);
  EXPECT_EQ(client.endpoint(), good.url());  // later calls start there
}

TEST(EtcdClientFake, SilentEndpointsTimeOutAndTheErrorListsEach) {
  asio::io_context io;
  FakeEtcd silent1(io, {}, /*hold=*/true);
  FakeEtcd silent2(io, {}, /*hold=*/true);
  EtcdClient client(io, {{silent1.url(), silent2.url()}, {}, 200ms});
  std::optional<Result<std::int64_t>> got;
  const auto t0 = std::chrono::steady_clock::now();
  client.keep_alive(7, [&](Result<std::int64_t> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(got->code, EtcdErrc::kUnavailable);
  EXPECT_NE(got->error.find(silent1.url() + ": receive timed out after 200 ms"), std::string::npos)
      << got->error;
  EXPECT_NE(got->error.find(silent2.url() + ": receive timed out after 200 ms"), std::string::npos)
      << got->error;
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 1500ms);
  run_until(
      io, [&] { return silent1.closed_by_client + silent2.closed_by_client == 2; }, 1s);
  EXPECT_EQ(silent1.closed_by_client + silent2.closed_by_client, 2);
}

TEST(EtcdClientFake, KeepaliveReadsTheFirstStreamMessage) {
  asio::io_context io;
  FakeEtcd fake(io, {kChunkedHead +
                     chunk(R"({"result":{"header":{},"ID":"7","TTL":"2"}})"
                           "\n") +
                     chunk("")});
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::optional<Result<std::int64_t>> got;
  client.keep_alive(7, [&](Result<std::int64_t> r) { got = r; });
  ASSERT_TRUE(wait_result(io, got));
  ASSERT_TRUE(got->ok()) << got->error;
  EXPECT_EQ(got->value, 2);
}

TEST(EtcdClientFake, ObserveReassemblesMessagesSplitAnywhereThenReportsTheError) {
  asio::io_context io;
  const std::string m1 =
      R"({"result":{"header":{},"kv":{"key":"bi8x","create_revision":"2","mod_revision":"2","value":"YQ==","lease":"1"}}})"
      "\n";
  const std::string m2 =
      R"({"result":{"header":{},"kv":{"key":"bi8y","create_revision":"5","mod_revision":"5","value":"Yg==","lease":"2"}}})"
      "\n";
  const std::string err =
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})"
      "\n";
  // The first message cut in two chunks, the second and the error in one.
  const std::string c1 = chunk(m1.substr(0, 30));
  const std::string c2 = chunk(m1.substr(30)) + chunk(m2 + err);
  // ...and the chunk framing itself cut mid-size.
  FakeEtcd fake(io, {kChunkedHead + c1.substr(0, 1), c1.substr(1), c2}, /*hold=*/true);
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::vector<Result<KeyValue>> got;
  client.observe("n", [&](Result<KeyValue> r) { got.push_back(r); });
  run_until(
      io, [&] { return got.size() >= 3; }, 3s);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].ok()) << got[0].error;
  EXPECT_EQ(got[0].value.key, "n/1");
  EXPECT_EQ(got[0].value.value, "a");
  EXPECT_EQ(got[0].value.create_revision, 2);
  ASSERT_TRUE(got[1].ok());
  EXPECT_EQ(got[1].value.value, "b");
  EXPECT_EQ(got[2].code, EtcdErrc::kUnavailable);
  EXPECT_NE(got[2].error.find("observe n: etcd " + fake.url() + ": etcdserver: no leader"),
            std::string::npos)
      << got[2].error;
}

TEST(EtcdClientFake, ObserveStreamEndIsAnError) {
  asio::io_context io;
  FakeEtcd fake(io, {kChunkedHead + chunk(""), ""});
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::vector<Result<KeyValue>> got;
  client.observe("n", [&](Result<KeyValue> r) { got.push_back(r); });
  run_until(
      io, [&] { return !got.empty(); }, 3s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, EtcdErrc::kUnavailable);
  EXPECT_NE(got[0].error.find("stream ended"), std::string::npos) << got[0].error;
}

TEST(EtcdClientFake, GarbageInAStreamIsABadResponse) {
  asio::io_context io;
  FakeEtcd fake(io, {kChunkedHead + chunk("{\"result\": nope}\n")}, true);
  EtcdClient client(io, {{fake.url()}, {}, 500ms});
  std::vector<Result<KeyValue>> got;
  client.observe("n", [&](Result<KeyValue> r) { got.push_back(r); });
  run_until(
      io, [&] { return !got.empty(); }, 3s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, EtcdErrc::kBadResponse);
  EXPECT_NE(got[0].error.find("not a JSON object: {\"result\": nope}"), std::string::npos)
      << got[0].error;
}

TEST(EtcdClientFake, CancelledCampaignClosesItsConnectionAndStaysSilent) {
  asio::io_context io;
  FakeEtcd fake(io, {}, /*hold=*/true);  // a campaign that waits
  EtcdClient client(io, {{fake.url()}, {}, 100ms});
  bool called = false;
  auto call = client.campaign("n", 7, "v", [&](Result<LeaderKey>) { called = true; });
  // Longer than the request timeout: a sent campaign waits without one.
  testing::run_for(io, 300ms);
  EXPECT_TRUE(call.active());
  EXPECT_EQ(fake.connections, 1);
  call.cancel();
  EXPECT_FALSE(call.active());
  run_until(
      io, [&] { return fake.closed_by_client == 1; }, 1s);
  EXPECT_EQ(fake.closed_by_client, 1);
  testing::run_for(io, 100ms);
  EXPECT_FALSE(called);
}

TEST(EtcdClientFake, DestroyingTheClientSilencesItsCalls) {
  asio::io_context io;
  FakeEtcd fake(io, {}, true);
  bool called = false;
  {
    EtcdClient client(io, {{fake.url()}, {}, 100ms});
    client.observe("n", [&](Result<KeyValue>) { called = true; });
    testing::run_for(io, 50ms);
  }
  testing::run_for(io, 300ms);
  EXPECT_FALSE(called);
  EXPECT_EQ(fake.closed_by_client, 1);
}

TEST(EtcdClientFake, BadOptionsThrow) {
  asio::io_context io;
  EXPECT_THROW(EtcdClient(io, EtcdOptions{}), std::invalid_argument);
  EXPECT_THROW(EtcdClient(io, {{"127.0.0.1:2379"}, {}, 500ms}), std::invalid_argument);
  EXPECT_THROW(EtcdClient(io, {{"https://127.0.0.1:2379"}, {}, 500ms}), std::invalid_argument);
  EXPECT_THROW(
      EtcdClient(io, {{"https://127.0.0.1:2379"}, EtcdTls{"/nonexistent/ca.pem", "", ""}, 500ms}),
      std::invalid_argument);
}

}  // namespace
}  // namespace tapflow::cluster
