// Runs smtp_probe.py (python smtplib, independent of ringpost) against an MX: what it offered in
// EHLO before and after STARTTLS, and how many messages it took. Blocking, bounded; any thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::interop {

class MxServer;

struct ProbeRequest {
  std::vector<std::string> recipients;  // empty: "probe@<first domain>"
  int count = 1;
  std::string subject = "interop probe";
  bool starttls = false;
  // Verify the server against this CA file (and the host IP in its subjectAltName); empty: no
  // verification.
  std::filesystem::path cafile;
  // Instead of sending messages, write commands ahead whatever the server offered, and report
  // the replies (ProbeResult::pipelined_*): kMailRcpt writes MAIL FROM and RCPT TO together (legal
  // only when PIPELINING was offered), kWholeTransaction writes MAIL, RCPT, DATA, the content
  // and QUIT together (never legal: content before DATA's 354).
  enum class PipelineAnyway { kNo, kMailRcpt, kWholeTransaction };
  PipelineAnyway pipeline_anyway = PipelineAnyway::kNo;
  std::chrono::milliseconds timeout{60000};
};

struct ProbeResult {
  std::set<std::string> ehlo_keywords;      // upper case, first word only ("SIZE", "STARTTLS")
  std::set<std::string> tls_ehlo_keywords;  // after STARTTLS
  std::string tls_version;                  // "TLSv1.3"; empty without STARTTLS
  std::vector<std::string> message_ids;     // one per message sent, in order
  std::vector<int> pipelined_reply_codes;   // pipeline_anyway: replies read before an error
  bool pipelined_closed = false;            // pipeline_anyway: the server hung up
  std::string output;                       // the script's whole output
};

// Error when the script fails (its output says why: refused, TLS verification, ...).
tl::expected<ProbeResult, std::string> probe_smtp(const MxServer& mx, const ProbeRequest& request);

}  // namespace ringpost::interop
