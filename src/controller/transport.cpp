#include "tapflow/controller/transport.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdexcept>

namespace tapflow::controller {
namespace {

// TCP_RTO_MAX_MS (Linux 6.15; Debian 12's headers predate it): caps the
// retransmission backoff. A switch connection that went half-open for a few
// seconds (a flapping management link) otherwise resumes only at the next
// doubled timeout, 3.0 then 6.2 s after the loss, and the routing-protocol
// frames queued behind it (OSPF hellos, BGP keepalives as PACKET_OUTs) miss
// their neighbours' dead intervals. Capped at 1 s (the least Linux allows)
// they are delivered within a second of the path's return. Older kernels
// refuse the option, and keep their backoff.
constexpr int kTcpRtoMaxMs = 44;
constexpr int kRtoMaxMs = 1000;

void cap_retransmit_backoff(int fd) {
  const int value = kRtoMaxMs;
  (void)::setsockopt(fd, IPPROTO_TCP, kTcpRtoMaxMs, &value, sizeof value);
}

std::string endpoint_text(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(tcp::socket s) : socket_(std::move(s)), peer_(endpoint_text(socket_)) {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    cap_retransmit_backoff(socket_.native_handle());
  }
  void async_start(std::function<void(const error_code&)> done) override {
    asio::post(socket_.get_executor(), [done = std::move(done)] { done({}); });
  }
  void async_read_some(asio::mutable_buffer buf, Handler h) override {
    socket_.async_read_some(buf, std::move(h));
  }
  void async_write(asio::const_buffer buf, Handler h) override {
    asio::async_write(socket_, buf, std::move(h));
  }
  void close() override {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  std::string peer() const override { return peer_; }
  bool is_tls() const override { return false; }

 private:
  tcp::socket socket_;
  std::string peer_;
};

class TlsTransport final : public Transport {
 public:
  TlsTransport(tcp::socket s, std::shared_ptr<asio::ssl::context> ctx)
      : ctx_(std::move(ctx)), peer_(endpoint_text(s)), stream_(std::move(s), *ctx_) {
    error_code ec;
    stream_.lowest_layer().set_option(tcp::no_delay(true), ec);
    cap_retransmit_backoff(stream_.lowest_layer().native_handle());
  }
  void async_start(std::function<void(const error_code&)> done) override {
    stream_.async_handshake(asio::ssl::stream_base::server, std::move(done));
  }
  void async_read_some(asio::mutable_buffer buf, Handler h) override {
    stream_.async_read_some(buf, std::move(h));
  }
  void async_write(asio::const_buffer buf, Handler h) override {
    asio::async_write(stream_, buf, std::move(h));
  }
  void close() override {
    // No TLS close_notify round trip: the peer may be gone or hostile.
    error_code ec;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_.lowest_layer().close(ec);
  }
  std::string peer() const override { return peer_; }
  bool is_tls() const override { return true; }

 private:
  std::shared_ptr<asio::ssl::context> ctx_;
  std::string peer_;
  asio::ssl::stream<tcp::socket> stream_;
};

}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls_context(const TlsFiles& f) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  auto load = [](const std::string& what, const std::string& file, auto&& fn) {
    error_code ec;
    fn(ec);
    if (ec) throw std::runtime_error("TLS " + what + " '" + file + "': " + ec.message());
  };
  load("certificate", f.cert_file,
       [&](error_code& ec) { ctx->use_certificate_chain_file(f.cert_file, ec); });
  load("private key", f.key_file,
       [&](error_code& ec) { ctx->use_private_key_file(f.key_file, asio::ssl::context::pem, ec); });
  if (!f.ca_file.empty()) {
    load("CA file", f.ca_file, [&](error_code& ec) { ctx->load_verify_file(f.ca_file, ec); });
  }
  if (f.require_client_cert) {
    if (f.ca_file.empty()) throw std::runtime_error("TLS: client certificates required but no CA file");
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}

std::unique_ptr<Transport> make_tcp_transport(tcp::socket socket) {
  return std::make_unique<TcpTransport>(std::move(socket));
}

std::unique_ptr<Transport> make_tls_transport(tcp::socket socket,
                                              std::shared_ptr<asio::ssl::context> ctx) {
  return std::make_unique<TlsTransport>(std::move(socket), std::move(ctx));
}

}  // namespace tapflow::controller
