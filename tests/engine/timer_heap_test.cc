// TimerHeap (engine/runtime/timer_heap.h): the shard's site and route timers. Pure: times are
// plain numbers, no clock, no ring.
#include "engine/runtime/timer_heap.h"

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

struct Item {
  int id = 0;
  TimerSlot slot;
  TimerSlot& timer_slot() { return slot; }
};

std::vector<int> pop_all_due(TimerHeap<Item>& h, int64_t now) {
  std::vector<int> out;
  while (Item* i = h.pop_due(now)) out.push_back(i->id);
  return out;
}

TEST(TimerHeap, PopsOnlyWhatIsDueInOrder) {
  TimerHeap<Item> h;
  Item a{1}, b{2}, c{3};
  h.schedule(a, 300);
  h.schedule(b, 100);
  h.schedule(c, 200);
  EXPECT_EQ(h.next_due_ms(), 100);
  EXPECT_EQ(h.pop_due(99), nullptr);
  EXPECT_EQ(pop_all_due(h, 200), (std::vector<int>{2, 3}));
  EXPECT_FALSE(b.slot.scheduled());
  EXPECT_TRUE(a.slot.scheduled());
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(pop_all_due(h, 1000), (std::vector<int>{1}));
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.next_due_ms(), std::nullopt);
}

TEST(TimerHeap, RescheduleMovesAnItemInsteadOfAddingOne) {
  TimerHeap<Item> h;
  Item a{1}, b{2};
  h.schedule(a, 100);
  h.schedule(b, 200);
  h.schedule(a, 300);  // later
  EXPECT_EQ(h.size(), 2u);
  EXPECT_EQ(pop_all_due(h, 250), (std::vector<int>{2}));
  h.schedule(b, 50);   // back in, earlier than a
  h.schedule(a, 40);   // earlier again
  EXPECT_EQ(pop_all_due(h, 1000), (std::vector<int>{1, 2}));
}

TEST(TimerHeap, CancelTakesAnItemOutAndIsIdempotent) {
  TimerHeap<Item> h;
  Item a{1}, b{2}, c{3};
  h.schedule(a, 10);
  h.schedule(b, 20);
  h.schedule(c, 30);
  h.cancel(a);  // the root
  h.cancel(a);
  h.cancel(c);  // the last
  EXPECT_FALSE(a.slot.scheduled());
  EXPECT_EQ(pop_all_due(h, 100), (std::vector<int>{2}));
  Item d{4};
  h.cancel(d);  // never scheduled
  EXPECT_TRUE(h.empty());
}

// Random schedules, reschedules and cancels against a plain model: what pops at each step is
// exactly the model's due set, earliest first, and every index stays consistent.
TEST(TimerHeap, MatchesAModelUnderRandomOperations) {
  std::mt19937 rng(20);
  constexpr int kItems = 500;
  std::vector<std::unique_ptr<Item>> items;
  for (int i = 0; i < kItems; ++i) items.push_back(std::make_unique<Item>(Item{i}));
  std::vector<int64_t> model(kItems, -1);  // -1: not scheduled
  TimerHeap<Item> h;
  int64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const int k = static_cast<int>(rng() % kItems);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const int64_t due = now + static_cast<int64_t>(rng() % 1000);
        h.schedule(*items[k], due);
        model[k] = due;
        break;
      }
      case 2:
        h.cancel(*items[k]);
        model[k] = -1;
        break;
      case 3: {
        now += static_cast<int64_t>(rng() % 50);
        int64_t last = -1;
        while (Item* it = h.pop_due(now)) {
          ASSERT_NE(model[it->id], -1) << "popped an item that was not scheduled";
          ASSERT_LE(model[it->id], now);
          ASSERT_GE(model[it->id], last) << "out of order";
          last = model[it->id];
          model[it->id] = -1;
        }
        for (int i = 0; i < kItems; ++i) ASSERT_TRUE(model[i] == -1 || model[i] > now) << "item " << i << " left due";
        break;
      }
    }
    ASSERT_EQ(h.size(), static_cast<std::size_t>(std::count_if(model.begin(), model.end(), [](int64_t d) { return d != -1; })));
  }
}

}  // namespace
}  // namespace ringpost::engine
