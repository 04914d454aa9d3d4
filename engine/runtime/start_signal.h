// How a thread's setup (its ring, its resolver, the spool it opens) reports to the thread that
// started it: setup errors are thrown or returned inside the new thread, where an uncaught
// exception would call std::terminate (an abort with no reason anyone can act on). The starter
// waits for ok() or failed(reason) and can return the reason up to main, which prints it and
// exits non-zero (issue 20). Set once; waited on once.
#pragma once

#include <future>
#include <string>

#include <tl/expected.hpp>

namespace ringpost::engine {

class StartSignal {
 public:
  void ok() { promise_.set_value({}); }
  void failed(std::string why) { promise_.set_value(tl::make_unexpected(std::move(why))); }
  // Blocks until ok() or failed().
  tl::expected<void, std::string> wait() { return future_.get(); }

 private:
  std::promise<tl::expected<void, std::string>> promise_;
  std::future<tl::expected<void, std::string>> future_ = promise_.get_future();
};

}  // namespace ringpost::engine
