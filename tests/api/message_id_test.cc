#include "engine/api/message_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>
#include <thread>

namespace ringpost::api {
namespace {

constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int64_t decode_time(std::string_view id) {
  int64_t t = 0;
  for (const char c : id.substr(0, 10)) t = t * 32 + static_cast<int64_t>(kCrockford.find(c));
  return t;
}

TEST(MessageId, ShapeAndAlphabet) {
  const std::string id = new_message_id();
  ASSERT_EQ(id.size(), kMessageIdLength);
  for (const char c : id) EXPECT_NE(kCrockford.find(c), std::string_view::npos) << id;
}

TEST(MessageId, EncodesTheTimeInTheFirstTenCharacters) {
  MessageIdGenerator gen(1);
  EXPECT_EQ(gen.next(0).substr(0, 10), "0000000000");
  MessageIdGenerator gen2(1);
  EXPECT_EQ(decode_time(gen2.next(1700000000123)), 1700000000123);
}

TEST(MessageId, StrictlyIncreasingWithinOneMillisecondAndWhenClockStepsBack) {
  MessageIdGenerator gen(3);
  std::string prev = gen.next(1000);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = gen.next(i % 2 ? 1000 : 999);
    ASSERT_LT(prev, id);
    prev = id;
  }
  const std::string later = gen.next(2000);
  EXPECT_LT(prev, later);
  EXPECT_EQ(decode_time(later), 2000);
}

TEST(MessageId, SortsByTime) {
  // Sequenced explicitly: the order in which a call's arguments are evaluated is unspecified.
  MessageIdGenerator gen(4), other(5);
  const std::string first = gen.next(1000);
  const std::string second = gen.next(1001);
  EXPECT_LT(first, second);
  // Different generators: ordered by the time part alone, whatever their random parts.
  const std::string third = other.next(1002);
  EXPECT_LT(second, third);
}

TEST(MessageId, SeedsGiveDifferentRandomParts) {
  MessageIdGenerator a(10), b(11);
  EXPECT_NE(a.next(5).substr(10), b.next(5).substr(10));
}

TEST(MessageId, UniqueAcrossThreads) {
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(new_message_id());
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (const auto& v : ids) {
    for (std::size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);  // per-thread monotonic
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace ringpost::api
