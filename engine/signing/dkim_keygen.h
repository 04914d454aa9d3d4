// `ringpost dkim keygen`: makes a DKIM key pair, writes the private key (PEM, mode 0600, never
// over an existing file) and prints the DNS TXT record to publish and the config entry to add.
// Runs on the main thread of a one-shot command; no engine is started.
#pragma once

#include <string>

namespace ringpost::engine {

struct DkimKeygenOptions {
  std::string domain;
  std::string selector;
  std::string algorithm = "ed25519";  // "ed25519" | "rsa" (or the a= spellings)
  unsigned bits = 2048;               // RSA only
  bool bits_given = false;
  std::string out_dir = ".";
};

// The record goes to stdout (so it can be appended to a zone file), everything else to stderr.
// Returns the process exit code: 0, or 1 with the reason on stderr.
int run_dkim_keygen(const DkimKeygenOptions& opts);

}  // namespace ringpost::engine
