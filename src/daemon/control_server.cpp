// The control socket's transport: a Unix stream listener and line-based
// sessions on the daemon's event loop (control_server.hpp).
#include "control_server.hpp"

#include "accept_loop.hpp"

#include <fcntl.h>
#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::daemon {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

std::string error_line(const std::string& what) { return nlohmann::json{{"error", what}}.dump(); }

// Whether a process accepts connections on the socket file at `path`: a
// non-blocking connect succeeds or finds the backlog full. ECONNREFUSED: a
// socket file nobody listens on any more (a tapflowd that was killed).
bool socket_is_live(const std::string& path) {
  netns::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof addr.sun_path - 1));
  const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

std::optional<gid_t> group_id(const std::string& name) {
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

}  // namespace

struct ControlServer::State {
  State(asio::io_context& io, ControlServerOptions o, Handler h)
      : options(std::move(o)), handler(std::move(h)), acceptor(io), retry(io) {}

  ControlServerOptions options;
  Handler handler;
  local::acceptor acceptor;
  asio::steady_timer retry;     // after an accept error (EMFILE): later, not in a tight loop
  std::set<Session*> sessions;  // live sessions, so stop() can close them (not owned)
  bool stopped = false;
  bool bound = false;
  dev_t dev = 0;  // the socket file we made, so stop() removes no one else's
  ino_t ino = 0;
};

// One client: read a line, hand it to the handler, write its reply, repeat.
// One request at a time per client; the next line waits in the buffer.
class ControlServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<State> state, local::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        buffer_(state_->options.max_line + 1),
        timer_(socket_.get_executor()) {
    state_->sessions.insert(this);
  }
  ~Session() { state_->sessions.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() { read(); }
  // Tells the client why and closes (too many clients).
  void refuse(const std::string& why) {
    closing_ = true;
    write(error_line(why));
  }
  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(local::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void arm_timer() {
    timer_.expires_after(state_->options.idle_timeout);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }

  void read() {
    if (state_->stopped) return close();
    arm_timer();
    asio::async_read_until(socket_, buffer_, '\n',
                           [self = shared_from_this()](const boost::system::error_code& ec,
                                                       std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    timer_.cancel();
    if (state_->stopped) return close();
    if (ec == asio::error::not_found) {
      // The buffer filled up without a newline.
      closing_ = true;
      return write(error_line("request line longer than " +
                              std::to_string(state_->options.max_line) + " bytes"));
    }
    if (ec == asio::error::eof && buffer_.size() > 0) {
      // Half-closed after a last line without its newline: answer it, then close.
      closing_ = true;
      n = buffer_.size();
    } else if (ec) {
      return close();  // EOF, reset, timeout
    }
    std::string line(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n);
    buffer_.consume(n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      return closing_ ? close() : read();  // blank lines are no requests
    }
    awaiting_ = true;
    // Holds the session until the handler answers (show flows answers once
    // the switch has): nothing else does while no read or write is pending.
    auto reply = [self = shared_from_this()](std::string r) { self->on_reply(std::move(r)); };
    try {
      if (!state_->handler) return on_reply(error_line("tapflowd is stopping"));
      state_->handler(line, reply);
    } catch (const std::exception& e) {
      spdlog::error("control: request failed: {}", e.what());
      on_reply(error_line(std::string("internal error: ") + e.what()));
    }
  }

  void on_reply(std::string r) {
    if (!awaiting_) return;  // answered already
    awaiting_ = false;
    write(std::move(r));
  }

  void write(std::string r) {
    if (state_->stopped) return close();
    out_ = std::move(r);
    out_ += '\n';
    arm_timer();
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->timer_.cancel();
                        if (ec || self->closing_) return self->close();
                        self->out_.clear();
                        self->out_.shrink_to_fit();  // a big reply is not kept while idle
                        self->read();
                      });
  }

  std::shared_ptr<State> state_;
  local::socket socket_;
  asio::streambuf buffer_;
  asio::steady_timer timer_;
  std::string out_;
  bool awaiting_ = false;  // the handler has the request
  bool closing_ = false;   // close once the reply is written
};

ControlServer::ControlServer(asio::io_context& io, ControlServerOptions options, Handler handler)
    : state_(std::make_shared<State>(io, std::move(options), std::move(handler))) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::start() {
  auto& st = *state_;
  const std::string& path = st.options.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("control: socket path '" + path + "' is empty or too long");
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code fec;
  if (!dir.empty() && !std::filesystem::exists(dir, fec)) {
    std::filesystem::create_directories(dir, fec);
    if (fec) throw std::runtime_error("control: cannot make " + dir.string() + ": " + fec.message());
    ::chmod(dir.c_str(), 0755);  // tapflowctl's users must reach the socket in it
  }
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) == 0) {
    if (!S_ISSOCK(sb.st_mode)) {
      throw std::runtime_error("control: " + path + " exists and is not a socket");
    }
    if (socket_is_live(path)) {
      throw std::runtime_error("control: " + path + " is in use (another tapflowd?)");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      throw std::runtime_error("control: cannot remove the stale socket " + path + ": " +
                               std::strerror(errno));
    }
    spdlog::info("control: removed a stale socket at {}", path);
  }
  boost::system::error_code ec;
  st.acceptor.open(local(), ec);
  if (!ec) st.acceptor.bind(local::endpoint(path), ec);
  if (ec) {
    boost::system::error_code ignored;
    st.acceptor.close(ignored);
    throw std::runtime_error("control: cannot bind " + path + ": " + ec.message());
  }
  st.bound = true;
  if (::stat(path.c_str(), &sb) == 0) {
    st.dev = sb.st_dev;
    st.ino = sb.st_ino;
  }
  // Before listen(): nobody connects while the mode is still the umask's.
  if (::chmod(path.c_str(), st.options.mode) != 0) {
    spdlog::warn("control: chmod {:o} {}: {}", st.options.mode, path, std::strerror(errno));
  }
  if (!st.options.group.empty()) {
    if (auto gid = group_id(st.options.group)) {
      if (::chown(path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
        spdlog::warn("control: chgrp {} {}: {}", st.options.group, path, std::strerror(errno));
      }
    } else {
      spdlog::info("control: no group '{}' on this system: {} is for its owner only (add the "
                   "group and restart to let its members use tapflowctl)",
                   st.options.group, path);
    }
  }
  st.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    stop();
    throw std::runtime_error("control: cannot listen on " + path + ": " + ec.message());
  }
  spdlog::info("control: tapflowctl socket at {}", path);
  accept(state_);
}

void ControlServer::accept(const std::shared_ptr<State>& state) {
  accept_loop(state, "control", [state](local::socket socket) {
    auto session = std::make_shared<Session>(state, std::move(socket));
    if (state->sessions.size() > state->options.max_clients) {
      session->refuse("too many clients (" + std::to_string(state->options.max_clients) + ")");
    } else {
      session->start();
    }
  });
}

void ControlServer::stop() {
  auto& st = *state_;
  if (st.stopped) return;
  st.stopped = true;
  boost::system::error_code ignored;
  st.acceptor.close(ignored);
  st.retry.cancel();
  for (Session* s : st.sessions) s->close();
  // What the handler refers to may be destroyed right after stop().
  st.handler = nullptr;
  struct stat sb {};
  if (st.bound && ::stat(st.options.path.c_str(), &sb) == 0 && sb.st_dev == st.dev &&
      sb.st_ino == st.ino) {
    ::unlink(st.options.path.c_str());
  }
}

std::size_t ControlServer::clients() const { return state_->sessions.size(); }

}  // namespace tapflow::daemon
