// The etcd gateway's JSON as etcd 3.4 writes it (bodies copied from curl
// against a real etcd): base64 keys, int64s as strings, the two error shapes,
// and what each error means for failover.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tapflow/cluster/etcd_client.hpp"
#include "tapflow/cluster/mastership.hpp"

namespace tapflow::cluster {
namespace {

using nlohmann::json;
using namespace wire;

TEST(Base64, RoundTripsEveryLength) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("/tapflow/switch/0000000000000001"),
            "L3RhcGZsb3cvc3dpdGNoLzAwMDAwMDAwMDAwMDAwMDE=");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const auto text = all.substr(0, n);
    EXPECT_EQ(base64_decode(base64_encode(text)), text) << n;
  }
}

TEST(Base64, DecodesUnpaddedAndRejectsGarbage) {
  EXPECT_EQ(base64_decode("Zg"), "f");
  EXPECT_EQ(base64_decode("Zm8"), "fo");
  EXPECT_EQ(base64_decode("aW5zdC1h"), "inst-a");
  EXPECT_FALSE(base64_decode("Z"));  // a lone sextet
  EXPECT_FALSE(base64_decode("Zm9v!A=="));
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // data after padding
  EXPECT_FALSE(base64_decode("Zg==="));
}

TEST(Endpoint, ParsesSchemesHostsAndPorts) {
  auto e = parse_endpoint("http://127.0.0.1:2379");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "2379");
  e = parse_endpoint("https://etcd.example:12379/");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->host, "etcd.example");
  EXPECT_EQ(e->port, "12379");
  e = parse_endpoint("http://[::1]:2379");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  e = parse_endpoint("http://etcd");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, "2379");
  for (const char* bad : {"127.0.0.1:2379", "ftp://h:1", "http://", "http://h:0", "http://h:70000",
                          "http://h:12x", "http://::1:2379", "http://h:1/v3", "http://[::1"})
    EXPECT_FALSE(parse_endpoint(bad)) << bad;
}

TEST(Requests, EncodeInt64AsStringsAndBytesAsBase64) {
  EXPECT_EQ(json::parse(grant_request(std::chrono::seconds(2))), json({{"TTL", "2"}}));
  EXPECT_EQ(json::parse(lease_request(4111120471034522629)), json({{"ID", "4111120471034522629"}}));
  EXPECT_EQ(json::parse(campaign_request("/tapflow/switch/0000000000000001", 7, "inst-a")),
            json({{"name", "L3RhcGZsb3cvc3dpdGNoLzAwMDAwMDAwMDAwMDAwMDE="},
                  {"lease", "7"},
                  {"value", "aW5zdC1h"}}));
  EXPECT_EQ(json::parse(resign_request({"n", "n/7", 5, 7})),
            json({{"leader", {{"name", "bg=="}, {"key", "bi83"}, {"rev", "5"}, {"lease", "7"}}}}));
  EXPECT_EQ(json::parse(name_request("n")), json({{"name", "bg=="}}));
}

TEST(Int64Field, StringsNumbersAbsentAndGarbage) {
  const auto j =
      json::parse(R"({"a":"4111120471034522629","b":12,"c":"x","d":"","e":[1],"f":"-3"})");
  EXPECT_EQ(int64_field(j, "a"), 4111120471034522629);
  EXPECT_EQ(int64_field(j, "b"), 12);
  EXPECT_EQ(int64_field(j, "missing"), 0);  // proto3 omits zeros
  EXPECT_FALSE(int64_field(j, "c"));
  EXPECT_FALSE(int64_field(j, "d"));
  EXPECT_FALSE(int64_field(j, "e"));
  EXPECT_EQ(int64_field(j, "f"), -3);
}

TEST(Decode, Grant) {
  const auto r = decode_grant(json::parse(
      R"({"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709","revision":"1","raft_term":"2"},"ID":"4111120471034522629","TTL":"2"})"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.id, 4111120471034522629);
  EXPECT_EQ(r.value.ttl, 2);
  EXPECT_EQ(decode_grant(json::parse(R"({"ID":"1"})")).code, EtcdErrc::kBadResponse);
  EXPECT_EQ(decode_grant(json::parse(R"({"ID":"x","TTL":"2"})")).code, EtcdErrc::kBadResponse);
  EXPECT_EQ(decode_grant(json::parse(R"({"ID":"1","TTL":"2","error":"no"})")).code,
            EtcdErrc::kRejected);
  EXPECT_EQ(decode_grant(json::parse("[]")).code, EtcdErrc::kBadResponse);
}

TEST(Decode, KeepaliveResultAndGoneLease) {
  // A stream message's "result": TTL is absent (0) once the lease is gone.
  auto r = decode_keepalive(json::parse(R"({"header":{},"ID":"4111120471034522640","TTL":"5"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 5);
  r = decode_keepalive(json::parse(R"({"header":{},"ID":"12345"})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value, 0);
  EXPECT_EQ(decode_keepalive(json::parse(R"({"TTL":true})")).code, EtcdErrc::kBadResponse);
}

TEST(Decode, CampaignLeader) {
  const auto r = decode_campaign(json::parse(
      R"({"header":{"revision":"2"},"leader":{"name":"L3RhcGZsb3cvc3dpdGNoLzAwMDAwMDAwMDAwMDAwMDE=","key":"L3RhcGZsb3cvc3dpdGNoLzAwMDAwMDAwMDAwMDAwMDEvMzkwZGEyNDk2OGQ5NmMwYg==","rev":"2","lease":"4111120471034522635"}})"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.name, "/tapflow/switch/0000000000000001");
  EXPECT_EQ(r.value.key, "/tapflow/switch/0000000000000001/390da24968d96c0b");
  EXPECT_EQ(r.value.rev, 2);
  EXPECT_EQ(r.value.lease, 4111120471034522635);
  EXPECT_EQ(decode_campaign(json::parse(R"({"header":{}})")).code, EtcdErrc::kBadResponse);
  EXPECT_EQ(decode_campaign(json::parse(R"({"leader":{"key":"%%%","rev":"2"}})")).code,
            EtcdErrc::kBadResponse);
  EXPECT_EQ(decode_campaign(json::parse(R"({"leader":{"key":"eA==","rev":"0"}})")).code,
            EtcdErrc::kBadResponse);
}

TEST(Decode, LeaderKv) {
  const auto r = decode_leader(json::parse(
      R"({"header":{},"kv":{"key":"L3RhcGZsb3cvc3dpdGNoLzAwMDAwMDAwMDAwMDAwMDEvMzkwZGEyNDk2OGQ5NmMwYg==","create_revision":"2","mod_revision":"3","version":"1","value":"aW5zdC1h","lease":"4111120471034522635"}})"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value.value, "inst-a");
  EXPECT_EQ(r.value.create_revision, 2);
  EXPECT_EQ(r.value.mod_revision, 3);
  EXPECT_EQ(r.value.lease, 4111120471034522635);
  EXPECT_EQ(decode_leader(json::parse(R"({"header":{}})")).code, EtcdErrc::kNoLeader);
  EXPECT_EQ(decode_leader(json::parse(R"({"kv":"x"})")).code, EtcdErrc::kBadResponse);
  EXPECT_EQ(decode_leader(json::parse(R"({"kv":{"key":"eA==","create_revision":[]}})")).code,
            EtcdErrc::kBadResponse);
}

TEST(Classify, SuccessAndEtcdsErrorShapes) {
  const json ok = json::parse(R"({"header":{}})");
  EXPECT_EQ(classify(200, &ok).code, EtcdErrc::kOk);

  // Unary errors: {"error","message","code"} with an HTTP status.
  const json lease = json::parse(
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":2})");
  auto e = classify(500, &lease);
  EXPECT_EQ(e.code, EtcdErrc::kLeaseNotFound);
  EXPECT_FALSE(e.failover);
  EXPECT_NE(e.message.find("requested lease not found"), std::string::npos);
  e = classify(404, &lease);  // revoke says 404 / code 5
  EXPECT_EQ(e.code, EtcdErrc::kLeaseNotFound);

  const json no_leader =
      json::parse(R"({"error":"election: no leader","message":"election: no leader","code":2})");
  e = classify(500, &no_leader);
  EXPECT_EQ(e.code, EtcdErrc::kNoLeader);
  EXPECT_FALSE(e.failover);

  const json bad = json::parse(R"({"error":"unexpected EOF","message":"unexpected EOF","code":3})");
  e = classify(400, &bad);
  EXPECT_EQ(e.code, EtcdErrc::kRejected);
  EXPECT_FALSE(e.failover);
  EXPECT_NE(e.message.find("gRPC code 3"), std::string::npos);

  // A member that cannot serve: fail over.
  for (const char* text :
       {"etcdserver: no leader", "etcdserver: request timed out", "etcdserver: leader changed"}) {
    const json j = {{"error", text}, {"message", text}, {"code", 14}};
    e = classify(503, &j);
    EXPECT_EQ(e.code, EtcdErrc::kUnavailable) << text;
    EXPECT_TRUE(e.failover) << text;
  }
  e = classify(502, nullptr);  // not even JSON
  EXPECT_EQ(e.code, EtcdErrc::kUnavailable);
  EXPECT_TRUE(e.failover);
  EXPECT_EQ(e.message, "HTTP 502");
  e = classify(404, nullptr);  // "Not Found": not an etcd v3 gateway
  EXPECT_EQ(e.code, EtcdErrc::kRejected);
  EXPECT_FALSE(e.failover);

  // Streams report errors in a 200 answer: {"error":{"grpc_code","http_code","message"}}.
  const json stream = json::parse(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}})");
  e = classify(200, &stream);
  EXPECT_EQ(e.code, EtcdErrc::kUnavailable);
  EXPECT_TRUE(e.failover);
  const json stream_lease = json::parse(
      R"({"error":{"grpc_code":5,"http_code":404,"message":"etcdserver: requested lease not found"}})");
  EXPECT_EQ(classify(200, &stream_lease).code, EtcdErrc::kLeaseNotFound);
}

TEST(ElectionName, PrefixSwitchAndSixteenHexDigits) {
  EXPECT_EQ(election_name("/tapflow/", 1), "/tapflow/switch/0000000000000001");
  EXPECT_EQ(election_name("/x/", 0xfedcba9876543210), "/x/switch/fedcba9876543210");
}

}  // namespace
}  // namespace tapflow::cluster
