// The fd store as TapBridge sees it: keep a descriptor under a key so it
// outlives this process, forget it, and take back all kept ones at start.
#pragma once

#include <string>
#include <vector>

#include "tapflow/netns/unique_fd.hpp"

namespace tapflow::fdstore {

// One descriptor the store kept, handed back (a dup: the store keeps its own).
struct StoredFd {
  std::string key;
  netns::UniqueFd fd;
};

// An abstract store, so tapd's tests can pass a fake (or none at all).
class FdStore {
 public:
  virtual ~FdStore() = default;
  // Keeps a dup of `fd` under `key`, replacing (and closing) an older one.
  // false if the store is unreachable (logged).
  virtual bool put(const std::string& key, int fd) = 0;
  // Forgets `key`, closing the store's descriptor. false if unreachable.
  virtual bool del(const std::string& key) = 0;
  // Every kept descriptor (dups; the store keeps its own).
  virtual std::vector<StoredFd> list() = 0;
  // Still connected: what it keeps survives this process.
  virtual bool connected() const = 0;
};

}  // namespace tapflow::fdstore
