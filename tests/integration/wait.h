// Bounded polling for integration tests: every wait has a deadline, nothing blocks forever.
#pragma once

#include <chrono>
#include <thread>

namespace ringpost::it {

// Calls pred() every `every` until it returns true or `timeout` passes; returns the last
// pred() result (evaluated once more at the deadline, so a late success still counts).
template <typename Pred>
bool wait_until(std::chrono::milliseconds timeout, std::chrono::milliseconds every, Pred&& pred) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(every);
  }
}

}  // namespace ringpost::it
