// Launcher for scripted_smtp.py (aiosmtpd under /usr/bin/python3) and reader of its
// JSON-lines event log: what the far side saw, per session, RCPT attempt and message.
// Owned by one test thread; the python process is reaped by the destructor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/process.h"

namespace ringpost::it {

struct ScriptedRcpt {
  int session = 0;
  std::string address;
  int attempt = 0;      // 1-based, per address across sessions
  std::string reply;    // the full reply line we sent, e.g. "451 4.7.1 <b@x>: ..."
};

struct ScriptedMessage {
  int session = 0;
  std::string mail_from;
  std::vector<std::string> rcpt_tos;
  std::string subject;
  int64_t size = 0;
};

struct ScriptedLog {
  int connects = 0;
  int disconnects = 0;
  std::vector<ScriptedRcpt> rcpts;
  std::vector<ScriptedMessage> messages;

  int rcpt_attempts(std::string_view address) const;
};

class ScriptedSmtp {
 public:
  // mode: {"accept"}, {"reject"} or {"tempfail-first", "N"}.
  static tl::expected<ScriptedSmtp, std::string> start(const std::filesystem::path& dir, uint16_t port,
                                                       std::vector<std::string> mode);

  uint16_t port() const { return port_; }
  tl::expected<ScriptedLog, std::string> log() const;
  Process& process() { return process_; }

 private:
  ScriptedSmtp(Process p, std::filesystem::path log, uint16_t port)
      : process_(std::move(p)), log_file_(std::move(log)), port_(port) {}

  Process process_;
  std::filesystem::path log_file_;
  uint16_t port_;
};

}  // namespace ringpost::it
