// FdStoreClient: tapflowd's connection to the tapflow-fdstore holder process,
// and connect_or_spawn(), which starts the holder when nobody listens.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tapflow/fdstore/fd_store.hpp"
#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::fdstore {

// The real store over its Unix socket. Requests block for at most `timeout`
// (the store is local and answers at once); a failed send marks the client
// disconnected, logged once, and later calls return false.
class FdStoreClient final : public FdStore {
 public:
  // nullptr when nobody listens at `name` (ECONNREFUSED, ENOENT); throws
  // std::system_error for other failures.
  static std::unique_ptr<FdStoreClient> connect(
      const std::string& name, std::chrono::milliseconds timeout = std::chrono::seconds(2));

  bool put(const std::string& key, int fd) override;
  bool del(const std::string& key) override;
  std::vector<StoredFd> list() override;
  bool connected() const override { return static_cast<bool>(sock_); }

  const std::string& name() const { return name_; }
  // The store's process (SO_PEERCRED of the connection).
  pid_t peer_pid() const { return peer_pid_; }

 private:
  FdStoreClient(std::string name, netns::UniqueFd sock, pid_t peer);
  bool send(const std::string& bytes, int fd, const char* what);
  void lost(const std::string& why);

  std::string name_;
  netns::UniqueFd sock_;
  pid_t peer_pid_ = 0;
};

// Where tapflowd finds or starts its store.
struct StoreOptions {
  std::string name = "tapflow-fdstore";  // abstract name, or a path if it starts with '/'
  bool spawn = true;                     // start the program when nobody listens
  std::string program;                   // default: tapflow-fdstore next to /proc/self/exe
  std::chrono::seconds linger{60};       // the store's --linger
  std::string log_file;                  // the store's output; default /dev/null
  std::chrono::milliseconds wait{2000};  // for a spawned store to listen
};

// Connects to the store, spawning it (detached: own session, no inherited
// descriptors) if nobody listens and `spawn` is set. Logs exactly one line
// "fd store: pid <PID> at <name>" on success; a warning and nullptr on
// failure (never throws: tapflowd runs without a store then).
std::unique_ptr<FdStoreClient> connect_or_spawn(const StoreOptions& options);

// The default program path: "tapflow-fdstore" in the directory of /proc/self/exe.
std::string default_program();

}  // namespace tapflow::fdstore
