#include "tests/integration/spool_files.h"

#include <algorithm>

namespace ringpost::it {

SpoolFiles spool_files(const std::filesystem::path& dir) {
  SpoolFiles out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("spool-") || !name.ends_with(".log")) continue;
    out.names.insert(name);
    out.bytes += e.file_size(ec);
  }
  return out;
}

bool all_gone(const std::filesystem::path& dir, const std::set<std::string>& names) {
  const auto now = spool_files(dir).names;
  return std::none_of(names.begin(), names.end(), [&](const std::string& n) { return now.count(n); });
}

}  // namespace ringpost::it
