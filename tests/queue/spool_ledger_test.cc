// SpoolLedger: oldest-first reclaim decisions. The rule under test is the one that makes
// deleting a segment safe: only the oldest, only when nothing in it is owed, never the active.
#include "queue/spool_ledger.h"

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

using Action = SpoolLedger::Action;
constexpr int64_t kLater = 1'000'000;  // long after every segment in these tests was sealed

TEST(SpoolLedger, TheActiveSegmentIsNeverReclaimed) {
  SpoolLedger l;
  l.add_segment(0);
  EXPECT_EQ(l.next_action(kLater), Action::none) << "the only segment is the one being written";
  l.accepted(0, false);
  EXPECT_EQ(l.next_action(kLater), Action::none);
}

TEST(SpoolLedger, OldestIsDeletedOnceEveryMessageInItFinished) {
  SpoolLedger l;
  l.add_segment(0, 1000);
  for (int i = 0; i < 20; ++i) l.accepted(0, true);
  l.add_segment(1);
  EXPECT_EQ(l.next_action(kLater), Action::none) << "20 of 20 unfinished";
  for (int i = 0; i < 19; ++i) l.finished(0);
  EXPECT_EQ(l.next_action(kLater), Action::compact_oldest) << "1 of 20 left: copy it forward rather than pin the spool";
  l.finished(0);
  EXPECT_EQ(l.next_action(kLater), Action::delete_oldest);
  EXPECT_EQ(l.oldest(), 0u);
  l.remove(0);
  EXPECT_EQ(l.oldest(), 1u);
  EXPECT_EQ(l.next_action(kLater), Action::none);
}

TEST(SpoolLedger, AFinishedYoungerSegmentWaitsForTheOlderOnes) {
  SpoolLedger l;
  l.add_segment(0);
  for (int i = 0; i < 10; ++i) l.accepted(0, true);
  l.add_segment(1);
  l.accepted(1, true);
  l.finished(1);
  l.add_segment(2);
  // Segment 1 holds nothing owed, but 0 may have its OUTCOMEs in 1: only the oldest goes.
  EXPECT_EQ(l.next_action(kLater), Action::none);
  EXPECT_EQ(l.oldest(), 0u);
}

TEST(SpoolLedger, CompactionMovesLiveCountsToTheNewSegment) {
  SpoolLedger l;
  l.add_segment(0);
  for (int i = 0; i < 100; ++i) l.accepted(0, i < 3);
  l.add_segment(1);
  ASSERT_EQ(l.next_action(kLater), Action::compact_oldest);
  l.moved(0, 1, 3);
  EXPECT_EQ(l.find(0)->live, 0u);
  EXPECT_EQ(l.find(1)->live, 3u);
  EXPECT_EQ(l.find(1)->accepts, 3u);
  EXPECT_EQ(l.next_action(kLater), Action::delete_oldest);
  EXPECT_EQ(l.total_live(), 3u);
}

TEST(SpoolLedger, ARecentlySealedSegmentIsNotCompactedWhileItsMessagesAreInFlight) {
  SpoolLedger l;
  l.add_segment(0, 0, 100);
  for (int i = 0; i < 100; ++i) l.accepted(0, i < 5);
  l.add_segment(1, 0, 1000);  // seals segment 0 at t=1000
  EXPECT_EQ(l.find(0)->sealed_at_ms, 1000);
  EXPECT_EQ(l.find(1)->sealed_at_ms, -1);
  EXPECT_EQ(l.next_action(1000 + 4999, 5000), Action::none) << "five deliveries about to finish are not copied";
  EXPECT_EQ(l.next_action(1000 + 5000, 5000), Action::compact_oldest);
}

TEST(SpoolLedger, CountsNeverGoNegativeAndUnknownSegmentsAreIgnored) {
  SpoolLedger l;
  l.add_segment(3, 10);
  l.finished(3);
  l.finished(9);
  l.accepted(9, true);
  l.add_bytes(9, 100);
  l.moved(3, 9, 5);
  EXPECT_EQ(l.find(3)->live, 0u);
  EXPECT_EQ(l.total_bytes(), 10u);
  EXPECT_EQ(l.segment_count(), 1u);
}

TEST(SpoolLedger, BytesAddUpAcrossSegments) {
  SpoolLedger l;
  l.add_segment(0, 100);
  l.add_bytes(0, 50);
  l.add_segment(1);
  l.add_bytes(1, 7);
  EXPECT_EQ(l.total_bytes(), 157u);
  l.clear_live(0);
  l.remove(0);
  EXPECT_EQ(l.total_bytes(), 7u);
}

}  // namespace
}  // namespace ringpost::queue
