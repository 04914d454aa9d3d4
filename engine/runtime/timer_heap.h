// Due times for many long-lived objects of one thread (a shard's sites, its route entries), so
// a timer tick visits only what is due instead of walking everything it holds. One thread only.
//
// An indexed binary min-heap: each object carries a TimerSlot (its due time and its position in
// the heap), so it is in the heap at most once, a new due time moves it in O(log n), and an
// object about to be destroyed takes itself out (cancel) in O(log n). Chosen over
//  - a heap of (due, pointer, generation) with lazy invalidation: a busy site gets a new due time
//    on nearly every event, and each would leave a stale entry behind until its old time came
//    (the heap grows with the event rate, not the site count), and a stale entry can outlive an
//    evicted site, so checking its generation would read freed memory;
//  - a hashed timing wheel: O(1), but due times here run from 50 ms (a site with mail waiting
//    for a token) to hours (idle eviction, an operator's suspension), which a single wheel only
//    covers with overflow levels or by re-checking far entries every turn; at 100,000 sites a
//    heap operation is ~17 steps, and only sites with something to do take one.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace ringpost::engine {

struct TimerSlot {
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  int64_t due_ms = 0;
  std::size_t index = kNone;  // position in the heap; kNone = not scheduled
  bool scheduled() const { return index != kNone; }
};

template <class T>
concept HasTimerSlot = requires(T& t) {
  { t.timer_slot() } -> std::same_as<TimerSlot&>;
};

template <HasTimerSlot T>
class TimerHeap {
 public:
  TimerHeap() = default;
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;

  // Sets t's due time, whether or not it was scheduled (earlier or later than before).
  void schedule(T& t, int64_t due_ms) {
    TimerSlot& s = t.timer_slot();
    if (!s.scheduled()) {
      s.index = heap_.size();
      heap_.push_back(&t);
    }
    s.due_ms = due_ms;
    // One of the two moves nothing: earlier goes up, later goes down.
    sift_up(s.index);
    sift_down(s.index);
  }

  // Takes t out, if it is in; required before t is destroyed.
  void cancel(T& t) {
    TimerSlot& s = t.timer_slot();
    if (!s.scheduled()) return;
    const std::size_t i = s.index;
    s.index = TimerSlot::kNone;
    T* last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;  // t was the last one
    place(i, last);
    sift_up(i);
    sift_down(last->timer_slot().index);
  }

  // The heap's storage back to its size when it is mostly empty (after a burst of sites).
  void shrink() {
    if (heap_.capacity() > 64 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
  }

  // The earliest object due at or before now, taken out of the heap; nullptr when none is.
  T* pop_due(int64_t now_ms) {
    if (heap_.empty() || heap_.front()->timer_slot().due_ms > now_ms) return nullptr;
    T* t = heap_.front();
    cancel(*t);
    return t;
  }

  std::optional<int64_t> next_due_ms() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front()->timer_slot().due_ms;
  }
  std::size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  static int64_t due(const T* t) { return const_cast<T*>(t)->timer_slot().due_ms; }
  void place(std::size_t i, T* t) {
    heap_[i] = t;
    t->timer_slot().index = i;
  }
  void sift_up(std::size_t i) {
    T* t = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (due(heap_[parent]) <= due(t)) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, t);
  }
  void sift_down(std::size_t i) {
    T* t = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && due(heap_[child + 1]) < due(heap_[child])) ++child;
      if (due(t) <= due(heap_[child])) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, t);
  }

  std::vector<T*> heap_;
};

}  // namespace ringpost::engine
