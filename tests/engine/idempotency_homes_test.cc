#include "engine/http/idempotency_homes.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs sorted(Pairs v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(IdempotencyHomes, AnAnswerLivesInOneSegmentAtATime) {
  IdempotencyHomes homes;
  homes.note("a", "k1", 3);
  homes.note("a", "k2", 3);
  homes.note("b", "k1", 4);  // same key, other owner: another answer
  EXPECT_EQ(sorted(homes.homed_in(3)), (Pairs{{"a", "k1"}, {"a", "k2"}}));
  EXPECT_EQ(homes.homed_in(4), (Pairs{{"b", "k1"}}));
  // Carried forward: it leaves segment 3.
  homes.note("a", "k1", 9);
  EXPECT_EQ(homes.homed_in(3), (Pairs{{"a", "k2"}}));
  EXPECT_EQ(homes.homed_in(9), (Pairs{{"a", "k1"}}));
  EXPECT_EQ(homes.size(), 3u);
}

TEST(IdempotencyHomes, ForgettingASegmentDropsOnlyWhatIsStillHomedThere) {
  IdempotencyHomes homes;
  homes.note("a", "old", 1);
  homes.note("a", "moved", 1);
  homes.note("a", "moved", 2);
  homes.forget_segment(1);
  EXPECT_TRUE(homes.homed_in(1).empty());
  EXPECT_EQ(homes.homed_in(2), (Pairs{{"a", "moved"}}));
  EXPECT_EQ(homes.size(), 1u);
  homes.note("a", "old", 5);  // a forgotten slot can come back
  EXPECT_EQ(homes.homed_in(5), (Pairs{{"a", "old"}}));
}

}  // namespace
}  // namespace ringpost::engine
