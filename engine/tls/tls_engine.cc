// See tls_engine.h. OpenSSL talks to a minimal BIO_METHOD whose read and write land in buffers
// this engine owns, instead of BIO_new_bio_pair: the pair's zero-copy calls (BIO_nwrite0) hand
// out a pointer that moves when OpenSSL drains the ring buffer (it resets the offset to 0 on
// empty), so a recv SQE in flight could write bytes OpenSSL never sees; and a full pair makes
// SSL_write return WANT_WRITE with half a record held inside OpenSSL. Owning the buffers gives
// the stable-address contract io_uring needs and a writer that never refuses (ADR 0001).
#include "engine/tls/tls_engine.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include <fmt/format.h>

#include "engine/tls/openssl_error.h"

namespace ringpost::tls {
namespace {

// OpenSSL encrypts at most one record (16 KiB of plaintext) per call internally anyway; feeding
// it record-sized pieces lets write() stop at the high-water mark between records.
constexpr std::size_t kMaxPlainPerWrite = 16 * 1024;
// read() grows `out` by this much per SSL_read_ex; one full record's plaintext.
constexpr std::size_t kReadChunk = 16 * 1024;

// "[192.0.2.1]" and "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3 address literals) and "mx.example."
// (a DNS answer's absolute name) to what SNI and the certificate check expect.
std::string normalize_host(std::string_view h) {
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    if (h.size() > 5 && strncasecmp(h.data(), "IPv6:", 5) == 0) h.remove_prefix(5);
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  return std::string(h);
}

bool is_ip_literal(const std::string& h) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

TlsEngine* engine_of(BIO* b) { return static_cast<TlsEngine*>(BIO_get_data(b)); }

}  // namespace

std::string_view to_string(TlsEngine::Status s) {
  switch (s) {
    case TlsEngine::Status::ok: return "ok";
    case TlsEngine::Status::want_io: return "want_io";
    case TlsEngine::Status::closed: return "closed";
    case TlsEngine::Status::error: return "error";
  }
  return "?";
}

// ---- the BIO ----

BIO_METHOD* TlsEngine::bio_method() {
  // Built once per process and never freed: BIO_METHODs are immutable after setup and shared by
  // every shard; a function-local static makes the first use thread-safe.
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringpost-tls-engine");
    BIO_meth_set_read_ex(m, &TlsEngine::bio_read);
    BIO_meth_set_write_ex(m, &TlsEngine::bio_write);
    BIO_meth_set_ctrl(m, &TlsEngine::bio_ctrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

int TlsEngine::bio_read(BIO* b, char* buf, std::size_t len, std::size_t* n) {
  TlsEngine* e = engine_of(b);
  BIO_clear_retry_flags(b);
  *n = 0;
  const std::size_t avail = e->in_end_ - e->in_begin_;
  if (avail == 0) {
    // No retry flag at EOF: OpenSSL then asks BIO_eof() (bio_ctrl) and reports "unexpected eof"
    // rather than waiting forever for bytes that cannot come.
    if (!e->peer_eof_) BIO_set_retry_read(b);
    return 0;
  }
  const std::size_t k = std::min(len, avail);
  std::memcpy(buf, e->in_.get() + e->in_begin_, k);
  // Only advance. Rewinding to 0 when empty (what a BIO pair does) would move the write
  // position under a recv that is still in flight; input_buffer() rewinds instead.
  e->in_begin_ += k;
  *n = k;
  return 1;
}

int TlsEngine::bio_write(BIO* b, const char* buf, std::size_t len, std::size_t* n) {
  // Never refuses: back-pressure lives in write(), between records, so OpenSSL never holds a
  // partially written record that would have to be retried with the same arguments.
  engine_of(b)->append_output(buf, len);
  *n = len;
  return 1;
}

long TlsEngine::bio_ctrl(BIO* b, int cmd, long, void*) {
  TlsEngine* e = engine_of(b);
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // nothing buffered below us; the driver sends
    case BIO_CTRL_PENDING: return static_cast<long>(e->in_end_ - e->in_begin_);
    case BIO_CTRL_WPENDING: return static_cast<long>(e->out_pending_);
    case BIO_CTRL_EOF: return e->peer_eof_ && e->in_end_ == e->in_begin_;
    default: return 0;  // includes the kTLS queries: no kernel TLS under a memory BIO
  }
}

void TlsEngine::append_output(const char* p, std::size_t n) {
  while (n > 0) {
    if (out_.empty() || out_.back().end == kOutputBlock) {
      OutBlock blk;
      blk.data = spare_block_ ? std::move(spare_block_) : std::unique_ptr<char[]>(new char[kOutputBlock]);
      out_.push_back(std::move(blk));
    }
    OutBlock& blk = out_.back();
    const std::size_t k = std::min(n, kOutputBlock - blk.end);
    // Writes only past blk.end: bytes a peeked view covers ([begin, end) at peek time) never
    // change, and blocks are heap arrays that do not move when the deque grows.
    std::memcpy(blk.data.get() + blk.end, p, k);
    blk.end += k;
    out_pending_ += k;
    p += k;
    n -= k;
  }
}

// ---- construction ----

tl::expected<std::unique_ptr<TlsEngine>, std::string> TlsEngine::client(SSL_CTX* ctx, const std::string& host_in,
                                                                       SSL_SESSION* resume) {
  std::unique_ptr<TlsEngine> e(new TlsEngine());
  e->host_ = normalize_host(host_in);
  e->verify_enforced_ = (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0;
  if (e->verify_enforced_ && e->host_.empty())
    return tl::unexpected(std::string("TLS verification requested without a host name to check"));
  e->in_.reset(new char[kInputCapacity]);

  ERR_clear_error();
  e->ssl_ = SSL_new(ctx);
  if (!e->ssl_) return tl::unexpected(fmt::format("SSL_new: {}", drain_openssl_errors()));
  BIO* bio = BIO_new(bio_method());
  if (!bio) return tl::unexpected(fmt::format("BIO_new: {}", drain_openssl_errors()));
  BIO_set_data(bio, e.get());
  SSL_set_bio(e->ssl_, bio, bio);  // one BIO for both directions: SSL takes its one reference
  SSL_set_app_data(e->ssl_, e.get());  // for on_new_session
  SSL_set_connect_state(e->ssl_);
  // write() may pass the unwritten rest from a different address than last time.
  SSL_set_mode(e->ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (!e->host_.empty()) {
    const bool ip = is_ip_literal(e->host_);
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    if (!ip && SSL_set_tlsext_host_name(e->ssl_, e->host_.c_str()) != 1)
      return tl::unexpected(fmt::format("cannot set SNI '{}': {}", e->host_, drain_openssl_errors()));
    // Set the identity in both modes: enforced, it fails the handshake; opportunistic, the
    // mismatch still shows in peer_verify_result() for the delivery status. RFC 6125 §6.4.3:
    // a wildcard only as the whole leftmost label.
    X509_VERIFY_PARAM* param = SSL_get0_param(e->ssl_);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, e->host_.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, e->host_.c_str(), 0);
    if (set != 1)
      return tl::unexpected(fmt::format("cannot set peer identity '{}': {}", e->host_, drain_openssl_errors()));
  }
  // A session OpenSSL cannot use (other protocol version, expired) just means a full
  // handshake, so a failure here is not an error.
  if (resume && SSL_set_session(e->ssl_, resume) != 1) ERR_clear_error();
  return e;
}

TlsEngine::~TlsEngine() {
  if (ssl_) SSL_free(ssl_);  // frees the BIO too
}

// ---- network side ----

std::span<char> TlsEngine::input_buffer() {
  if (!in_span_out_) {
    // Repositioning is safe only here, while no recv can be writing into the buffer.
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
    } else if (in_begin_ > 0 && kInputCapacity - in_end_ < kInputCapacity / 4) {
      std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    in_span_out_ = true;
  }
  return {in_.get() + in_end_, kInputCapacity - in_end_};
}

void TlsEngine::commit_input(std::size_t n) {
  assert(in_span_out_ && n <= kInputCapacity - in_end_);
  in_end_ += std::min(n, kInputCapacity - in_end_);
  in_span_out_ = false;
}

std::size_t TlsEngine::feed_input(std::string_view ciphertext) {
  assert(!in_span_out_);
  if (in_span_out_) return 0;  // a recv may be writing there: refuse rather than corrupt
  std::span<char> room = input_buffer();
  const std::size_t k = std::min(room.size(), ciphertext.size());
  std::memcpy(room.data(), ciphertext.data(), k);
  commit_input(k);
  return k;
}

void TlsEngine::on_peer_eof() { peer_eof_ = true; }

std::string_view TlsEngine::peek_output() const {
  if (out_.empty()) return {};
  const OutBlock& b = out_.front();
  return {b.data.get() + b.begin, b.end - b.begin};
}

void TlsEngine::consume_output(std::size_t n) {
  if (out_.empty()) return;
  OutBlock& b = out_.front();
  assert(n <= b.end - b.begin);
  n = std::min(n, b.end - b.begin);
  b.begin += n;
  out_pending_ -= n;
  if (b.begin == b.end) {
    // Drained and sent: nobody holds a view into it any more. Keep one block so a chatty
    // command phase does not malloc per reply.
    if (!spare_block_) spare_block_ = std::move(b.data);
    out_.pop_front();
  }
}

// ---- TLS operations ----

void TlsEngine::set_error(std::string text) {
  failed_ = true;
  last_error_ = std::move(text);
}

TlsEngine::Status TlsEngine::fail(int ret, const char* what) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      ERR_clear_error();
      if (peer_eof_ && in_begin_ == in_end_) {
        set_error(fmt::format("{}: connection closed by {}", what, host_));
        return Status::error;
      }
      return Status::want_io;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      peer_closed_ = true;
      return Status::closed;
    default: break;
  }
  std::string detail = drain_openssl_errors();
  if (detail.empty())
    detail = peer_eof_ ? "connection closed without close_notify" : fmt::format("SSL error {}", err);
  const long vr = SSL_get_verify_result(ssl_);
  if (!handshake_done_ && verify_enforced_ && vr != X509_V_OK) {
    set_error(fmt::format("{}: certificate verification failed for {}: {} ({})", what, host_,
                          X509_verify_cert_error_string(vr), detail));
  } else {
    set_error(fmt::format("{} with {}: {}", what, host_.empty() ? "peer" : host_, detail));
  }
  return Status::error;
}

TlsEngine::Status TlsEngine::handshake() {
  if (failed_) return Status::error;
  if (handshake_done_) return Status::ok;
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_done_ = true;
    return Status::ok;
  }
  return fail(r, "TLS handshake");
}

TlsEngine::Status TlsEngine::write(std::string_view plain, std::size_t& written) {
  written = 0;
  if (failed_) return Status::error;
  if (shutdown_sent_) return Status::closed;
  if (!handshake_done_) {
    if (Status s = handshake(); s != Status::ok) return s;
  }
  while (written < plain.size()) {
    // Checked between records, never inside one: see bio_write.
    if (out_pending_ >= kOutputHighWater) return Status::want_io;
    const std::size_t chunk = std::min(plain.size() - written, kMaxPlainPerWrite);
    std::size_t n = 0;
    ERR_clear_error();
    const int r = SSL_write_ex(ssl_, plain.data() + written, chunk, &n);
    if (r != 1) return fail(r, "TLS write");
    written += n;
  }
  return Status::ok;
}

TlsEngine::Status TlsEngine::read(std::string& out) {
  if (failed_) return Status::error;
  if (peer_closed_) return Status::closed;
  if (!handshake_done_) {
    if (Status s = handshake(); s != Status::ok) return s;
  }
  bool appended = false;
  for (;;) {
    // Decrypt straight into the caller's string; the zero fill of resize() is cheap next to
    // the decryption and saves a second copy out of a scratch buffer.
    const std::size_t old = out.size();
    out.resize(old + kReadChunk);
    std::size_t n = 0;
    ERR_clear_error();
    const int r = SSL_read_ex(ssl_, out.data() + old, kReadChunk, &n);
    out.resize(old + (r == 1 ? n : 0));
    if (r == 1) {
      appended = true;
      continue;
    }
    // NewSessionTicket and other post-handshake messages are handled inside SSL_read_ex
    // (SSL_MODE_AUTO_RETRY) and surface, if at all, through on_new_session.
    const Status s = fail(r, "TLS read");
    if (s == Status::want_io && appended) return Status::ok;
    return s;
  }
}

void TlsEngine::shutdown() {
  if (failed_ || !handshake_done_ || shutdown_sent_) return;
  shutdown_sent_ = true;
  ERR_clear_error();
  // Returns 0 ("sent, peer's not yet seen") or 1; either way close_notify is now in our output.
  // We do not wait for the peer's: RFC 8446 §6.1 lets the initiator close without it.
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

// ---- sessions ----

int TlsEngine::on_new_session(SSL* ssl, SSL_SESSION* s) {
  auto* e = static_cast<TlsEngine*>(SSL_get_app_data(ssl));
  // Returning 0 leaves the reference with OpenSSL; 1 means we keep it.
  if (!e || !SSL_SESSION_is_resumable(s)) return 0;
  e->new_session_.reset(s);  // TLS 1.3 servers send several tickets: keep the newest
  return 1;
}

void TlsEngine::enable_session_capture(SSL_CTX* ctx) {
  // The callback only runs with client caching on; NO_INTERNAL_STORE because the per-shard
  // SessionCache is the store (OpenSSL's would be a second, locked, cross-thread one).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &TlsEngine::on_new_session);
}

SessionPtr TlsEngine::take_new_session() { return std::move(new_session_); }

SessionPtr TlsEngine::session_for_resumption() const {
  SessionPtr s(SSL_get1_session(ssl_));
  if (s && !SSL_SESSION_is_resumable(s.get())) s.reset();
  return s;
}

// ---- results ----

bool TlsEngine::session_reused() const { return handshake_done_ && SSL_session_reused(ssl_) == 1; }

std::string TlsEngine::protocol() const { return handshake_done_ ? SSL_get_version(ssl_) : std::string(); }

std::string TlsEngine::cipher() const {
  const SSL_CIPHER* c = handshake_done_ ? SSL_get_current_cipher(ssl_) : nullptr;
  return c ? SSL_CIPHER_get_name(c) : std::string();
}

std::string TlsEngine::peer_verify_result() const {
  if (!handshake_done_) return {};
  // Kept in the session, so a resumed handshake reports the original verification.
  if (!SSL_get0_peer_certificate(ssl_)) return "no peer certificate";
  return X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
}

bool TlsEngine::peer_verified() const {
  return handshake_done_ && SSL_get0_peer_certificate(ssl_) && SSL_get_verify_result(ssl_) == X509_V_OK;
}

}  // namespace ringpost::tls
