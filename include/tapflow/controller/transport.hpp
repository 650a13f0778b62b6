// Transport: the byte stream to one switch, plain TCP or TLS over TCP.
#pragma once

// <utility> first: Boost 1.74 asio/awaitable.hpp uses std::exchange without it.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tapflow::controller {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

// Certificates for TLS listeners. The controller presents cert/key; switches
// must present a certificate signed by the CA (mutual authentication) unless
// require_client_cert is false.
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool require_client_cert = true;
};

// Builds a server-side TLS context; throws std::runtime_error naming the file
// that could not be loaded.
std::shared_ptr<asio::ssl::context> make_server_tls_context(const TlsFiles& files);

class Transport {
 public:
  using Handler = std::function<void(const error_code&, std::size_t)>;
  virtual ~Transport() = default;
  // TLS handshake (server side); completes at once for TCP.
  virtual void async_start(std::function<void(const error_code&)> done) = 0;
  virtual void async_read_some(asio::mutable_buffer buf, Handler h) = 0;
  virtual void async_write(asio::const_buffer buf, Handler h) = 0;
  virtual void close() = 0;
  virtual std::string peer() const = 0;  // "address:port"
  virtual bool is_tls() const = 0;
};

std::unique_ptr<Transport> make_tcp_transport(tcp::socket socket);
std::unique_ptr<Transport> make_tls_transport(tcp::socket socket,
                                              std::shared_ptr<asio::ssl::context> ctx);

}  // namespace tapflow::controller
