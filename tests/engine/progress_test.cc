// ProgressMeter: a line at most once per interval, the rate over that interval, and a closing
// line with the average, all from times passed in (no sleeping).
#include "engine/ops/progress.h"

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

using namespace std::chrono_literals;

TEST(ProgressMeter, OneLinePerSecondWithTheIntervalsRate) {
  const auto t0 = ProgressMeter::Clock::time_point{} + 100s;
  ProgressMeter m("delivered", 1000, t0);
  EXPECT_FALSE(m.tick(10, t0 + 500ms));
  auto first = m.tick(200, t0 + 1s);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "   1.0 s  delivered 200/1000 (20 %)  200/s");
  EXPECT_FALSE(m.tick(300, t0 + 1900ms));  // not a second since the last line
  auto second = m.tick(700, t0 + 3s);      // 500 more over 2 s
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, "   3.0 s  delivered 700/1000 (70 %)  250/s");
  auto stalled = m.tick(700, t0 + 4s);
  ASSERT_TRUE(stalled);
  EXPECT_NE(stalled->find(" 0/s"), std::string::npos) << *stalled;
}

TEST(ProgressMeter, FinishAveragesOverTheWholeRun) {
  const auto t0 = ProgressMeter::Clock::time_point{} + 5s;
  ProgressMeter m("submitted", 400, t0);
  EXPECT_EQ(m.finish(400, t0 + 2s), "   2.0 s  submitted 400/400 (100 %)  200/s");
  EXPECT_EQ(m.finish(0, t0), "   0.0 s  submitted 0/400 (0 %)  0/s");
}

}  // namespace
}  // namespace ringpost::engine
