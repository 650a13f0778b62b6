// Connection: one switch. Framing, version negotiation, the FEATURES /
// PORT_DESC / (capability probes) / SET_CONFIG handshake, echo keepalive,
// xid-matched requests with multipart reassembly and timeouts, and a bounded,
// batching write queue.
// Applications use it through its public methods (the Datapath alias).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tapflow/controller/transport.hpp"
#include "tapflow/openflow/codec.hpp"
#include "tapflow/openflow/framer.hpp"
#include "tapflow/openflow/messages.hpp"
#include "tapflow/pipeline/profile.hpp"

namespace tapflow::controller {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ConnectionOptions {
  // Versions we accept, in wire numbers (1.0 = 0x01, 1.3 = 0x04).
  std::vector<std::uint8_t> versions{openflow::kVersion10, openflow::kVersion13};
  milliseconds echo_interval{5000};  // idle this long: send ECHO_REQUEST
  unsigned echo_misses = 3;          // silent for interval * misses: disconnect
  milliseconds handshake_timeout{10000};
  milliseconds request_timeout{10000};
  // Queued bytes above which producers are told to slow down (congested()),
  // and the hard limit at which a peer that does not read is disconnected.
  std::size_t write_high_watermark = std::size_t{1} << 20;
  std::size_t write_limit = std::size_t{32} << 20;
  // OpenFlow 1.3: install a priority-0 table-miss flow in table 0 that sends
  // whole packets to the controller (1.0 switches do that by themselves).
  bool install_table_miss = true;
  // Ask the switch what it can do before configuring it: DESC, and
  // TABLE_FEATURES + GROUP_FEATURES (1.3) or TABLE stats (1.0), in parallel
  // (capabilities()). A part the switch refuses (ERROR) or does not answer
  // within request_timeout (at most half of what is left of the handshake) is
  // left unknown; it never fails the handshake.
  bool probe_capabilities = false;
  // Also GROUP_FEATURES; unset, groups count as unknown (assumed present,
  // errors tell).
  bool probe_group_features = false;
};

struct ConnectionCounters {
  std::uint64_t rx_messages = 0, tx_messages = 0;
  std::uint64_t rx_bytes = 0, tx_bytes = 0;
  std::uint64_t decode_errors = 0;
  std::uint64_t packet_ins = 0;
  std::uint64_t refused_not_master = 0;  // modifications refused: another controller is master
};

class Connection;

// Where a message waits in the write queue. Control messages (the routing
// protocols' frames as PACKET_OUTs, echo) go out before bulk messages queued
// earlier, at the next message boundary: a full-table install never delays a
// BGP keepalive or a BFD packet behind megabytes of FLOW_MODs. Only messages
// whose order against the bulk does not matter may be sent as control (a
// PACKET_OUT with explicit output ports; never a barrier or a bundle part).
enum class SendPriority : std::uint8_t { kNormal, kControl };

// What a Connection reports to its owner (the Controller).
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // Features are known: may this datapath connect? (allow-list)
  virtual bool admit(Connection& c) = 0;
  // Handshake complete: the datapath is ready for applications.
  virtual void on_connection_up(const std::shared_ptr<Connection>& c) = 0;
  // An asynchronous message from an up datapath: PACKET_IN, PORT_STATUS,
  // FLOW_REMOVED, ERROR without a pending request, EXPERIMENTER.
  virtual void on_connection_message(Connection& c, const openflow::Message& m) = 0;
  // The connection is gone (reported once).
  virtual void on_connection_closed(const std::shared_ptr<Connection>& c,
                                    const std::string& reason) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Replies = std::vector<openflow::Message>;
  using ReplyHandler = std::function<void(openflow::Result<Replies>)>;

  Connection(asio::io_context& io, std::unique_ptr<Transport> transport,
             const ConnectionOptions& options, ConnectionOwner& owner);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  void close(const std::string& reason);

  // ---- identity and state
  bool is_up() const { return state_ == State::kUp; }
  bool is_closed() const { return state_ == State::kClosed; }
  // True once the handshake completed (it stays true after closing).
  bool was_up() const { return reported_up_; }
  std::uint64_t datapath_id() const { return features_.datapath_id; }
  std::uint8_t version() const { return version_; }
  const openflow::FeaturesReply& features() const { return features_; }
  const std::vector<openflow::Port>& ports() const { return ports_; }
  const openflow::Port* port(std::uint32_t port_no) const;
  const std::string& peer() const { return peer_; }
  // "dpid=0000000000000001 peer=127.0.0.1:40000": the prefix of every log line.
  const std::string& log_name() const { return log_name_; }
  const ConnectionCounters& counters() const { return counters_; }
  // What the switch said about itself: version and n_tables always (from
  // FEATURES, once known); the rest only with probe_capabilities, and only
  // what the switch answered.
  const pipeline::Capabilities& capabilities() const { return caps_; }

  // ---- sending
  // Encodes and queues a message in the negotiated version (a message of
  // another version, or with xid 0, is sent as a copy with the version and a
  // fresh xid filled in; callers on hot paths set both and pay no copy).
  // Fails if the connection is closed or the message cannot be expressed in
  // this version.
  openflow::Status send(const openflow::Message& msg,
                        SendPriority priority = SendPriority::kNormal);
  openflow::Status send(openflow::MessageBody body) {
    return send(openflow::Message{version_, next_xid(), std::move(body)});
  }
  // Bytes queued and not yet written.
  // (The write in flight counts whole until it completes.)
  std::size_t queued_bytes() const {
    return pending_.size() - pending_head_ + urgent_.size() + inflight_.size();
  }
  // True above the high watermark: producers should wait for when_writable().
  bool congested() const { return queued_bytes() >= options_.write_high_watermark; }
  // Calls `fn` once the queue has drained below the watermark (at once if it
  // already is). Not called if the connection closes first.
  void when_writable(std::function<void()> fn);

  // Sends a request and calls `handler` with every reply carrying its xid: a
  // single reply, or all parts of a multipart reply. An ERROR with that xid,
  // a timeout or the connection closing completes it with an OfError.
  void request(openflow::Message msg, ReplyHandler handler,
               std::optional<milliseconds> timeout = std::nullopt);
  void request(openflow::MessageBody body, ReplyHandler handler,
               std::optional<milliseconds> timeout = std::nullopt) {
    request(openflow::Message{version_, 0, std::move(body)}, std::move(handler), timeout);
  }
  // Like request(), but each reply part goes to `on_part` as it arrives and is
  // not kept: a FLOW_STATS dump of a million flows is processed in constant
  // memory. `handler` then gets an empty Replies (or the error). Every part
  // that arrives pushes the deadline `timeout` further out, so a long dump
  // that keeps coming never times out.
  using PartHandler = std::function<void(const openflow::Message&)>;
  void request_streaming(openflow::Message msg, PartHandler on_part, ReplyHandler handler,
                         std::optional<milliseconds> timeout = std::nullopt);
  // BARRIER_REQUEST; `done` gets ok once every earlier message was processed.
  void barrier(std::function<void(openflow::Status)> done);

  std::uint32_t next_xid();

  // ---- roles (several controllers on one switch)
  // Whether this connection may send what changes the switch: FLOW_MOD,
  // GROUP_MOD, METER_MOD, PORT_MOD, TABLE_MOD, PACKET_OUT, SET_ASYNC and
  // bundles. True for a lone controller. With roles, the Controller keeps it
  // false unless this instance is the switch's master: send() then refuses
  // such messages (counted in refused_not_master), whoever asks.
  bool may_modify() const { return may_modify_; }
  void set_may_modify(bool may) { may_modify_ = may; }
  // Standing down: removes the modifications still waiting in the write
  // queue (not the write in flight), so nothing this connection queued as
  // master reaches the switch after it stood down. Returns how many.
  std::size_t drop_queued_modifications();
  // The priority-0 table-miss flow of ConnectionOptions::install_table_miss
  // (OpenFlow 1.3). Sent by the handshake; with roles, when the connection
  // becomes master.
  void install_table_miss();

 private:
  enum class State {
    kStarting, kHello, kFeatures, kPortDesc, kProbing, kConfiguring, kUp, kClosed
  };
  struct Pending {
    Clock::time_point deadline;
    ReplyHandler handler;
    Replies parts;
    PartHandler on_part;     // set: parts are streamed, not kept
    milliseconds timeout{};  // streaming: the deadline's distance from the last part
  };

  void read_more();
  void on_read(const error_code& ec, std::size_t n);
  void handle_frame(std::span<const std::uint8_t> bytes);
  void handle_message(openflow::Message& msg, std::span<const std::uint8_t> bytes);
  bool complete_request(openflow::Message& msg);
  void on_hello(const openflow::Message& msg);
  void on_features(const openflow::FeaturesReply& f);
  void probe();
  void probe_one(const char* what, openflow::MultipartRequestBody body, PartHandler on_part,
                 std::function<void()> commit, milliseconds timeout);
  void probe_finished();
  bool drop_stale_reply(const openflow::Message& msg);
  void configure();
  void become_up();
  void send_error(const openflow::OfError& e, std::span<const std::uint8_t> offending,
                  std::uint32_t xid);
  void flush();
  void on_written(const error_code& ec, std::size_t n);
  void tick();
  void schedule_tick();
  void fail_all_requests(const std::string& why);
  void set_log_name();

  asio::io_context& io_;
  std::unique_ptr<Transport> transport_;
  ConnectionOptions options_;
  ConnectionOwner& owner_;
  std::string peer_;
  std::string log_name_;

  State state_ = State::kStarting;
  std::uint8_t version_ = openflow::kVersion13;  // negotiated (until then: highest we speak)
  openflow::FeaturesReply features_;
  std::vector<openflow::Port> ports_;
  pipeline::Capabilities caps_;
  ConnectionCounters counters_;
  // Capability probes still unanswered (kProbing), and the xids of probes
  // given up on, whose late replies or errors are dropped.
  unsigned probes_left_ = 0;
  std::vector<std::uint32_t> stale_xids_;

  openflow::Framer framer_;
  std::array<std::uint8_t, 65536> read_buf_{};
  // The message being handled, reused frame after frame (decode_into) so
  // PACKET_INs reuse its buffers. Only valid during handle_frame: nothing may
  // keep a reference into it.
  openflow::Message rx_;

  // Encoded, waiting for the current write to finish: control messages in
  // urgent_, the rest in pending_ from pending_head_ on. A write takes all of
  // urgent_, else at most kWriteSlice bytes of whole messages of pending_,
  // so a control message waits for one slice at most.
  static constexpr std::size_t kWriteSlice = 64 * 1024;
  openflow::Bytes urgent_;
  openflow::Bytes pending_;
  std::size_t pending_head_ = 0;
  openflow::Bytes inflight_;  // being written
  bool writing_ = false;
  bool in_read_ = false;  // handling one read's messages: sends are flushed after it
  std::vector<std::function<void()>> writable_waiters_;

  std::unordered_map<std::uint32_t, Pending> requests_;
  std::uint32_t xid_ = 0;

  asio::steady_timer timer_;
  Clock::time_point started_;
  Clock::time_point last_rx_;
  Clock::time_point last_echo_sent_{};
  bool reported_up_ = false;
  bool may_modify_ = true;
  std::optional<std::string> close_after_write_;
};

// Applications see a switch through this interface.
using Datapath = Connection;

}  // namespace tapflow::controller
