// FdStoreServer: the tapflow-fdstore holder. Keeps descriptors under keys for
// clients of the same user, and closes them all (then returns) once no
// client has been connected for `linger`, or when asked to stop.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::fdstore {

struct ServerConfig {
  std::string name = "tapflow-fdstore";  // abstract name, or a path if it starts with '/'
  std::chrono::milliseconds linger{std::chrono::seconds(60)};
  std::size_t max_entries = 65536;
  std::size_t max_clients = 64;
  // A client that does not take its LIST answers within this is dropped.
  std::chrono::milliseconds send_timeout{std::chrono::seconds(5)};
};

class FdStoreServer {
 public:
  // Binds and listens; throws std::system_error (EADDRINUSE: a store already
  // listens there). Raises RLIMIT_NOFILE as far as the hard limit allows.
  explicit FdStoreServer(ServerConfig config);
  FdStoreServer(const FdStoreServer&) = delete;
  FdStoreServer& operator=(const FdStoreServer&) = delete;
  ~FdStoreServer();

  // Serves until the linger time passes with no client, or `stop_fd` (an
  // eventfd or signalfd; -1: none) becomes readable. Closes every stored
  // descriptor before it returns.
  void run(int stop_fd = -1);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Client {
    netns::UniqueFd sock;
    pid_t pid = 0;
  };
  // false when out of descriptors (accepting pauses briefly).
  bool accept_clients();
  // false: drop the client (it closed, or sent something malformed).
  bool serve(Client& c);
  bool answer_list(Client& c);

  ServerConfig config_;
  netns::UniqueFd listen_;
  std::string unlink_path_;  // a filesystem socket to remove at exit
  std::vector<Client> clients_;
  std::map<std::string, netns::UniqueFd> entries_;
};

}  // namespace tapflow::fdstore
