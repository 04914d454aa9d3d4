// Postfix smtp-sink(1) on 127.0.0.1:<port> as the far side of delivery tests, run so that we
// can count from the sink's side what it received:
//   -D <dir>/dump  every completed transaction is appended to one dump file. smtp-sink
//                  captures a transaction to a private unlinked temp file and copies it to
//                  the shared file only when "." completes, *before* it sends the 250 reply;
//                  aborted transactions never reach the file. So the dump file holds exactly
//                  the transactions the client was (or is about to be) told were accepted.
//   -S marker      a line written before each transaction, so splitting cannot be fooled by
//                  message content.
//   -c             running counters "sess=N quit=N mesg=N" on stdout, updated when "." is
//                  received and when a session ends: a second, independent message count,
//                  and the only session count smtp-sink offers (counted at disconnect, so
//                  read it after the client is gone).
// Owned by one test thread; the smtp-sink process is reaped by the destructor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "tests/integration/process.h"

namespace ringpost::it {

struct SinkCounters {
  int sessions = 0;  // sessions that have ended
  int quits = 0;     // QUIT commands seen
  int messages = 0;  // "." completions
};

struct SinkMessage {
  std::string mail_from;            // MAIL FROM argument, e.g. "<a@x.test> SIZE=123"
  std::vector<std::string> rcpts;   // bare addresses from RCPT TO:<...>
  std::string helo;                 // EHLO/HELO argument
  std::string content;              // header + body as received (LF line ends)
};

class SmtpSink {
 public:
  // Starts smtp-sink on ip:port (any of 127.0.0.0/8 works on loopback without setup; "::1"
  // for IPv6) with its files under `dir` (created, and made writable for user nobody: as
  // root, smtp-sink must drop privileges with -u).
  // `extra_args` go before the address, e.g. {"-w", "1"} to delay every DATA reply by 1 s.
  static tl::expected<SmtpSink, std::string> start(const std::filesystem::path& dir, uint16_t port,
                                                   std::vector<std::string> extra_args = {},
                                                   std::string ip = "127.0.0.1");

  uint16_t port() const { return port_; }
  const std::string& ip() const { return ip_; }
  SinkCounters counters() const;
  // Parses the dump file. Cheap enough to call in a poll loop for a few thousand messages.
  std::vector<SinkMessage> messages() const;
  // Count only (no content copies), for poll loops.
  int message_count() const;
  Process& process() { return process_; }
  std::string describe() const;

 private:
  SmtpSink(Process p, std::filesystem::path dump, uint16_t port, std::string ip)
      : process_(std::move(p)), dump_file_(std::move(dump)), port_(port), ip_(std::move(ip)) {}

  Process process_;
  std::filesystem::path dump_file_;
  uint16_t port_;
  std::string ip_;
};

// Bare address from an SMTP path argument: "<b@x.test> NOTIFY=NEVER" -> "b@x.test".
std::string bare_address(std::string_view smtp_arg);

}  // namespace ringpost::it
