// A per-test scratch directory from mkdtemp(3), removed when the test passes and kept (path
// printed) when it fails, so the spool, configs and server logs can be inspected.
// Mode 0755 so helpers that drop to user nobody (smtp-sink) can reach their subdirectories.
#pragma once

#include <filesystem>

namespace ringpost::it {

class TempDir {
 public:
  TempDir();  // aborts the test (ADD_FAILURE + empty path) if mkdtemp fails
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

}  // namespace ringpost::it
