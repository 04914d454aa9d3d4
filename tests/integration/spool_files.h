// The spool's segment files as a test sees them on disk ("spool-*.log"), for checking what
// reclaim deleted or kept. Read from the directory itself, not from the server's own account.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

namespace ringpost::it {

struct SpoolFiles {
  std::set<std::string> names;
  uint64_t bytes = 0;
};

SpoolFiles spool_files(const std::filesystem::path& dir);

// True when none of `names` is still in dir.
bool all_gone(const std::filesystem::path& dir, const std::set<std::string>& names);

}  // namespace ringpost::it
