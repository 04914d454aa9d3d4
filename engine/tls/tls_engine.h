// A sans-IO TLS client: OpenSSL runs over in-memory buffers that this object owns, and never sees
// a file descriptor, so the shard's io_uring loop keeps doing every recv and send (ADR 0001).
// Owned by one shard and touched only on its thread. Invariant: a span or view handed to the
// driver (input_buffer(), peek_output()) keeps its address and contents until the matching
// commit_input() / consume_output(), whatever other calls happen in between; that is what lets
// a recv or send SQE point straight into it. RFC 3207 (STARTTLS), RFC 8446 / RFC 5246 (TLS).
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "engine/tls/ssl_ptr.h"

namespace ringpost::tls {

// Driver contract (io_uring; one recv and at most one send in flight per connection):
//
//  Ciphertext in (server -> us), zero copy:
//    std::span<char> buf = input_buffer();     // arm recv(fd, buf.data(), buf.size())
//    ... recv CQE with res > 0:  commit_input(res);  then handshake() or read()
//    ... recv CQE with res == 0: on_peer_eof();      then handshake() or read() (they now fail
//                                                    or report closed instead of want_io)
//    The span stays valid, at the same address, until commit_input(), even if handshake(),
//    read(), write(), peek_output() or consume_output() run while the recv is in flight. Only
//    one input span may be outstanding: call input_buffer() again only after commit_input()
//    (commit_input(0) releases it unused). feed_input() copies instead, for callers whose bytes
//    already sit in a buffer of their own (tests, provided-buffer rings); it must not be used
//    while a span is outstanding.
//
//  Ciphertext out (us -> server), zero copy:
//    std::string_view out = peek_output();     // if non-empty and no send in flight:
//                                              // send(fd, out.data(), out.size())
//    ... send CQE with res > 0:  consume_output(res); peek again (more may be queued)
//    The view stays valid, with the same bytes, until consume_output() or the engine's
//    destruction, even if write()/read()/handshake()/shutdown() append more ciphertext
//    meanwhile (appends go to later storage; nothing queued is ever moved). peek_output()
//    returns the first contiguous chunk only (at most kOutputBlock bytes); output_pending() is
//    the total. After EVERY call that can produce output (handshake, read, write, shutdown, and
//    also a call that returned error: OpenSSL queues a fatal alert) check peek_output().
//
//  Plaintext: write() encrypts into the output queue and stops at kOutputHighWater pending
//  bytes (Status::want_io, `written` says how much it took): send, consume, call again with the
//  rest. read() appends every plaintext byte available. Neither ever needs the driver to
//  "retry with the same arguments": the output queue never refuses OpenSSL's writes, so
//  OpenSSL is never left holding a half-written record.
//
// Statuses are sticky where it matters: after error, every call returns error; after the peer's
// close_notify, read() returns closed.
class TlsEngine {
 public:
  enum class Status {
    ok,       // done (handshake complete / all of `plain` taken / plaintext appended)
    want_io,  // flush peek_output(), then feed more input (or, from write(): flush, call again)
    closed,   // the peer sent close_notify (read/handshake), or we called shutdown() (write)
    error,    // fatal; last_error() says why. Flush peek_output() (the alert) and close
  };

  // Contiguous storage sizes. kInputCapacity bounds one recv; kOutputBlock bounds one send;
  // kOutputHighWater bounds ciphertext queued per connection (write() back-pressure).
  static constexpr std::size_t kInputCapacity = 16 * 1024;
  static constexpr std::size_t kOutputBlock = 32 * 1024;
  static constexpr std::size_t kOutputHighWater = 128 * 1024;

  // A client for `host` (the MX or route host name, or an IP literal, optionally in brackets;
  // a trailing dot is ignored). Sets SNI when `host` is a name (RFC 6066 §3 forbids IP
  // literals there) and always sets the expected peer identity (SSL_set1_host: DNS name or
  // IP) so the verify result is meaningful even when the context does not enforce it.
  // `resume` is borrowed (the engine takes its own reference); nullptr = full handshake.
  // Fails when `ctx` enforces verification (SSL_VERIFY_PEER) and `host` is empty: a chain
  // check without a name check would accept any certificate the CA ever issued.
  static tl::expected<std::unique_ptr<TlsEngine>, std::string> client(SSL_CTX* ctx, const std::string& host,
                                                                      SSL_SESSION* resume);

  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;  // the BIO points at this object: never moves
  TlsEngine& operator=(const TlsEngine&) = delete;

  // Runs the handshake as far as the input allows. Call after each commit_input() until ok.
  Status handshake();

  // --- network side: ciphertext ---
  // recv target. Empty only if unread input fills the buffer (commits without handshake()/
  // read() in between): then run those first. Never arm a zero-length recv: its 0 result
  // would be indistinguishable from EOF.
  std::span<char> input_buffer();
  void commit_input(std::size_t n);      // n bytes of the last input_buffer() were received
  std::size_t feed_input(std::string_view ciphertext);  // copies; returns bytes taken
  void on_peer_eof();                    // the socket returned EOF; no more input will come

  std::string_view peek_output() const;  // next chunk to send; stable until consume_output()
  void consume_output(std::size_t n);    // n bytes of that chunk were sent
  std::size_t output_pending() const { return out_pending_; }

  // --- application side: plaintext ---
  // Takes as much of `plain` as fits under kOutputHighWater; `written` = bytes taken. ok when
  // all was taken; want_io when it stopped for back-pressure. Runs the handshake first if it
  // has not completed (and returns its status if that is not ok).
  Status write(std::string_view plain, std::size_t& written);
  // Appends all plaintext available to `out`. ok: something was appended; want_io: nothing
  // available yet; closed: close_notify received (anything before it was still appended);
  // error. Handle `out` whatever the status.
  Status read(std::string& out);
  // Queues our close_notify (RFC 8446 §6.1). No-op before the handshake completed or after an
  // error. Flush peek_output() afterwards; waiting for the peer's close_notify is optional.
  void shutdown();

  // --- results and diagnostics ---
  // Why the last call returned error: the OpenSSL error queue as text, prefixed with the
  // verification failure and host name when the certificate was rejected. Empty otherwise.
  std::string last_error() const { return last_error_; }
  // The newest session OpenSSL has marked resumable, or nullptr (TLS 1.3 before the server's
  // NewSessionTicket has been read). Caller owns the returned reference.
  SessionPtr session_for_resumption() const;
  // Sessions announced by OpenSSL's new-session callback since the last call (the newest
  // only), or nullptr. Requires the callback: ClientContext installs it, or call
  // enable_session_capture() on a context of your own. Check after handshake() and read():
  // TLS 1.2 sessions appear when the handshake ends, TLS 1.3 tickets whenever read() meets one.
  SessionPtr take_new_session();
  static void enable_session_capture(SSL_CTX* ctx);

  bool handshake_done() const { return handshake_done_; }
  bool session_reused() const;
  std::string protocol() const;            // "TLSv1.3"; empty before the handshake
  std::string cipher() const;              // "TLS_AES_256_GCM_SHA384"; empty before
  // "ok" when the chain and the host name verified; otherwise OpenSSL's text for the first
  // failure ("hostname mismatch", "unable to get local issuer certificate", ...). Recorded in
  // both verify modes; empty before the handshake.
  std::string peer_verify_result() const;
  bool peer_verified() const;              // handshake done and the result above is "ok"
  const std::string& host() const { return host_; }
  SSL* native_handle() { return ssl_; }

 private:
  struct OutBlock {
    std::unique_ptr<char[]> data;
    std::size_t begin = 0;
    std::size_t end = 0;
  };

  TlsEngine() = default;
  Status fail(int ret, const char* what);
  void set_error(std::string text);

  // BIO callbacks (see tls_engine.cc): OpenSSL reads our input and appends to our output.
  static BIO_METHOD* bio_method();
  static int bio_read(BIO* b, char* buf, std::size_t len, std::size_t* n);
  static int bio_write(BIO* b, const char* buf, std::size_t len, std::size_t* n);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);
  static int on_new_session(SSL* ssl, SSL_SESSION* s);
  void append_output(const char* p, std::size_t n);

  SSL* ssl_ = nullptr;  // owns the BIO
  std::string host_;
  bool verify_enforced_ = false;

  std::unique_ptr<char[]> in_;
  std::size_t in_begin_ = 0;  // [in_begin_, in_end_) received, not yet read by OpenSSL
  std::size_t in_end_ = 0;
  bool in_span_out_ = false;  // an input_buffer() span is outstanding
  bool peer_eof_ = false;

  std::deque<OutBlock> out_;                // front is what peek_output() shows
  std::unique_ptr<char[]> spare_block_;     // one drained block kept to avoid malloc churn
  std::size_t out_pending_ = 0;

  bool handshake_done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  bool shutdown_sent_ = false;
  std::string last_error_;
  SessionPtr new_session_;
};

std::string_view to_string(TlsEngine::Status s);

}  // namespace ringpost::tls
