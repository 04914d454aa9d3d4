// Turns OpenSSL's thread-local error queue into text for logs and delivery status. Call on the
// thread that made the failing OpenSSL call (the queue is per thread); draining empties it, so
// the next operation starts clean.
#pragma once

#include <string>

namespace ringpost::tls {

// Every queued error, oldest first, joined by "; ", e.g.
// "error:0A000086:SSL routines::certificate verify failed". Empty if the queue is empty.
std::string drain_openssl_errors();

}  // namespace ringpost::tls
