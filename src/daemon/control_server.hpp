// ControlServer: tapflowd's operator socket. A Unix stream socket on the
// daemon's event loop; each client sends one JSON request per line and gets
// one reply line per request, in order. It only moves lines: what a request
// means is the Handler's business (ControlService).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace tapflow::daemon {

struct ControlServerOptions {
  std::string path;               // the socket file; its directory is made if missing
  std::string group;              // chgrp to it where it exists ("" : leave it)
  unsigned mode = 0660;           // the socket file's permissions
  std::size_t max_line = 65536;   // longer request lines get an error and the client is closed
  std::size_t max_clients = 32;   // more connections get an error and are closed at once
  std::chrono::milliseconds idle_timeout{60000};  // per request read and reply write
};

class ControlServer {
 public:
  // Gets the request line (without the newline) and must call `reply` once,
  // now or later, on the event loop with the reply line (no newline either),
  // or drop it (the client is then closed). Calling it after the client
  // left is harmless.
  using Reply = std::function<void(std::string)>;
  using Handler = std::function<void(const std::string& line, Reply reply)>;

  ControlServer(boost::asio::io_context& io, ControlServerOptions options, Handler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Makes the directory, removes a stale socket file (one nobody accepts
  // on), binds, sets mode and group, listens. Throws std::runtime_error
  // naming the path: a live socket there (another tapflowd), no permission.
  void start();
  // Closes the listener and every client, removes the socket file (if it is
  // still the one we made). Also done by the destructor.
  void stop();
  std::size_t clients() const;

 private:
  struct State;
  class Session;
  static void accept(const std::shared_ptr<State>& state);

  // Shared with pending handlers, which may run after this object is gone.
  std::shared_ptr<State> state_;
};

}  // namespace tapflow::daemon
