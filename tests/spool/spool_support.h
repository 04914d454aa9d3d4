// Helpers shared by the spool tests: an independent reader of the spool's framing (so a test
// can say which ACCEPT records lie before a byte offset without trusting ringpost's reader),
// sink-side recipient counts, /proc memory figures, a few JSON probes of the API responses,
// and a seed for the randomised tests that can be replayed (RINGPOST_SPOOL_SEED).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/smtp_sink.h"

namespace ringpost::spool_it {

// One framed record as found in a spool file (docs/spool.md "Frame").
struct SpoolRecordInfo {
  uint64_t offset = 0;  // first byte of the magic
  uint64_t end = 0;     // one past the last payload byte
  uint8_t type = 0;     // 1 ACCEPT, 2 OUTCOME
  std::string id;       // the payload's leading str, when readable
};

struct SpoolFileInfo {
  std::filesystem::path path;
  uint64_t size = 0;
  std::vector<SpoolRecordInfo> records;
  // End of the last whole record; < size when the file ends in a partial record or garbage.
  uint64_t valid_end = 0;
};

// Regular files named spool-*.log in `dir`, sorted by name in byte order (= recovery order).
std::vector<std::filesystem::path> spool_files(const std::filesystem::path& dir);
// Walks the frames of one file: magic "RPS1", u32 LE length, u32 crc (not checked here), u8
// type, payload. Stops at the first frame that is not whole (or whose magic is wrong).
SpoolFileInfo parse_spool_file(const std::filesystem::path& file);
uint64_t spool_bytes(const std::filesystem::path& dir);

// How often each RCPT TO address reached the sink (one entry per transaction and recipient).
std::map<std::string, int> sink_recipient_counts(const it::SmtpSink& sink);

// /proc/<pid>/status fields in bytes ("VmRSS", "VmHWM"); nullopt if unreadable.
std::optional<int64_t> proc_status_bytes(pid_t pid, std::string_view field);

// `{"recipients":[{..., "recovered": true}, ...]}` -> one flag per recipient (false when the
// key is absent); nullopt if the body does not parse.
std::optional<std::vector<bool>> recovered_flags(std::string_view message_status_body);
// `{"id":"..."}` (a single submission's 202 body) -> the id.
std::optional<std::string> id_of(std::string_view body);
// GET /v1/stats -> "spool":{"segments","bytes","write_errors"}; nullopt when absent.
struct SpoolStats {
  int64_t segments = -1, bytes = -1, write_errors = -1;
};
std::optional<SpoolStats> spool_stats_of(std::string_view stats_body);

// A random seed, or RINGPOST_SPOOL_SEED when set, printed so a failing run can be replayed.
uint64_t test_seed(std::string_view test_name);

// `text` contains `number` as a whole decimal number (not as part of a longer one).
bool contains_number(std::string_view text, long long number);

}  // namespace ringpost::spool_it
