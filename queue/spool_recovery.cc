// Startup recovery of the spool log (format: spool_record.h, docs/spool.md). Main thread only,
// before the engine starts; plain blocking pread. Invariant: a length read from disk is checked
// against the file size and kMaxRecordPayload before any buffer is sized from it.
#include "queue/spool_recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>

#include "queue/spool_record.h"

namespace ringpost::queue {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kReadChunk = 1u << 20;

std::string errno_text(int err) { return std::system_category().message(err); }

// Read-only view of one spool file through a sliding buffer: records are read with one pread
// per megabyte instead of two per record. A view stays valid until the next call to view().
class SpoolFile {
 public:
  SpoolFile() = default;
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;
  ~SpoolFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  tl::expected<void, std::string> open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return tl::unexpected(fmt::format("{}: {}", path, errno_text(errno)));
    struct stat st;
    if (::fstat(fd_, &st) != 0) return tl::unexpected(fmt::format("{}: {}", path, errno_text(errno)));
    size_ = static_cast<uint64_t>(st.st_size);
    return {};
  }

  uint64_t size() const { return size_; }

  // Bytes [off, off + n); the caller guarantees off + n <= size().
  tl::expected<std::string_view, std::string> view(uint64_t off, std::size_t n) {
    if (off >= buf_off_ && off + n <= buf_off_ + buf_.size()) {
      return std::string_view(buf_).substr(off - buf_off_, n);
    }
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(std::max(n, kReadChunk), size_ - off));
    buf_.resize(want);
    buf_off_ = off;
    if (auto r = read_exact(off, buf_.data(), want); !r) {
      buf_.clear();
      return tl::unexpected(r.error());
    }
    return std::string_view(buf_).substr(0, n);
  }

  // Offset just past the last non-zero byte (0 for an all-zero file). Scans backwards, so the
  // cost is the zero tail plus one chunk; computed once, on the first damaged spot.
  tl::expected<uint64_t, std::string> data_end() {
    if (data_end_) return *data_end_;
    std::string chunk;
    uint64_t end = size_;
    while (end > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(kReadChunk, end));
      chunk.resize(n);
      if (auto r = read_exact(end - n, chunk.data(), n); !r) return tl::unexpected(r.error());
      const auto it = std::find_if(chunk.rbegin(), chunk.rend(), [](char c) { return c != 0; });
      if (it != chunk.rend()) {
        end -= static_cast<uint64_t>(it - chunk.rbegin());
        break;
      }
      end -= n;
    }
    data_end_ = end;
    return end;
  }

 private:
  tl::expected<void, std::string> read_exact(uint64_t off, char* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(off + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return tl::unexpected(fmt::format("{}: read at offset {}: {}", path_, off + done, errno_text(errno)));
      }
      // Nothing else writes the spool during recovery; a shrinking file means something is wrong
      // with the environment, not with the data, so refuse rather than guess.
      if (r == 0) return tl::unexpected(fmt::format("{}: file shrank while reading at offset {}", path_, off + done));
      done += static_cast<std::size_t>(r);
    }
    return {};
  }

  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string buf_;
  uint64_t buf_off_ = 0;
  std::optional<uint64_t> data_end_;
};

std::string_view type_name(uint8_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::accept: return "ACCEPT";
    case RecordType::accept_ext: return "ACCEPT";
    case RecordType::outcome: return "OUTCOME";
    case RecordType::idempotent: return "IDEMPOTENT";
  }
  return "unknown-type";
}

// " id 'x'" when the leading id of damaged bytes looks like an id; helps an operator find the
// message a lost record belonged to. Damaged bytes are untrusted: printable ASCII only, short.
std::string id_hint(std::string_view payload) {
  const auto id = peek_record_id(payload);
  if (!id || id->empty() || id->size() > 128) return "";
  const bool printable = std::all_of(id->begin(), id->end(), [](char c) { return c > 0x20 && c < 0x7f; });
  return printable ? fmt::format(" id '{}'", *id) : "";
}

class Recovery {
 public:
  explicit Recovery(RecoveryOptions options) : options_(options) {}
  tl::expected<void, std::string> read_file(const std::string& path, const std::string& name);

  RecoveredSpool finish() {
    if (suppressed_ > 0) {
      out_.report.warnings.push_back(fmt::format("... {} more warnings suppressed", suppressed_));
    }
    return std::move(out_);
  }

 private:
  void warn(std::string w) {
    if (out_.report.warnings.size() < kMaxRecoveryWarnings) {
      out_.report.warnings.push_back(std::move(w));
    } else {
      ++suppressed_;
    }
  }
  void apply_accept(const std::string& name, uint64_t pos, uint64_t record_end, AcceptRecord r);
  void apply_outcome(const std::string& name, uint64_t pos, OutcomeRecord r);

  RecoveryOptions options_;
  RecoveredSpool out_;
  std::unordered_map<std::string, std::size_t> index_;  // id -> position in out_.messages
  std::size_t suppressed_ = 0;
};

void Recovery::apply_accept(const std::string& name, uint64_t pos, uint64_t record_end, AcceptRecord r) {
  if (index_.count(r.id) != 0) {
    // The first ACCEPT is the one that was acknowledged; outcomes already applied refer to it.
    warn(fmt::format("{}: offset {}: duplicate ACCEPT for id '{}' ignored", name, pos, r.id));
    return;
  }
  Message m;
  m.id = std::move(r.id);
  m.from = std::move(r.from);
  m.created_at_ms = r.created_at_ms;
  m.recipients.reserve(r.recipients.size());
  for (auto& address : r.recipients) {
    Recipient rcpt;
    rcpt.address = std::move(address);
    rcpt.updated_at_ms = r.created_at_ms;
    m.recipients.push_back(std::move(rcpt));
  }
  for (auto& [k, v] : r.ext) {
    if (k == "owner") m.owner = std::move(v);
    else if (k == "tags") m.tags_json = std::move(v);
    else if (k == "metadata") m.metadata_json = std::move(v);
    else if (k == "idempotency") m.idempotency = std::move(v);
    else if (k == "send_at") m.send_at_ms = std::strtoll(v.c_str(), nullptr, 10);
  }
  // The body is the payload's last field, so it ends where the record ends.
  m.body_at = BodyLocation{static_cast<uint32_t>(out_.files.size() - 1), record_end - r.body.size(),
                           static_cast<uint32_t>(r.body.size())};
  if (options_.load_bodies) m.body = std::make_shared<const std::string>(r.body);  // r.body views the read buffer
  index_.emplace(m.id, out_.messages.size());
  out_.messages.push_back(std::move(m));
  ++out_.report.accepts;
}

void Recovery::apply_outcome(const std::string& name, uint64_t pos, OutcomeRecord r) {
  ++out_.report.outcomes;
  const auto it = index_.find(r.id);
  if (it == index_.end()) {
    ++out_.report.orphan_outcomes;
    return;
  }
  Message& m = out_.messages[it->second];
  if (r.recipient_index >= m.recipients.size()) {
    warn(fmt::format("{}: offset {}: OUTCOME for id '{}' names recipient {} of {}; ignored", name, pos, r.id,
                     r.recipient_index, m.recipients.size()));
    return;
  }
  Recipient& rcpt = m.recipients[r.recipient_index];
  // A final state is a promise made to the submitter (delivered, or a bounce generated); a
  // late "deferred" from a racing attempt must not resurrect the recipient and send it twice.
  if (is_final(rcpt.state) && !is_final(r.state)) return;
  rcpt.state = r.state;
  rcpt.attempts = r.attempts;
  rcpt.last_reply = std::move(r.reply);
  rcpt.updated_at_ms = r.at_ms;
}

// Reads records until the end of the file or the first damage that cannot be stepped over.
// Damage classes (docs/spool.md "Recovery"):
//   zero tail     - only zero bytes from here on (preallocated space): clean end, no loss.
//   torn tail     - a record that is incomplete and followed by nothing but zeros: the last
//                   write was interrupted; it was never fdatasync'ed, so never acknowledged.
//   corrupt       - a record with a sane length but a bad crc followed by more data: skipped by
//                   its length. Bad magic or an insane length with data after it: we do not know
//                   where the next record starts, so the rest of the file is given up.
// We never resynchronise by scanning for the magic: bodies are submitter-controlled bytes and
// may contain a well-formed frame, e.g. a forged OUTCOME marking a recipient delivered.
tl::expected<void, std::string> Recovery::read_file(const std::string& path, const std::string& name) {
  SpoolFile f;
  if (auto r = f.open(path); !r) return r;
  RecoveryReport& rep = out_.report;
  ++rep.files;
  out_.files.push_back(name);

  uint64_t pos = 0;
  while (pos < f.size()) {
    const uint64_t rem = f.size() - pos;
    if (rem < kRecordHeaderSize) {
      auto end = f.data_end();
      if (!end) return tl::unexpected(end.error());
      if (*end <= pos) {
        ++rep.zero_tails;
      } else {
        ++rep.torn_tails;
        warn(fmt::format("{}: torn tail at offset {}: {} bytes of a record header dropped", name, pos, rem));
      }
      return {};
    }
    auto hbytes = f.view(pos, kRecordHeaderSize);
    if (!hbytes) return tl::unexpected(hbytes.error());
    const RecordHeader h = decode_header(*hbytes);

    if (h.magic != kRecordMagic) {
      auto end = f.data_end();
      if (!end) return tl::unexpected(end.error());
      if (*end <= pos) {
        ++rep.zero_tails;
        return {};
      }
      // A magic that is partly present and partly zero, with only zeros after it: the write
      // stopped inside the magic itself.
      bool partial_magic = *end <= pos + 4;
      for (int i = 0; i < 4 && partial_magic; ++i) {
        const auto b = static_cast<unsigned char>((*hbytes)[i]);
        partial_magic = b == 0 || b == ((kRecordMagic >> (8 * i)) & 0xff);
      }
      if (partial_magic) {
        ++rep.torn_tails;
        warn(fmt::format("{}: torn tail at offset {}: partial record magic dropped", name, pos));
      } else {
        ++rep.corrupt_records;
        warn(fmt::format("{}: corrupt data at offset {} (bad magic 0x{:08x}): the remaining {} bytes are lost",
                         name, pos, h.magic, rem));
      }
      return {};
    }

    if (h.payload_length > kMaxRecordPayload) {
      ++rep.corrupt_records;
      warn(fmt::format("{}: corrupt record at offset {} (length {} exceeds the {} byte cap): the remaining {} bytes "
                       "are lost",
                       name, pos, h.payload_length, kMaxRecordPayload, rem));
      return {};
    }
    const uint64_t end_of_record = pos + kRecordHeaderSize + h.payload_length;
    if (end_of_record > f.size()) {
      // Truncated record: the file ends before the length says it should.
      const std::size_t have = static_cast<std::size_t>(rem - kRecordHeaderSize);
      auto partial = f.view(pos + kRecordHeaderSize, have);
      if (!partial) return tl::unexpected(partial.error());
      ++rep.torn_tails;
      warn(fmt::format("{}: torn tail at offset {}: {} record{} truncated ({} of {} payload bytes present)", name, pos,
                       type_name(h.type), id_hint(*partial), have, h.payload_length));
      return {};
    }

    auto payload = f.view(pos + kRecordHeaderSize, h.payload_length);
    if (!payload) return tl::unexpected(payload.error());
    if (record_crc(h.type, *payload) != h.crc) {
      auto end = f.data_end();
      if (!end) return tl::unexpected(end.error());
      if (*end <= end_of_record) {
        ++rep.torn_tails;
        warn(fmt::format("{}: torn tail at offset {}: {} record{} incomplete (crc mismatch, only zeros follow)", name,
                         pos, type_name(h.type), id_hint(*payload)));
        return {};
      }
      ++rep.corrupt_records;
      warn(fmt::format("{}: corrupt record at offset {} skipped: {} record{} of {} bytes, crc mismatch", name, pos,
                       type_name(h.type), id_hint(*payload), h.payload_length));
      pos = end_of_record;
      continue;
    }

    // The crc matched, so any failure below is a writer bug or a format from a newer version,
    // not disk damage; the frame is still sound, so step over it and keep going.
    switch (static_cast<RecordType>(h.type)) {
      case RecordType::accept:
      case RecordType::accept_ext: {
        auto r = decode_accept_payload(*payload, static_cast<RecordType>(h.type));
        if (r) {
          apply_accept(name, pos, end_of_record, std::move(*r));
        } else {
          ++rep.corrupt_records;
          warn(fmt::format("{}: offset {}: undecodable record{} skipped: {}", name, pos, id_hint(*payload), r.error()));
        }
        break;
      }
      case RecordType::outcome: {
        auto r = decode_outcome_payload(*payload);
        if (r) {
          apply_outcome(name, pos, std::move(*r));
        } else {
          ++rep.corrupt_records;
          warn(fmt::format("{}: offset {}: undecodable record{} skipped: {}", name, pos, id_hint(*payload), r.error()));
        }
        break;
      }
      case RecordType::idempotent: {
        auto r = decode_idempotent_payload(*payload);
        if (r) {
          out_.idempotent.push_back(RecoveredIdempotent{std::move(*r), static_cast<uint32_t>(out_.files.size() - 1)});
        } else {
          ++rep.corrupt_records;
          warn(fmt::format("{}: offset {}: undecodable IDEMPOTENT record skipped: {}", name, pos, r.error()));
        }
        break;
      }
      default:
        ++rep.corrupt_records;
        warn(fmt::format("{}: offset {}: record of unknown type {} ({} bytes) skipped", name, pos, h.type,
                         h.payload_length));
        break;
    }
    pos = end_of_record;
  }
  return {};
}

}  // namespace

tl::expected<RecoveredSpool, std::string> recover_spool(const std::string& dir, RecoveryOptions options) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return tl::unexpected(fmt::format("{}: {}", dir, ec.message()));
  }
  if (!fs::exists(st)) {
    fs::create_directories(dir, ec);
    if (ec) return tl::unexpected(fmt::format("{}: cannot create spool directory: {}", dir, ec.message()));
    return RecoveredSpool{};
  }
  if (!fs::is_directory(st)) return tl::unexpected(fmt::format("{}: not a directory", dir));

  std::vector<std::string> names;
  fs::directory_iterator it(dir, ec);
  if (ec) return tl::unexpected(fmt::format("{}: {}", dir, ec.message()));
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return tl::unexpected(fmt::format("{}: {}", dir, ec.message()));
    std::string name = it->path().filename().string();
    if (name.size() <= 4 || !name.ends_with(".log")) continue;
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;  // directories, sockets, dangling symlinks
    names.push_back(std::move(name));
  }
  if (ec) return tl::unexpected(fmt::format("{}: {}", dir, ec.message()));
  std::sort(names.begin(), names.end());

  Recovery recovery(options);
  for (const auto& name : names) {
    const std::string path = (fs::path(dir) / name).string();
    if (auto r = recovery.read_file(path, name); !r) return tl::unexpected(r.error());
  }
  return recovery.finish();
}

std::string spool_file_name(int64_t now_ms, uint32_t sequence) {
  return fmt::format("spool-{:020}-{:010}.log", std::max<int64_t>(now_ms, 0), sequence);
}

}  // namespace ringpost::queue
