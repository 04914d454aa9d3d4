// See progress.h.
#include "engine/ops/progress.h"

#include <fmt/format.h>

namespace ringpost::engine {
namespace {

std::string line(std::string_view what, uint64_t done, uint64_t total, double rate, double elapsed_s) {
  const double pct = total ? 100.0 * double(done) / double(total) : 100.0;
  return fmt::format("{:6.1f} s  {} {}/{} ({:.0f} %)  {:.0f}/s", elapsed_s, what, done, total, pct, rate);
}

double seconds(ProgressMeter::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::optional<std::string> ProgressMeter::tick(uint64_t done, Clock::time_point now, std::chrono::milliseconds every) {
  if (now - last_at_ < every) return std::nullopt;
  // The rate over this interval, not since the start: a stall shows at once as 0/s.
  const double rate = double(done - std::min(done, last_done_)) / seconds(now - last_at_);
  last_at_ = now;
  last_done_ = done;
  return line(what_, done, total_, rate, seconds(now - start_));
}

std::string ProgressMeter::finish(uint64_t done, Clock::time_point now) const {
  const double elapsed = seconds(now - start_);
  return line(what_, done, total_, elapsed > 0 ? double(done) / elapsed : 0.0, elapsed);
}

}  // namespace ringpost::engine
