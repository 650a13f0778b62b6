// Test namespaces: names unique to this test process, and a guard that
// removes the namespace (and every device in it) however the test ends.
#pragma once

#include <unistd.h>

#include <string>

#include "tapflow/netns/namespace.hpp"

namespace tapflow::netns::test_support {

inline std::string unique_name(const std::string& tag) {
  return "tfh1-" + std::to_string(::getpid()) + "-" + tag;
}

struct NamespaceGuard {
  explicit NamespaceGuard(std::string n) : name(std::move(n)) { NetNamespace::remove(name); }
  ~NamespaceGuard() {
    try {
      NetNamespace::remove(name);
    } catch (...) {
    }
  }
  NamespaceGuard(const NamespaceGuard&) = delete;
  NamespaceGuard& operator=(const NamespaceGuard&) = delete;
  std::string name;
};

}  // namespace tapflow::netns::test_support
