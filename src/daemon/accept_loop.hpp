// accept_loop: keeps a listener accepting; a failed accept is logged and retried.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/system/error_code.hpp>
#include <chrono>
#include <memory>
#include <utility>

namespace tapflow::daemon {

// Accepts on state->acceptor until state->stopped, handing each socket to
// on_socket. A failed accept (out of descriptors, say) must not end the
// listener: it is logged and tried again after 500 ms (state->retry, a
// steady_timer). State outlives the handlers through the shared_ptr.
template <typename State, typename OnSocket>
void accept_loop(const std::shared_ptr<State>& state, const char* what, OnSocket on_socket) {
  state->acceptor.async_accept(
      [state, what, on_socket = std::move(on_socket)](const boost::system::error_code& ec,
                                                      auto socket) mutable {
        if (state->stopped) return;
        if (ec) {
          spdlog::warn("{}: accept failed: {}", what, ec.message());
          state->retry.expires_after(std::chrono::milliseconds(500));
          state->retry.async_wait([state, what, on_socket = std::move(on_socket)](
                                      const boost::system::error_code& wec) mutable {
            if (!wec && !state->stopped) accept_loop(state, what, std::move(on_socket));
          });
          return;
        }
        on_socket(std::move(socket));
        accept_loop(state, what, std::move(on_socket));
      });
}

}  // namespace tapflow::daemon
