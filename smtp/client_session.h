// The client side of ONE SMTP connection as a sans-IO state machine (RFC 5321 §3, §4; RFC 2920
// pipelining). Owned by the shard that owns the socket; never touches a socket, clock or thread.
// Invariant: every recipient of a submitted envelope gets exactly one outcome, and "delivered"
// only ever comes from a 2xx reply to the end of DATA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/capabilities.h"
#include "smtp/reply.h"
#include "smtp/reply_parser.h"

namespace ringpost::smtp {

enum class Outcome : uint8_t { delivered, deferred, bounced };

struct Envelope {
  uint64_t tag = 0;                         // the driver's handle, echoed in TransactionResult
  std::string from;                         // empty = null reverse-path "<>"
  std::vector<std::string> recipients;
  std::shared_ptr<const std::string> body;  // RFC 5322 message, not yet dot-stuffed; null = empty
};

struct RecipientResult {
  Outcome outcome = Outcome::deferred;
  Reply reply;  // the server's reply that decided it, or a synthetic one (lost connection, ...)
};

struct TransactionResult {
  uint64_t tag = 0;
  std::vector<RecipientResult> recipients;  // same order as Envelope::recipients
};

enum class SessionState { greeting, ehlo, helo, ready, in_transaction, resetting, quitting, closed, failed };

// Which reply the session is waiting for. Also the driver's timeout phase (RFC 5321 §4.5.3.2
// gives each its own limit, e.g. 5 min for MAIL, 10 min for the end of data).
// Room for later steps: starttls, bdat.
enum class Phase : uint8_t { none, greeting, ehlo, helo, mail, rcpt, data, data_end, rset, quit };

struct SessionConfig {
  std::string ehlo_name;  // our host name for EHLO/HELO
};

std::string_view to_string(Outcome o);
std::string_view to_string(SessionState s);
std::string_view to_string(Phase p);

// Driver contract:
//  - feed every received byte to on_bytes(); report EOF/errors with on_closed() and an expired
//    per-phase timer with on_timeout();
//  - after any call, write pending_output() and report progress with consume_output(). The view
//    stays valid until the next non-const call;
//  - collect take_results() after any call; each submitted Envelope yields exactly one
//    TransactionResult (possibly at once, if it was rejected locally);
//  - when wants_close() is true, write what pending_output() still holds (best effort; it may be
//    a courtesy QUIT, whose reply need not be awaited) and close the socket.
class ClientSession {
 public:
  explicit ClientSession(SessionConfig cfg);

  void on_bytes(std::string_view in);  // server -> us; may complete several replies
  // Peer closed or socket error: everything in flight is deferred. After QUIT, or while idle
  // in ready, this is a clean end (state closed); otherwise the session fails.
  void on_closed();
  // The driver's timer for the current phase fired: defer in-flight, go to failed. With nothing
  // outstanding (idle in ready, or QUIT sent) it is a clean end (state closed).
  void on_timeout();

  bool ready() const;           // can take submit() now (greeted, EHLO done, no transaction in flight)
  void submit(Envelope env);    // precondition: ready(); if not, every recipient is deferred at once
  void quit();                  // send QUIT when ready (after the current transaction); before
                                // the session is ready there is nothing to save: close at once

  std::string_view pending_output() const;  // bytes the driver must write next
  void consume_output(std::size_t n);       // the driver wrote n bytes of pending_output()
  std::vector<TransactionResult> take_results();

  SessionState state() const { return state_; }
  Phase awaiting() const;      // the oldest reply still owed by the server; none when idle
  bool wants_close() const { return wants_close_; }  // after QUIT's reply, a 421, a protocol
                                                      // error, a failure before ready
  const Capabilities& capabilities() const { return caps_; }
  // Why the session failed (e.g. the 554 greeting, the 421, the synthetic timeout reply), for
  // the driver to defer queued mail with. Code 0 while the session has not failed.
  const Reply& failure_reply() const { return failure_reply_; }
  // Transactions that ran to their end on the wire (final reply, or abort + RSET sent), whatever
  // the recipients' outcomes. Not counted: envelopes rejected locally, and transactions cut off
  // by a 421, lost connection or timeout. For connection-reuse limits.
  std::size_t transactions_completed() const { return transactions_completed_; }

 private:
  // One command whose reply is still owed. Replies arrive strictly in command order
  // (RFC 2920 §3.1), so a FIFO of these matches each reply to its command.
  struct Pending {
    Phase phase;
    uint32_t rcpt;  // index into Envelope::recipients for Phase::rcpt
  };
  enum class RcptState : uint8_t { pending, accepted, settled };
  struct Transaction {
    Envelope env;
    std::vector<RecipientResult> results;
    std::vector<RcptState> states;
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
  void on_mail(const Reply& r);
  void on_rcpt(uint32_t index, const Reply& r);
  void on_data(const Reply& r);
  void on_data_end(const Reply& r);
  void on_rset(const Reply& r);

  void send(Phase phase, uint32_t rcpt = 0);  // writes the command and expects its reply
  void send_next_rcpt_or_data();              // without pipelining: one step after a reply
  std::string mail_parameters() const;
  void begin_session_ready();
  void settle(std::size_t index, Outcome o, const Reply& r);
  void settle_in_flight(Outcome o, const Reply& r);
  void finish_transaction(bool on_wire, bool needs_rset);
  void fail(const Reply& why, bool say_quit);
  void connection_lost(std::string_view what);

  SessionConfig cfg_;
  SessionState state_ = SessionState::greeting;
  ReplyParser parser_;
  Reply reply_;  // the reply the parser just completed
  Capabilities caps_;
  std::deque<Pending> expect_;
  Transaction tx_;
  bool in_tx_ = false;
  bool quit_requested_ = false;
  bool wants_close_ = false;
  Reply failure_reply_;
  std::string out_;
  std::size_t out_pos_ = 0;  // out_[0, out_pos_) was already written by the driver
  std::vector<TransactionResult> results_;
  std::size_t transactions_completed_ = 0;
};

}  // namespace ringpost::smtp
