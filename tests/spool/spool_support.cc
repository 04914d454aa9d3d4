// See spool_support.h.
#include "tests/spool/spool_support.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

namespace ringpost::spool_it {
namespace {

constexpr uint64_t kHeader = 13;  // magic 4 + length 4 + crc 4 + type 1

uint32_t le32(const std::string& s, uint64_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3])) << 24;
}

}  // namespace

std::vector<std::filesystem::path> spool_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.starts_with("spool-") && name.ends_with(".log")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.filename().string() < b.filename().string(); });
  return out;
}

SpoolFileInfo parse_spool_file(const std::filesystem::path& file) {
  SpoolFileInfo info;
  info.path = file;
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  info.size = data.size();
  uint64_t pos = 0;
  while (pos + kHeader <= data.size()) {
    if (data.compare(pos, 4, "RPS1") != 0) break;
    const uint64_t len = le32(data, pos + 4);
    const uint64_t end = pos + kHeader + len;
    if (end > data.size()) break;
    SpoolRecordInfo r;
    r.offset = pos;
    r.end = end;
    r.type = static_cast<uint8_t>(data[pos + 12]);
    if (len >= 4) {
      const uint64_t id_len = le32(data, pos + kHeader);
      if (4 + id_len <= len) r.id = data.substr(pos + kHeader + 4, id_len);
    }
    info.records.push_back(std::move(r));
    pos = end;
  }
  info.valid_end = pos;
  return info;
}

uint64_t spool_bytes(const std::filesystem::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (const auto& f : spool_files(dir)) n += std::filesystem::file_size(f, ec);
  return n;
}

std::map<std::string, int> sink_recipient_counts(const it::SmtpSink& sink) {
  std::map<std::string, int> seen;
  for (const auto& m : sink.messages())
    for (const auto& r : m.rcpts) ++seen[r];
  return seen;
}

std::optional<int64_t> proc_status_bytes(pid_t pid, std::string_view field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    long long kib = 0;
    if (std::sscanf(line.c_str() + key.size(), "%lld", &kib) != 1) return std::nullopt;
    return static_cast<int64_t>(kib) * 1024;
  }
  return std::nullopt;
}

std::optional<std::vector<bool>> recovered_flags(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body.data(), body.size()).get(doc)) return std::nullopt;
  simdjson::dom::array rcpts;
  if (doc["recipients"].get(rcpts)) return std::nullopt;
  std::vector<bool> out;
  for (simdjson::dom::element r : rcpts) {
    bool flag = false;
    if (r["recovered"].get(flag)) flag = false;
    out.push_back(flag);
  }
  return out;
}

std::optional<std::string> id_of(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body.data(), body.size()).get(doc)) return std::nullopt;
  std::string_view id;
  if (doc["id"].get(id)) return std::nullopt;
  return std::string(id);
}

std::optional<SpoolStats> spool_stats_of(std::string_view body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body.data(), body.size()).get(doc)) return std::nullopt;
  simdjson::dom::object spool;
  if (doc["spool"].get(spool)) return std::nullopt;
  SpoolStats s;
  int64_t v = 0;
  if (!spool["segments"].get(v)) s.segments = v;
  if (!spool["bytes"].get(v)) s.bytes = v;
  if (!spool["write_errors"].get(v)) s.write_errors = v;
  return s;
}

uint64_t test_seed(std::string_view test_name) {
  uint64_t seed = 0;
  if (const char* env = std::getenv("RINGPOST_SPOOL_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  std::fprintf(stderr, "[ringpost-spool] %.*s: seed %llu (replay with RINGPOST_SPOOL_SEED=%llu)\n",
               static_cast<int>(test_name.size()), test_name.data(), static_cast<unsigned long long>(seed),
               static_cast<unsigned long long>(seed));
  return seed;
}

bool contains_number(std::string_view text, long long number) {
  const std::string n = std::to_string(number);
  for (std::size_t at = text.find(n); at != std::string_view::npos; at = text.find(n, at + 1)) {
    const bool left = at == 0 || !std::isdigit(static_cast<unsigned char>(text[at - 1]));
    const std::size_t after = at + n.size();
    const bool right = after >= text.size() || !std::isdigit(static_cast<unsigned char>(text[after]));
    if (left && right) return true;
  }
  return false;
}

}  // namespace ringpost::spool_it
