// mkdtemp-backed test directory.
#include "tests/integration/temp_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace ringpost::it {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ringpost-it-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << std::strerror(errno);
    return;
  }
  ::chmod(tmpl.c_str(), 0755);
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  const char* keep = std::getenv("RINGPOST_IT_KEEP");
  if (::testing::Test::HasFailure() || (keep != nullptr && *keep != '\0' && *keep != '0')) {
    std::fprintf(stderr, "[ringpost-it] kept test directory %s\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace ringpost::it
