// Test helper: a fresh directory under /tmp (mkdtemp), removed with its contents on scope exit.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace ringpost::queue::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ringpost-queue-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

  void write(std::string_view name, std::string_view bytes) const {
    std::ofstream out(file(name), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << "writing " << file(name);
  }

  // Empties the directory, keeping it.
  void clear() const {
    for (const auto& e : std::filesystem::directory_iterator(path_)) std::filesystem::remove_all(e.path());
  }

 private:
  std::string path_;
};

}  // namespace ringpost::queue::testing
