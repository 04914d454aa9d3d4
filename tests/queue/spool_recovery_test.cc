#include "queue/spool_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "queue/spool_record.h"
#include "tests/queue/temp_dir.h"

namespace ringpost::queue {
namespace {

using testing::TempDir;

struct Spooled {
  std::string id;
  std::string from;
  int64_t created_at_ms = 0;
  std::vector<std::string> recipients;
  std::string body;
};

Spooled make_msg(int i, int recipients = 3) {
  Spooled m;
  m.id = fmt::format("msg-{:06}", i);
  m.from = fmt::format("sender{}@example.test", i);
  m.created_at_ms = 1'700'000'000'000 + i;
  for (int r = 0; r < recipients; ++r) m.recipients.push_back(fmt::format("rcpt{}-{}@dest{}.test", i, r, r));
  // Varying sizes; ends in a non-zero byte so zero-filling any suffix always damages it.
  m.body = fmt::format("Subject: {}\r\n\r\n{}\r\n", i, std::string(static_cast<std::size_t>(i % 97), 'a' + i % 26));
  return m;
}

std::string accept_bytes(const Spooled& m) {
  AcceptRecord r{m.id, m.from, m.created_at_ms, m.recipients, m.body, {}, std::nullopt};
  std::string out;
  EXPECT_TRUE(append_accept(out, r));
  return out;
}

std::string outcome_bytes(const std::string& id, uint32_t index, RecipientState state, uint32_t attempts,
                          int64_t at_ms, int code = 250) {
  OutcomeRecord r{id, index, state, attempts, at_ms, smtp::Reply{code, "2.0.0", fmt::format("reply {}", at_ms)}};
  std::string out;
  EXPECT_TRUE(append_outcome(out, r));
  return out;
}

void expect_queued(const Message& got, const Spooled& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.from, want.from);
  EXPECT_EQ(got.created_at_ms, want.created_at_ms);
  ASSERT_TRUE(got.body);
  EXPECT_EQ(*got.body, want.body);
  ASSERT_EQ(got.recipients.size(), want.recipients.size());
  for (std::size_t i = 0; i < want.recipients.size(); ++i) {
    EXPECT_EQ(got.recipients[i].address, want.recipients[i]);
    EXPECT_EQ(got.recipients[i].state, RecipientState::queued);
    EXPECT_EQ(got.recipients[i].attempts, 0u);
    EXPECT_EQ(got.recipients[i].updated_at_ms, want.created_at_ms);
  }
}

RecoveredSpool recover_ok(const std::string& dir) {
  auto r = recover_spool(dir);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
  return r ? std::move(*r) : RecoveredSpool{};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& w : v) s += w + "\n";
  return s;
}

bool any_warning_contains(const RecoveryReport& rep, std::string_view needle) {
  return std::any_of(rep.warnings.begin(), rep.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

const std::string kFile = spool_file_name(1'700'000'000'000, 0);

TEST(SpoolRecovery, AcceptAndOutcomeRoundTrip) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  std::string log = accept_bytes(a) + accept_bytes(b);
  log += outcome_bytes(a.id, 0, RecipientState::delivered, 1, 1'700'000'001'000, 250);
  log += outcome_bytes(b.id, 2, RecipientState::deferred, 2, 1'700'000'002'000, 451);
  dir.write(kFile, log);

  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_EQ(s.report.files, 1u);
  EXPECT_EQ(s.report.accepts, 2u);
  EXPECT_EQ(s.report.outcomes, 2u);
  EXPECT_EQ(s.report.torn_tails, 0u);
  EXPECT_EQ(s.report.corrupt_records, 0u);
  EXPECT_EQ(s.report.zero_tails, 0u);
  EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
  ASSERT_EQ(s.messages.size(), 2u);

  const Message& ma = s.messages[0];
  EXPECT_EQ(ma.id, a.id);
  EXPECT_EQ(*ma.body, a.body);
  EXPECT_EQ(ma.recipients[0].state, RecipientState::delivered);
  EXPECT_EQ(ma.recipients[0].attempts, 1u);
  EXPECT_EQ(ma.recipients[0].updated_at_ms, 1'700'000'001'000);
  EXPECT_EQ(ma.recipients[0].last_reply, (smtp::Reply{250, "2.0.0", "reply 1700000001000"}));
  EXPECT_EQ(ma.recipients[1].state, RecipientState::queued);

  const Message& mb = s.messages[1];
  EXPECT_EQ(mb.id, b.id);
  EXPECT_EQ(mb.recipients[2].state, RecipientState::deferred);
  EXPECT_EQ(mb.recipients[2].attempts, 2u);
  EXPECT_EQ(mb.recipients[2].last_reply.code, 451);
  EXPECT_EQ(mb.recipients[0].state, RecipientState::queued);
}

TEST(SpoolRecovery, IdempotentRecordsComeBackWithTheirFileInFileOrder) {
  TempDir dir;
  const auto idem = [](std::string key, int64_t expires) {
    std::string out;
    EXPECT_TRUE(append_idempotent(out, IdempotentRecord{"k", std::move(key), "hash", expires, 202, "{\"id\":\"x\"}"}));
    return out;
  };
  dir.write(spool_file_name(1'700'000'000'000, 0), accept_bytes(make_msg(1)) + idem("first", 5));
  dir.write(spool_file_name(1'700'000'000'000, 1), idem("second", 6) + idem("first", 7));
  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
  EXPECT_EQ(s.report.corrupt_records, 0u);
  ASSERT_EQ(s.idempotent.size(), 3u);
  EXPECT_EQ(s.idempotent[0].record.key, "first");
  EXPECT_EQ(s.idempotent[0].file, 0u);
  EXPECT_EQ(s.idempotent[1].record.key, "second");
  EXPECT_EQ(s.idempotent[1].file, 1u);
  EXPECT_EQ(s.idempotent[2].record.expires_at_ms, 7);
  EXPECT_EQ(s.idempotent[2].record.answer, "{\"id\":\"x\"}");
  EXPECT_EQ(s.messages.size(), 1u);  // an IDEMPOTENT record is not a message
}

TEST(SpoolRecovery, LastOutcomeWins) {
  TempDir dir;
  const Spooled m = make_msg(1);
  std::string log = accept_bytes(m);
  log += outcome_bytes(m.id, 0, RecipientState::deferred, 1, 10, 451);
  log += outcome_bytes(m.id, 0, RecipientState::deferred, 2, 20, 452);
  log += outcome_bytes(m.id, 0, RecipientState::deferred, 3, 30, 421);
  dir.write(kFile, log);
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  const Recipient& r = s.messages[0].recipients[0];
  EXPECT_EQ(r.state, RecipientState::deferred);
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_EQ(r.updated_at_ms, 30);
  EXPECT_EQ(r.last_reply.code, 421);
}

TEST(SpoolRecovery, FinalStateIsNeverOverriddenByANonFinalOne) {
  TempDir dir;
  const Spooled m = make_msg(1, 4);
  std::string log = accept_bytes(m);
  // 0: delivered, then a late deferred and a queued: stays delivered with its own details.
  log += outcome_bytes(m.id, 0, RecipientState::deferred, 1, 10, 451);
  log += outcome_bytes(m.id, 0, RecipientState::delivered, 2, 20, 250);
  log += outcome_bytes(m.id, 0, RecipientState::deferred, 3, 30, 451);
  log += outcome_bytes(m.id, 0, RecipientState::queued, 4, 40, 0);
  // 1: bounced then deferred.
  log += outcome_bytes(m.id, 1, RecipientState::bounced, 1, 11, 550);
  log += outcome_bytes(m.id, 1, RecipientState::deferred, 2, 21, 451);
  // 2: expired then deferred.
  log += outcome_bytes(m.id, 2, RecipientState::expired, 7, 12, 451);
  log += outcome_bytes(m.id, 2, RecipientState::deferred, 8, 22, 451);
  // 3: final over final: the later one is recorded.
  log += outcome_bytes(m.id, 3, RecipientState::bounced, 1, 13, 550);
  log += outcome_bytes(m.id, 3, RecipientState::delivered, 2, 23, 250);
  dir.write(kFile, log);

  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  const auto& r = s.messages[0].recipients;
  EXPECT_EQ(r[0].state, RecipientState::delivered);
  EXPECT_EQ(r[0].attempts, 2u);
  EXPECT_EQ(r[0].updated_at_ms, 20);
  EXPECT_EQ(r[0].last_reply.code, 250);
  EXPECT_EQ(r[1].state, RecipientState::bounced);
  EXPECT_EQ(r[1].updated_at_ms, 11);
  EXPECT_EQ(r[2].state, RecipientState::expired);
  EXPECT_EQ(r[2].attempts, 7u);
  EXPECT_EQ(r[3].state, RecipientState::delivered);
  EXPECT_EQ(r[3].updated_at_ms, 23);
  EXPECT_EQ(s.report.outcomes, 10u);
}

TEST(SpoolRecovery, UnknownIdIsCountedAndOutOfRangeRecipientIsWarnedAndIgnored) {
  TempDir dir;
  const Spooled m = make_msg(1, 2);
  std::string log = outcome_bytes(m.id, 0, RecipientState::delivered, 1, 5);  // before its ACCEPT
  log += accept_bytes(m);
  log += outcome_bytes("nope", 0, RecipientState::delivered, 1, 6);
  log += outcome_bytes(m.id, 2, RecipientState::delivered, 1, 7);
  dir.write(kFile, log);

  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  expect_queued(s.messages[0], m);
  EXPECT_EQ(s.report.outcomes, 3u);
  EXPECT_EQ(s.report.corrupt_records, 0u);
  // Outcomes of ids no ACCEPT names are what reclaimed files leave behind: counted, not warned.
  EXPECT_EQ(s.report.orphan_outcomes, 2u);
  ASSERT_EQ(s.report.warnings.size(), 1u) << join(s.report.warnings);
  EXPECT_TRUE(any_warning_contains(s.report, "recipient 2 of 2"));
}

TEST(SpoolRecovery, DuplicateAcceptKeepsTheFirst) {
  TempDir dir;
  const Spooled m = make_msg(1, 2);
  Spooled dup = make_msg(1, 1);
  dup.body = "different";
  dir.write(kFile, accept_bytes(m) + accept_bytes(dup));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  expect_queued(s.messages[0], m);
  EXPECT_EQ(s.report.accepts, 1u);
  EXPECT_TRUE(any_warning_contains(s.report, "duplicate ACCEPT"));
}

// The last record of the file is cut at every byte offset (a crash mid-write on a file that
// grows with each write). Recovery must return exactly the earlier records each time.
void torn_tail_at_every_offset(bool last_is_outcome, bool zero_filled) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  const std::string head = accept_bytes(a) + outcome_bytes(a.id, 1, RecipientState::deferred, 1, 99, 451);
  const std::string last =
      last_is_outcome ? outcome_bytes(a.id, 1, RecipientState::delivered, 2, 100) : accept_bytes(b);
  ASSERT_NE(last.back(), '\0');
  for (std::size_t k = 0; k < last.size(); ++k) {
    SCOPED_TRACE(fmt::format("cut at byte {} of {}", k, last.size()));
    std::string file = head + last.substr(0, k);
    // Preallocated file: the unwritten rest of the record and the space after it read as zeros.
    if (zero_filled) file += std::string(last.size() - k + 4096, '\0');
    dir.write(kFile, file);

    const RecoveredSpool s = recover_ok(dir.path());
    ASSERT_EQ(s.messages.size(), 1u);
    EXPECT_EQ(s.messages[0].id, a.id);
    EXPECT_EQ(*s.messages[0].body, a.body);
    EXPECT_EQ(s.messages[0].recipients[1].state, RecipientState::deferred);
    EXPECT_EQ(s.messages[0].recipients[1].attempts, 1u);
    EXPECT_EQ(s.report.accepts, 1u);
    EXPECT_EQ(s.report.outcomes, 1u);
    EXPECT_EQ(s.report.corrupt_records, 0u) << join(s.report.warnings);
    if (k == 0) {
      EXPECT_EQ(s.report.torn_tails, 0u);
      EXPECT_EQ(s.report.zero_tails, zero_filled ? 1u : 0u);
      EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
    } else {
      EXPECT_EQ(s.report.torn_tails, 1u) << join(s.report.warnings);
      EXPECT_EQ(s.report.zero_tails, 0u);
      ASSERT_EQ(s.report.warnings.size(), 1u) << join(s.report.warnings);
      EXPECT_NE(s.report.warnings[0].find("torn tail at offset " + std::to_string(head.size())), std::string::npos)
          << s.report.warnings[0];
    }
  }
}

TEST(SpoolRecovery, TornAcceptAtEveryByteOffset) { torn_tail_at_every_offset(false, false); }
TEST(SpoolRecovery, TornOutcomeAtEveryByteOffset) { torn_tail_at_every_offset(true, false); }
TEST(SpoolRecovery, TornAcceptIntoPreallocatedZerosAtEveryByteOffset) { torn_tail_at_every_offset(false, true); }
TEST(SpoolRecovery, TornOutcomeIntoPreallocatedZerosAtEveryByteOffset) { torn_tail_at_every_offset(true, true); }

TEST(SpoolRecovery, TornTailWarningNamesTheLostMessage) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  const std::string last = accept_bytes(b);
  dir.write(kFile, accept_bytes(a) + last.substr(0, last.size() - 3));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.report.warnings.size(), 1u);
  EXPECT_NE(s.report.warnings[0].find("ACCEPT record id 'msg-000002' truncated"), std::string::npos)
      << s.report.warnings[0];
}

TEST(SpoolRecovery, ZeroFilledTailIsACleanEnd) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  dir.write(kFile, accept_bytes(a) + accept_bytes(b) + std::string(1 << 16, '\0'));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 2u);
  expect_queued(s.messages[0], a);
  expect_queued(s.messages[1], b);
  EXPECT_EQ(s.report.zero_tails, 1u);
  EXPECT_EQ(s.report.torn_tails, 0u);
  EXPECT_EQ(s.report.corrupt_records, 0u);
  EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
}

TEST(SpoolRecovery, ZeroTailShorterThanAHeader) {
  TempDir dir;
  const Spooled a = make_msg(1);
  dir.write(kFile, accept_bytes(a) + std::string(5, '\0'));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.report.zero_tails, 1u);
  EXPECT_EQ(s.report.torn_tails, 0u);
}

TEST(SpoolRecovery, EmptyAndAllZeroFiles) {
  TempDir dir;
  dir.write(spool_file_name(1, 0), "");
  dir.write(spool_file_name(2, 0), std::string(3 << 20, '\0'));  // larger than one read chunk
  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_EQ(s.report.files, 2u);
  EXPECT_TRUE(s.messages.empty());
  EXPECT_EQ(s.report.zero_tails, 1u);
  EXPECT_EQ(s.report.torn_tails + s.report.corrupt_records, 0u);
}

// A byte flipped inside the crc, type or payload of a middle record: that record alone is lost,
// the ones after it are recovered.
TEST(SpoolRecovery, CorruptByteInAMiddleRecordIsSkipped) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2), c = make_msg(3);
  const std::string ra = accept_bytes(a), rb = accept_bytes(b);
  const std::string rc = accept_bytes(c) + outcome_bytes(c.id, 0, RecipientState::delivered, 1, 5);
  for (std::size_t k = 8; k < rb.size(); ++k) {
    SCOPED_TRACE(fmt::format("flipped byte {} of {}", k, rb.size()));
    std::string bad = rb;
    bad[k] = static_cast<char>(bad[k] ^ 0x5a);
    dir.write(kFile, ra + bad + rc);

    const RecoveredSpool s = recover_ok(dir.path());
    ASSERT_EQ(s.messages.size(), 2u);
    expect_queued(s.messages[0], a);
    EXPECT_EQ(s.messages[1].id, c.id);
    EXPECT_EQ(s.messages[1].recipients[0].state, RecipientState::delivered);
    EXPECT_EQ(s.report.corrupt_records, 1u);
    EXPECT_EQ(s.report.torn_tails, 0u);
    ASSERT_EQ(s.report.warnings.size(), 1u) << join(s.report.warnings);
    EXPECT_NE(s.report.warnings[0].find(fmt::format("corrupt record at offset {} skipped", ra.size())),
              std::string::npos)
        << s.report.warnings[0];
  }
}

// Any single flipped byte in a middle record, including magic and length: recovery never crashes,
// never returns altered data, keeps everything before the damage and reports the damage.
TEST(SpoolRecovery, AnyFlippedByteNeverYieldsWrongData) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2), c = make_msg(3);
  const std::string ra = accept_bytes(a), rb = accept_bytes(b), rc = accept_bytes(c);
  for (std::size_t k = 0; k < rb.size(); ++k) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      SCOPED_TRACE(fmt::format("byte {} ^ {:#x}", k, mask));
      std::string bad = rb;
      bad[k] = static_cast<char>(bad[k] ^ mask);
      dir.write(kFile, ra + bad + rc);
      const RecoveredSpool s = recover_ok(dir.path());
      ASSERT_GE(s.messages.size(), 1u);
      expect_queued(s.messages[0], a);
      for (std::size_t i = 1; i < s.messages.size(); ++i) {
        EXPECT_EQ(s.messages[i].id, c.id);  // b is damaged; only c may follow a
        expect_queued(s.messages[i], c);
      }
      EXPECT_GE(s.report.corrupt_records + s.report.torn_tails, 1u);
      EXPECT_FALSE(s.report.warnings.empty());
    }
  }
}

TEST(SpoolRecovery, BadMagicInTheMiddleStopsTheFileAndSaysHowMuchWasLost) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  const std::string ra = accept_bytes(a);
  const std::string rest = "garbage!" + accept_bytes(b);
  dir.write(kFile, ra + rest);
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.report.corrupt_records, 1u);
  EXPECT_TRUE(any_warning_contains(s.report, fmt::format("remaining {} bytes are lost", rest.size())))
      << join(s.report.warnings);
}

TEST(SpoolRecovery, InsaneLengthStopsTheFileWithoutAllocating) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  std::string rb = accept_bytes(b);
  rb[4] = rb[5] = rb[6] = rb[7] = '\xff';  // 4 GiB - 1
  dir.write(kFile, accept_bytes(a) + rb + accept_bytes(make_msg(3)));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.report.corrupt_records, 1u);
  EXPECT_EQ(s.report.torn_tails, 0u);
  EXPECT_TRUE(any_warning_contains(s.report, "exceeds the")) << join(s.report.warnings);
}

TEST(SpoolRecovery, SaneLengthPastEndOfFileIsATornTail) {
  TempDir dir;
  std::string rec = accept_bytes(make_msg(1));
  const uint32_t big = 60u << 20;  // under the cap, far beyond the file
  for (int i = 0; i < 4; ++i) rec[4 + i] = static_cast<char>((big >> (8 * i)) & 0xff);
  dir.write(kFile, rec);
  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_TRUE(s.messages.empty());
  EXPECT_EQ(s.report.torn_tails, 1u);
}

TEST(SpoolRecovery, ValidCrcButUndecodablePayloadIsSkipped) {
  TempDir dir;
  // A frame that is intact on disk but whose payload claims 2^32-1 recipients.
  std::string payload(4 + 4 + 8, '\0');
  payload += std::string("\xff\xff\xff\xff", 4);
  std::string frame;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put32(kRecordMagic);
  put32(static_cast<uint32_t>(payload.size()));
  put32(record_crc(1, payload));
  frame.push_back(1);
  frame += payload;
  // And one of an unknown type (a newer writer, say).
  std::string unknown;
  std::swap(frame, unknown);
  put32(kRecordMagic);
  put32(3);
  put32(record_crc(9, "xyz"));
  frame.push_back(9);
  frame += "xyz";
  std::swap(frame, unknown);

  const Spooled a = make_msg(1), b = make_msg(2);
  dir.write(kFile, accept_bytes(a) + frame + unknown + accept_bytes(b));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 2u);
  expect_queued(s.messages[1], b);
  EXPECT_EQ(s.report.corrupt_records, 2u);
  EXPECT_TRUE(any_warning_contains(s.report, "recipient count")) << join(s.report.warnings);
  EXPECT_TRUE(any_warning_contains(s.report, "unknown type 9")) << join(s.report.warnings);
}

TEST(SpoolRecovery, GarbageFilesNeverCrash) {
  TempDir dir;
  std::mt19937 rng(7);
  const std::string good = accept_bytes(make_msg(1));
  for (int i = 0; i < 300; ++i) {
    std::string g(rng() % 4096, '\0');
    for (char& ch : g) ch = static_cast<char>(rng());
    if (i % 3 == 1 && g.size() >= 8) {
      // Starts like a record so the length and crc paths get exercised, not just the magic.
      const std::string magic = good.substr(0, 4);
      std::copy(magic.begin(), magic.end(), g.begin());
      g[7] = static_cast<char>(rng() % 2 ? 0 : g[7]);
    }
    const bool prefixed = i % 3 == 2;
    dir.write(kFile, prefixed ? good + g : g);
    const RecoveredSpool s = recover_ok(dir.path());
    EXPECT_EQ(s.messages.size(), prefixed ? 1u : 0u);
    if (!g.empty() && std::any_of(g.begin(), g.end(), [](char ch) { return ch != 0; })) {
      EXPECT_EQ(s.report.corrupt_records + s.report.torn_tails, 1u) << join(s.report.warnings);
    }
  }
}

TEST(SpoolRecovery, FilesAreReadInNameOrder) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2), c = make_msg(3);
  const std::string f1 = spool_file_name(999, 0);            // 3-digit ms
  const std::string f2 = spool_file_name(1'000, 0);          // 4-digit ms sorts after
  const std::string f3 = spool_file_name(1'000, 1'000'000);  // 7-digit sequence sorts after
  // Written newest first so directory order is unlikely to match name order by accident.
  dir.write(f3, outcome_bytes(a.id, 0, RecipientState::delivered, 2, 30) + accept_bytes(c));
  dir.write(f2, accept_bytes(b) + outcome_bytes(a.id, 0, RecipientState::deferred, 1, 20, 451));
  dir.write(f1, accept_bytes(a));
  dir.write("notes.txt", "not a spool file");
  dir.write("spool.log.tmp", "not a spool file either");
  std::filesystem::create_directory(dir.file("dir.log"));

  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_EQ(s.report.files, 3u);
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(s.messages[0].id, a.id);
  EXPECT_EQ(s.messages[1].id, b.id);
  EXPECT_EQ(s.messages[2].id, c.id);
  // The deferred (file 2) came before the delivered (file 3): order across files matters.
  EXPECT_EQ(s.messages[0].recipients[0].state, RecipientState::delivered);
  EXPECT_EQ(s.messages[0].recipients[0].attempts, 2u);
  EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
}

TEST(SpoolRecovery, DamageInOneFileDoesNotStopTheNext) {
  TempDir dir;
  const Spooled a = make_msg(1), b = make_msg(2);
  const std::string ra = accept_bytes(a);
  dir.write(spool_file_name(1, 0), ra.substr(0, ra.size() / 2));
  dir.write(spool_file_name(2, 0), accept_bytes(b));
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), 1u);
  expect_queued(s.messages[0], b);
  EXPECT_EQ(s.report.torn_tails, 1u);
  EXPECT_TRUE(any_warning_contains(s.report, spool_file_name(1, 0)));
}

TEST(SpoolRecovery, ThousandMessagesWithThreeRecipientsRoundTrip) {
  TempDir dir;
  std::mt19937 rng(42);
  std::vector<Spooled> msgs;
  // Expected final (state, attempts) per recipient, tracked with the same rules recovery uses.
  std::vector<std::array<std::pair<RecipientState, uint32_t>, 3>> want;
  std::string batch;
  int file = 0;
  for (int i = 0; i < 1000; ++i) {
    msgs.push_back(make_msg(i));
    want.push_back({});
    want.back().fill({RecipientState::queued, 0});
    batch += accept_bytes(msgs.back());
    // Outcomes for random earlier messages, interleaved like a live spool.
    for (int k = 0; k < 2; ++k) {
      const std::size_t m = rng() % msgs.size();
      const uint32_t r = rng() % 3;
      const auto state = static_cast<RecipientState>(1 + rng() % 4);
      auto& w = want[m][r];
      const uint32_t attempts = w.second + 1;
      batch += outcome_bytes(msgs[m].id, r, state, attempts, i);
      if (!(is_final(w.first) && !is_final(state))) w = {state, attempts};
    }
    if (i % 250 == 249) {
      dir.write(spool_file_name(1'700'000'000'000, static_cast<uint32_t>(file++)), batch);
      batch.clear();
    }
  }

  const RecoveredSpool s = recover_ok(dir.path());
  EXPECT_EQ(s.report.files, 4u);
  EXPECT_EQ(s.report.accepts, 1000u);
  EXPECT_EQ(s.report.outcomes, 2000u);
  EXPECT_TRUE(s.report.warnings.empty()) << join(s.report.warnings);
  ASSERT_EQ(s.messages.size(), 1000u);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const Message& got = s.messages[i];
    ASSERT_EQ(got.id, msgs[i].id);
    EXPECT_EQ(got.from, msgs[i].from);
    EXPECT_EQ(got.created_at_ms, msgs[i].created_at_ms);
    ASSERT_TRUE(got.body);
    EXPECT_EQ(*got.body, msgs[i].body);
    ASSERT_EQ(got.recipients.size(), 3u);
    for (int r = 0; r < 3; ++r) {
      EXPECT_EQ(got.recipients[r].address, msgs[i].recipients[r]);
      EXPECT_EQ(got.recipients[r].state, want[i][r].first) << got.id << " rcpt " << r;
      EXPECT_EQ(got.recipients[r].attempts, want[i][r].second) << got.id << " rcpt " << r;
    }
  }
}

TEST(SpoolRecovery, LargeBodiesSpanningReadChunks) {
  TempDir dir;
  std::vector<Spooled> msgs;
  std::string log;
  for (int i = 0; i < 5; ++i) {
    Spooled m = make_msg(i);
    m.body = std::string((3u << 20) / 2 + static_cast<std::size_t>(i) * 7919, static_cast<char>('A' + i)) + "\r\n";
    log += accept_bytes(m);
    msgs.push_back(std::move(m));
  }
  dir.write(kFile, log);
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.messages.size(), msgs.size());
  for (std::size_t i = 0; i < msgs.size(); ++i) expect_queued(s.messages[i], msgs[i]);
}

// The engine leaves bodies on disk: each message says in which file and where its body lies,
// and reading those bytes back gives the body that was spooled.
TEST(SpoolRecovery, BodiesLeftOnDiskAreLocatedExactly) {
  TempDir dir;
  std::vector<Spooled> msgs;
  std::string first, second;
  for (int i = 0; i < 40; ++i) {
    Spooled m = make_msg(i, 1 + i % 3);
    (i < 25 ? first : second) += accept_bytes(m);
    if (i % 4 == 0) second += outcome_bytes(m.id, 0, RecipientState::deferred, 1, 99);
    msgs.push_back(std::move(m));
  }
  dir.write("spool-00000000000000000001-0000000000.log", first);
  dir.write("spool-00000000000000000002-0000000000.log", second);
  auto s = recover_spool(dir.path(), RecoveryOptions{.load_bodies = false});
  ASSERT_TRUE(s) << s.error();
  ASSERT_EQ(s->files.size(), 2u);
  ASSERT_EQ(s->messages.size(), msgs.size());
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = s->messages[i];
    EXPECT_FALSE(m.body) << "body loaded although load_bodies is false";
    const std::string& file = m.body_at.file == 0 ? first : second;
    ASSERT_LT(m.body_at.file, 2u);
    EXPECT_EQ(m.body_at.file, i < 25 ? 0u : 1u);
    ASSERT_LE(m.body_at.offset + m.body_at.size, file.size());
    EXPECT_EQ(file.substr(m.body_at.offset, m.body_at.size), msgs[i].body) << m.id;
  }
}

TEST(SpoolRecovery, WarningsAreCapped) {
  TempDir dir;
  std::string log;
  const Spooled m = make_msg(1, 1);
  log += accept_bytes(m);
  for (std::size_t i = 0; i < kMaxRecoveryWarnings + 500; ++i)
    log += outcome_bytes(m.id, 7, RecipientState::delivered, 1, 1);  // no recipient 7: warned
  dir.write(kFile, log);
  const RecoveredSpool s = recover_ok(dir.path());
  ASSERT_EQ(s.report.warnings.size(), kMaxRecoveryWarnings + 1);
  EXPECT_EQ(s.report.warnings.back(), "... 500 more warnings suppressed");
  EXPECT_EQ(s.report.outcomes, kMaxRecoveryWarnings + 500);
}

TEST(SpoolRecovery, MissingDirIsCreated) {
  TempDir dir;
  const std::string nested = dir.file("a/b/spool");
  const RecoveredSpool s = recover_ok(nested);
  EXPECT_TRUE(s.messages.empty());
  EXPECT_EQ(s.report.files, 0u);
  EXPECT_TRUE(std::filesystem::is_directory(nested));
}

TEST(SpoolRecovery, DirThatIsAFileIsAnError) {
  TempDir dir;
  dir.write("plain", "x");
  auto r = recover_spool(dir.file("plain"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not a directory"), std::string::npos) << r.error();
}

TEST(SpoolRecovery, UnreadableFileIsAnErrorNamingFileAndErrno) {
  TempDir dir;
  const std::string name = spool_file_name(1, 0);
  dir.write(name, accept_bytes(make_msg(1)));
  ASSERT_EQ(::chmod(dir.file(name).c_str(), 0), 0);
  const int fd = ::open(dir.file(name).c_str(), O_RDONLY);
  if (fd >= 0) {
    // Running with CAP_DAC_OVERRIDE (root): permissions do not stop us. A sysctl file without
    // read permission refuses even root, and is a regular file, so link one in instead.
    ::close(fd);
    std::filesystem::remove(dir.file(name));
    const char* target = "/proc/sys/vm/drop_caches";
    const int probe = ::open(target, O_RDONLY);
    if (probe >= 0 || errno != EACCES) {
      if (probe >= 0) ::close(probe);
      GTEST_SKIP() << "no way to make an unreadable file here";
    }
    std::filesystem::create_symlink(target, dir.file(name));
  }
  auto r = recover_spool(dir.path());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(name), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("Permission denied"), std::string::npos) << r.error();
}

TEST(SpoolFileName, SortsByTimeThenSequence) {
  EXPECT_EQ(spool_file_name(1'700'000'000'123, 7), "spool-00000001700000000123-0000000007.log");
  EXPECT_EQ(spool_file_name(-5, 0), "spool-00000000000000000000-0000000000.log");
  std::vector<std::pair<int64_t, uint32_t>> keys = {
      {0, 0}, {0, 1}, {0, 999'999}, {0, 1'000'000}, {0, UINT32_MAX}, {9, 0}, {10, 0}, {INT64_MAX, 0}};
  for (std::size_t i = 1; i < keys.size(); ++i) {
    EXPECT_LT(spool_file_name(keys[i - 1].first, keys[i - 1].second), spool_file_name(keys[i].first, keys[i].second))
        << i;
  }
}

}  // namespace
}  // namespace ringpost::queue
