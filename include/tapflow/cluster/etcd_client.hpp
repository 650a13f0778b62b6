// EtcdClient: an asynchronous etcd v3 client (leases and elections) over
// etcd's JSON gateway (/v3/...), HTTP/1.1 on plain TCP or TLS, with failover.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tapflow::cluster {

struct EtcdTls {
  std::string ca_file, cert_file, key_file;  // cert/key optional (client auth)
};

struct EtcdOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://h:2379"
  std::optional<EtcdTls> tls;
  std::chrono::milliseconds request_timeout{500};  // unary calls; campaign/observe have none
};

struct KeyValue {
  std::string key, value;
  std::int64_t create_revision = 0, mod_revision = 0, lease = 0;
};

struct LeaderKey {
  std::string name, key;
  std::int64_t rev = 0, lease = 0;
};

struct Lease {
  std::int64_t id = 0;
  std::int64_t ttl = 0;  // seconds, as granted (etcd may raise it to its minimum)
};

// Why a call failed. kUnavailable: no endpoint answered in time (connect
// errors, timeouts, 5xx that mean "ask another member"): worth retrying.
enum class EtcdErrc {
  kOk,
  kUnavailable,
  kLeaseNotFound,  // the lease expired or was revoked
  kNoLeader,       // the election has no leader (leader())
  kBadResponse,    // not the JSON we expect: a bug or not etcd
  kRejected,       // etcd refused the request (4xx, other gRPC errors)
};

// A call's outcome: ok() and `value`, or a code and a message naming the endpoint.
template <class T>
struct Result {
  EtcdErrc code = EtcdErrc::kOk;
  std::string error;
  T value{};
  bool ok() const { return code == EtcdErrc::kOk; }
};
struct Empty {};

template <class T>
using Callback = std::function<void(Result<T>)>;

namespace detail {
class Call;
}

// Cancels a call: its callback will not run after cancel(). Closing the
// connection of a waiting campaign makes etcd withdraw that candidacy.
class CallHandle {
 public:
  CallHandle() = default;
  explicit CallHandle(std::weak_ptr<detail::Call> call) : call_(std::move(call)) {}
  void cancel();
  bool active() const;  // not finished, not cancelled

 private:
  std::weak_ptr<detail::Call> call_;
};

// One client per io_context; all callbacks run on it (single-threaded).
// Each call uses the current endpoint and, on a connect error, timeout or a
// 5xx that means "this member cannot serve", fails over to the next endpoint
// (at most once round the list per call); the switch is logged.
// Destroying the client cancels every call (no callback runs afterwards).
class EtcdClient {
 public:
  // Throws std::invalid_argument for a malformed endpoint or an https
  // endpoint without `tls`, and for unreadable TLS files.
  EtcdClient(boost::asio::io_context& io, EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  CallHandle grant_lease(std::chrono::seconds ttl, Callback<Lease> cb);
  // The lease's remaining TTL in seconds; 0 means the lease is gone.
  // `timeout` per endpoint tried (0: request_timeout): a lease holder wants
  // to move on from a silent member sooner than other callers.
  CallHandle keep_alive(std::int64_t lease, Callback<std::int64_t> cb,
                        std::chrono::milliseconds timeout = {});
  CallHandle revoke(std::int64_t lease, Callback<Empty> cb);

  // Waits (no timeout) until this lease's key leads election `name`, then
  // answers the leader key. Idempotent for the same lease: a lease that leads
  // already is answered at once. Not retried on another endpoint once the
  // request is sent: the caller campaigns again.
  CallHandle campaign(const std::string& name, std::int64_t lease, const std::string& value,
                      Callback<LeaderKey> cb);
  CallHandle resign(const LeaderKey& leader, Callback<Empty> cb);
  // The leader's key and value; kNoLeader when there is none.
  CallHandle leader(const std::string& name, Callback<KeyValue> cb);
  // Streams the election's leader: now (if any) and every new one. `cb` runs
  // once per leader; an error (stream lost) ends the stream, after which the
  // caller observes again.
  CallHandle observe(const std::string& name, Callback<KeyValue> cb);

  // The endpoint new calls go to.
  const std::string& endpoint() const;
  const EtcdOptions& options() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The gateway's JSON, exposed for unit tests: keys and values are base64,
// int64 fields are decimal strings (numbers are accepted too).
namespace wire {

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// "http://host:port" or "https://[v6]:port" (port defaults to 2379).
struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
};
std::optional<Endpoint> parse_endpoint(std::string_view url);

std::string grant_request(std::chrono::seconds ttl);
std::string lease_request(std::int64_t lease);  // keepalive and revoke
std::string campaign_request(const std::string& name, std::int64_t lease, const std::string& value);
std::string resign_request(const LeaderKey& leader);
std::string name_request(const std::string& name);  // leader and observe

// What an answer means, for the HTTP status and body of a whole response (or
// one stream message with `status` 200). The typed decoders below give
// kBadResponse with a message saying what is wrong.
struct ErrorBody {
  EtcdErrc code = EtcdErrc::kOk;
  bool failover = false;  // another member may well answer
  std::string message;
};
// Classifies a response: 2xx without an "error" member is kOk.
ErrorBody classify(unsigned status, const nlohmann::json* body);

Result<Lease> decode_grant(const nlohmann::json& j);
Result<std::int64_t> decode_keepalive(const nlohmann::json& j);  // a stream message's "result"
Result<LeaderKey> decode_campaign(const nlohmann::json& j);
Result<KeyValue> decode_leader(const nlohmann::json& j);  // leader, and observe's "result"

// An int64 member as etcd's gateway writes it: a decimal string (or a
// number); absent means 0 (proto3 omits zero values). nullopt if malformed.
std::optional<std::int64_t> int64_field(const nlohmann::json& j, const char* name);

}  // namespace wire
}  // namespace tapflow::cluster
