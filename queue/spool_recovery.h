// Startup recovery: rebuilds the queue from the spool log files with plain blocking reads.
// Runs once on the main thread before the engine starts; nothing else touches the spool then.
// Invariant: every acknowledged message (ACCEPT fdatasync'ed) comes back unless the disk itself
// corrupted it, and whatever cannot be recovered is counted and named in the report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "queue/message.h"
#include "queue/spool_record.h"

namespace ringpost::queue {

struct RecoveryReport {
  std::size_t files = 0;
  std::size_t accepts = 0;          // ACCEPT records applied (duplicates of a known id excluded)
  std::size_t outcomes = 0;         // OUTCOME records decoded (applied or not)
  std::size_t torn_tails = 0;       // files ending in a partially written record
  std::size_t corrupt_records = 0;  // damaged records skipped, or damage that ended a file
  std::size_t zero_tails = 0;       // files ending in zero bytes (preallocated space); not a loss
  // OUTCOMEs for an id no ACCEPT names: the message finished and its file was reclaimed
  // (deleted) while later files still held its outcomes. Expected, so not warned about.
  std::size_t orphan_outcomes = 0;
  std::vector<std::string> warnings;  // capped at kMaxRecoveryWarnings (+1 "suppressed" line)
};

inline constexpr std::size_t kMaxRecoveryWarnings = 1000;

struct RecoveredIdempotent {
  IdempotentRecord record;
  uint32_t file = 0;  // index into RecoveredSpool::files
};

struct RecoveredSpool {
  // In acceptance order, with each recipient's state/attempts/last_reply/updated_at_ms taken
  // from its OUTCOME records; a recipient with no outcome is queued with updated_at_ms equal to
  // created_at_ms. Messages whose recipients are all final are included; dropping them is the
  // caller's decision.
  std::vector<Message> messages;
  // The files read, in order; Message::body_at.file indexes this.
  std::vector<std::string> files;
  // Idempotency answers carried forward out of deleted segments, in file order (a later one
  // for the same owner and key supersedes an earlier one). Expired ones are included.
  std::vector<RecoveredIdempotent> idempotent;
  RecoveryReport report;
};

struct RecoveryOptions {
  // False: bodies stay on disk (Message::body null; body_at says where), so a spool of
  // millions of queued messages does not have to fit in memory.
  bool load_bodies = true;
};

// Reads every regular "*.log" file in dir, in file-name (byte) order. A missing dir is created
// (mkdir -p) and yields an empty spool. An unreadable dir or file is an error naming the path
// and the errno text: starting without acknowledged messages would silently drop mail.
//
// After recovery the engine must append to a NEW file (spool_file_name), never to a recovered
// one: records written after a torn tail would be unreachable on the next recovery.
tl::expected<RecoveredSpool, std::string> recover_spool(const std::string& dir, RecoveryOptions options = {});

// "spool-<20-digit ms>-<10-digit seq>.log". Names sort like (now_ms, sequence), so a later
// file sorts after every earlier one as long as the caller never reuses a (now_ms, sequence)
// pair and never goes back in time; negative now_ms is clamped to 0.
std::string spool_file_name(int64_t now_ms, uint32_t sequence);

}  // namespace ringpost::queue
