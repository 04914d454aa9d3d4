// The client side of ONE SMTP connection as a sans-IO state machine (RFC 5321 §3, §4; RFC 2920
// pipelining; RFC 3207 STARTTLS; RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3030
// CHUNKING, RFC 3461 DSN). Owned by the shard that owns the socket; never touches a socket,
// clock, thread or TLS library. Invariant: every recipient of a submitted envelope gets exactly
// one outcome, "delivered" only ever comes from a 2xx reply to the end of the message (the final
// dot or BDAT LAST), and a session that failed never becomes ready again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/body_scan.h"
#include "smtp/capabilities.h"
#include "smtp/envelope.h"
#include "smtp/phase.h"
#include "smtp/reply.h"
#include "smtp/reply_parser.h"
#include "smtp/reply_tally.h"

namespace ringpost::smtp {

enum class Outcome : uint8_t { delivered, deferred, bounced };

struct RecipientResult {
  Outcome outcome = Outcome::deferred;
  Reply reply;  // the server's reply that decided it, or a synthetic one (lost connection, ...)
};

struct TransactionResult {
  uint64_t tag = 0;
  std::vector<RecipientResult> recipients;  // same order as Envelope::recipients
};

enum class SessionState {
  greeting, ehlo, helo, starttls, tls_handshake, ready, in_transaction, resetting, quitting, closed, failed
};

enum class TlsMode : uint8_t {
  off,            // never send STARTTLS
  opportunistic,  // STARTTLS when offered; plain text when not offered or refused
  required,       // no mail in plain text: the session fails instead (4.7.5, transient)
};

struct SessionConfig {
  std::string ehlo_name;           // our host name for EHLO/HELO
  TlsMode tls = TlsMode::off;      // certificate checks are the driver's (it owns the TLS engine)
  bool use_chunking = true;        // BDAT (RFC 3030) when the server offers CHUNKING
  std::string peer_name{};         // names the server in synthetic replies, e.g.
                                   // "mx.dest.test[192.0.2.1]"; empty = the name it greeted with
};

std::string_view to_string(Outcome o);
std::string_view to_string(SessionState s);

// Driver contract:
//  - feed every received plaintext byte to on_bytes(); report EOF/errors with on_closed() and an
//    expired timer with on_timeout(). The timer to run is default_timeout(awaiting()) once
//    pending_output() is empty, and kDataBlockTimeout for each send while it is not;
//  - after any call, write pending_output() and report progress with consume_output(). The view
//    stays valid until the next non-const call. Consume bytes as soon as they are handed to the
//    kernel or the TLS engine: a reply is only matched to a command already consumed, and one
//    that arrives earlier fails the session (no server can answer what it has not received);
//  - when wants_tls() is true: stop feeding on_bytes(), run the TLS handshake on the socket
//    (verifying the peer as the policy says) and call on_tls_ready() or on_tls_failed(). From
//    then on, on_bytes() takes the decrypted bytes and pending_output() is written through TLS.
//    Bytes already received after the STARTTLS reply must NOT go to the TLS engine: the session
//    has seen them and failed (they are a response injection, see on_bytes());
//  - collect take_results() after any call; each submitted Envelope yields exactly one
//    TransactionResult (possibly at once, if it was rejected locally);
//  - when wants_close() is true, write what pending_output() still holds (best effort; it may be
//    a courtesy QUIT, whose reply need not be awaited) and close the socket.
class ClientSession {
 public:
  explicit ClientSession(SessionConfig cfg);

  // Server -> us; may complete several replies. While wants_tls(), and for any byte after the
  // 220 reply to STARTTLS in the same call, the bytes are discarded and the session fails:
  // plaintext that a man in the middle slipped in before the handshake must never be read as
  // replies inside the TLS session (the client side of the CVE-2011-0411 class).
  void on_bytes(std::string_view in);
  // Peer closed or socket error: everything in flight is deferred. After QUIT, or while idle
  // in ready, this is a clean end (state closed); otherwise the session fails.
  void on_closed();
  // The driver's timer for the current phase fired: defer in-flight, go to failed. With nothing
  // outstanding (idle in ready, or QUIT sent) it is a clean end (state closed).
  void on_timeout();
  // The driver's data-block timer fired: a write made no progress (the server stopped reading,
  // RFC 5321 §4.5.3.2.5). Like on_timeout(), but the reply names the stalled write.
  void on_send_timeout();
  // The TLS handshake that wants_tls() asked for succeeded: capabilities are forgotten and EHLO
  // is sent again (RFC 3207 §4.2). Ignored unless wants_tls().
  void on_tls_ready();
  // It failed: the session fails with 451 4.7.5 "TLS handshake failed: <why>". Whether to try
  // again without TLS is the driver's policy. Ignored unless wants_tls(); a TLS error after
  // the handshake is a lost connection (on_closed()).
  void on_tls_failed(std::string why);

  bool ready() const;           // can take submit() now (greeted, EHLO done, no transaction in flight)
  void submit(Envelope env);    // precondition: ready(); if not, every recipient is deferred at once
  void quit();                  // send QUIT when ready (after the current transaction); before
                                // the session is ready there is nothing to save: close at once

  std::string_view pending_output() const;  // bytes the driver must write next
  void consume_output(std::size_t n);       // the driver wrote n bytes of pending_output()
  std::vector<TransactionResult> take_results();

  SessionState state() const { return state_; }
  Phase awaiting() const;      // the oldest reply still owed by the server (starttls during the
                               // handshake); none when idle
  std::size_t replies_owed() const { return expect_.size(); }  // commands written or queued
                                                               // whose reply has not come
  bool wants_close() const { return wants_close_; }  // after QUIT's reply, a 421, a protocol
                                                      // error, a failure before ready
  bool wants_tls() const { return state_ == SessionState::tls_handshake; }  // nothing is written meanwhile
  bool tls_active() const { return tls_active_; }     // on_tls_ready() was called
  const Capabilities& capabilities() const { return caps_; }
  // Why the session failed (e.g. the 554 greeting, the 421, the synthetic timeout reply), for
  // the driver to defer queued mail with. Code 0 while the session has not failed.
  const Reply& failure_reply() const { return failure_reply_; }
  // Transactions that ran to their end on the wire (final reply, or abort + RSET sent), whatever
  // the recipients' outcomes. Not counted: envelopes rejected locally, and transactions cut off
  // by a 421, lost connection or timeout. For connection-reuse limits.
  std::size_t transactions_completed() const { return transactions_completed_; }
  // Replies received since the last call, by class (for the driver's metrics); zeroes the tally.
  ReplyTally take_reply_tally() { return std::exchange(reply_tally_, ReplyTally{}); }

 private:
  // One command whose reply is still owed. Replies arrive strictly in command order
  // (RFC 2920 §3.1), so a FIFO of these matches each reply to its command.
  struct Pending {
    Phase phase;
    uint32_t rcpt;    // index into Envelope::recipients for Phase::rcpt
    uint64_t end = 0;  // output offset just past the command (and its content): its reply
                       // is only credible once the driver has consumed that far
  };
  enum class RcptState : uint8_t { pending, accepted, settled };
  struct Transaction {
    Envelope env;
    std::vector<RecipientResult> results;
    std::vector<RcptState> states;
    BodyScan body;              // size, 8-bit, long lines: computed once in submit()
    bool smtputf8 = false;      // MAIL carries SMTPUTF8
    bool use_bdat = false;      // content goes as "BDAT n LAST", not DATA
    std::size_t next_rcpt = 0;  // without pipelining: the next recipient to send RCPT for
    std::size_t accepted = 0;   // RCPT 2xx seen and not yet settled
    // MAIL failed or no recipient was accepted: the remaining replies are only drained and the
    // transaction ends with RSET.
    bool aborting = false;
  };

  void handle_reply(const Reply& r);
  void on_greeting(const Reply& r);
  void on_ehlo(const Reply& r);
  void on_helo(const Reply& r);
  void on_starttls(const Reply& r);
  void on_mail(const Reply& r);
  void on_rcpt(uint32_t index, const Reply& r);
  void on_data(const Reply& r);
  void on_bdat(const Reply& r);
  void on_data_end(const Reply& r);
  void on_rset(const Reply& r);

  bool vet_envelope();  // local refusals; false when nothing is left to send
  void send(Phase phase, uint32_t rcpt = 0);  // writes the command and expects its reply
  void send_next_rcpt_or_data();              // without pipelining: one step after a reply
  std::string server_name() const;
  void begin_session_ready();
  void settle(std::size_t index, Outcome o, const Reply& r);
  void settle_in_flight(Outcome o, const Reply& r);
  void finish_transaction(bool on_wire, bool needs_rset);
  void fail(const Reply& why, bool say_quit);
  void drop_output();
  void connection_lost(std::string_view what);

  SessionConfig cfg_;
  SessionState state_ = SessionState::greeting;
  ReplyParser parser_;
  Reply reply_;  // the reply the parser just completed
  Capabilities caps_;
  std::string greeting_name_;  // the first word of the 220 greeting, printable ASCII only
  bool tls_active_ = false;
  std::deque<Pending> expect_;
  Transaction tx_;
  bool in_tx_ = false;
  bool quit_requested_ = false;
  bool wants_close_ = false;
  Reply failure_reply_;
  std::string out_;
  std::size_t out_pos_ = 0;  // out_[0, out_pos_) was already written by the driver
  uint64_t out_base_ = 0;    // output offset of out_[0]: bytes ever written before it
  std::vector<TransactionResult> results_;
  std::size_t transactions_completed_ = 0;
  ReplyTally reply_tally_;
};

}  // namespace ringpost::smtp
