// What one SMTP transaction carries: a message, its sender and recipients, and the DSN requests
// (RFC 3461) that travel with them. Plain data, built by the shard that owns the session; the
// body is shared read-only. Invariant: none; ClientSession validates every field before any of
// it reaches the wire.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringpost::smtp {

// RFC 3461 requests, passed through to servers that offer DSN and silently dropped otherwise
// (the receiving MTA then applies its defaults, as RFC 3461 §5.2 expects of a relay that cannot
// pass them on). Values are raw: the session validates RET and NOTIFY and xtext-encodes ENVID
// and ORCPT; an invalid value is omitted rather than written.
struct Dsn {
  std::string ret;                  // "FULL" | "HDRS" | "" (server's default)
  std::string envid;                // "" = none
  std::vector<std::string> notify;  // per recipient: "NEVER", "SUCCESS,FAILURE,DELAY", ... or ""
  std::vector<std::string> orcpt;   // per recipient original address (written as rfc822), or empty
};

struct Envelope {
  uint64_t tag = 0;                         // the driver's handle, echoed in TransactionResult
  std::string from;                         // empty = null reverse-path "<>"
  std::vector<std::string> recipients;
  std::shared_ptr<const std::string> body;  // RFC 5322 message, not yet dot-stuffed; null = empty
  std::optional<Dsn> dsn;
};

}  // namespace ringpost::smtp
