// Reading what an MX delivered, from its maildir (the far side): every server here delivers one
// file per recipient into <maildir>/new, written to tmp/ first and renamed, so a file that is
// visible is complete. Thread-agnostic; the servers keep writing while we read.
#pragma once

#include <filesystem>
#include <vector>

#include "tests/interop/mx_options.h"

namespace ringpost::interop {

// Regular files in new/ and cur/ (tmp/ holds deliveries still being written).
int count_maildir(const std::filesystem::path& maildir);
// The files in new/ and cur/, oldest first (mtime, then name), with recipient and content.
std::vector<ReceivedMessage> read_maildir(const std::filesystem::path& maildir);

}  // namespace ringpost::interop
