// Options and results shared by the interop MX servers (PostfixMx, EximMx, OpenSmtpdMx): what a
// test asks for (domains, loopback address, port, STARTTLS, CHUNKING/PIPELINING) and what it
// reads back from the far side (delivered maildir files). Plain data; no thread affinity.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringpost::interop {

// A PEM certificate (or chain) and its unencrypted PEM key. The server copies both into its own
// directory with the owner and mode that server insists on, so the originals may live anywhere.
struct TlsFiles {
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

struct MxOptions {
  // Domains the server accepts mail for (any local part). The first one also names the host:
  // banner, EHLO and Received say "mx.<first domain>". Empty: the class default
  // ("postfix.test", "exim.test", "opensmtpd.test").
  std::vector<std::string> domains;
  // IPv4 loopback address to listen on. Empty: the class default (PostfixMx 127.0.0.2,
  // EximMx 127.0.0.3, OpenSmtpdMx 127.0.0.4), so the three can run side by side.
  std::string ip;
  // 0 (recommended): a free port is picked at start, so tests can run in parallel under ctest -j.
  uint16_t port = 0;
  // Offer STARTTLS with these files; nullopt: no STARTTLS in the EHLO reply.
  std::optional<TlsFiles> tls;
  // Force the EHLO keyword on (true) or off (false); nullopt keeps the server's default (on for
  // Postfix and Exim; OpenSMTPD offers neither and refuses `true`). How a client that writes
  // ahead anyway is treated: Exim (smtp_enforce_sync) and OpenSMTPD ("500 5.5.1 Pipelining not
  // supported") refuse MAIL+RCPT written together when PIPELINING is off; Postfix 3.7 serves it.
  // Content written before DATA's 354 (never legal) is refused by all three with PIPELINING off,
  // and by Postfix (smtpd_forbid_unauth_pipelining) but not Exim with it on.
  std::optional<bool> chunking;
  std::optional<bool> pipelining;
  // Bounded wait for the port to accept connections (LISTEN on ip:port); the harness contract
  // is at most 20 s.
  std::chrono::milliseconds start_timeout{20000};
};

// One delivered copy, read from the server's maildir. Each recipient gets its own file, so a
// message to two recipients of this server counts twice.
struct ReceivedMessage {
  std::filesystem::path file;
  // The envelope recipient this copy was delivered for, as the client wrote it (case kept):
  // Delivered-To (Postfix, OpenSMTPD) or Envelope-to (Exim).
  std::string recipient;
  // Header and body as stored (LF line ends), including the trace headers the server added
  // (Return-Path, Delivered-To, Received, ...).
  std::string content;

  // Value of the first header named `name` (case-insensitive), unfolded and trimmed; empty if
  // absent.
  std::string header(std::string_view name) const;
  // Everything after the blank line ending the header.
  std::string body() const;
};

}  // namespace ringpost::interop
