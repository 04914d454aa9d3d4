// smtp_probe.py launcher and output parser.
#include "tests/interop/smtp_probe.h"

#include <atomic>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

#include "tests/interop/interop_paths.h"
#include "tests/interop/mx_server.h"

namespace ringpost::interop {

tl::expected<ProbeResult, std::string> probe_smtp(const MxServer& mx, const ProbeRequest& request) {
  std::vector<std::string> argv = {kPython3,   (interop_source_dir() / "smtp_probe.py").string(),
                                   "--host",   mx.host(),
                                   "--port",   std::to_string(mx.port()),
                                   "--count",  std::to_string(request.count),
                                   "--subject", request.subject};
  std::vector<std::string> rcpts = request.recipients;
  if (rcpts.empty()) rcpts.push_back("probe@" + mx.domains().front());
  for (const auto& r : rcpts) argv.insert(argv.end(), {"--rcpt", r});
  if (request.starttls) argv.push_back("--starttls");
  if (!request.cafile.empty()) argv.insert(argv.end(), {"--cafile", request.cafile.string()});
  using P = ProbeRequest::PipelineAnyway;
  if (request.pipeline_anyway != P::kNo) {
    argv.insert(argv.end(), {"--pipeline-anyway", request.pipeline_anyway == P::kMailRcpt ? "mail-rcpt" : "whole"});
  }

  // A fresh output file per run, in the server's directory (kept with it when a test fails).
  static std::atomic<int> runs{0};
  auto out = run_to_completion(std::move(argv), mx.dir() / fmt::format("smtp_probe-{}.out", ++runs),
                               request.timeout);
  if (!out) return tl::unexpected("smtp_probe.py: " + out.error());

  ProbeResult r;
  r.output = *out;
  std::istringstream lines(*out);
  std::string line;
  bool done = false;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string kind, a, b;
    words >> kind >> a >> b;
    if (kind == "ehlo-keyword") r.ehlo_keywords.insert(a);
    if (kind == "tls-ehlo-keyword") r.tls_ehlo_keywords.insert(a);
    if (kind == "tls") r.tls_version = a;
    if (kind == "sent") r.message_ids.push_back(b);
    if (kind == "pipelined-reply") r.pipelined_reply_codes.push_back(std::atoi(a.c_str()));
    if (kind == "pipelined-closed") r.pipelined_closed = true;
    if (kind == "done") done = true;
  }
  if (!done) return tl::unexpected("smtp_probe.py did not finish; output:\n" + *out);
  return r;
}

}  // namespace ringpost::interop
