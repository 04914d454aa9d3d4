// See client_session.h. Flow per RFC 5321 §3.3 (mail transaction), RFC 2920 (pipelining),
// RFC 3207 (STARTTLS) and RFC 3030 (BDAT); failure scope as in Postfix smtp_trouble: a local
// check or a RCPT reply decides one recipient, a local message check, MAIL, DATA/BDAT and the
// end of data decide the whole envelope, a 421, a lost connection or a TLS failure decides
// everything in flight and ends the session.
#include "smtp/client_session.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "smtp/command_writer.h"
#include "smtp/dot_stuffer.h"
#include "smtp/envelope_check.h"
#include "smtp/envelope_params.h"

namespace ringpost::smtp {
namespace {

// A failed reply decides by class: 5xx is permanent; 4xx, and anything nonsensical for the
// command (a 3xx to RCPT, a 250 to DATA), is worth another try later rather than a bounce.
Outcome failure_outcome(const Reply& r) { return r.is_permanent() ? Outcome::bounced : Outcome::deferred; }

bool is_2xx(const Reply& r) { return r.code >= 200 && r.code < 300; }

// RFC 5321 §4.2: "220 SP (Domain / address-literal) [SP textstring]". Kept printable and short:
// it ends up in synthetic replies and logs, and a hostile server chooses it.
std::string greeting_name(std::string_view text) {
  std::string name;
  for (char c : text.substr(0, 255)) {
    if (c == ' ' || c == '\n') break;
    if (c <= ' ' || c > '~') return {};
    name += c;
  }
  return name;
}

}  // namespace

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::delivered: return "delivered";
    case Outcome::deferred: return "deferred";
    case Outcome::bounced: return "bounced";
  }
  return "unknown";
}

std::string_view to_string(SessionState s) {
  switch (s) {
    case SessionState::greeting: return "greeting";
    case SessionState::ehlo: return "ehlo";
    case SessionState::helo: return "helo";
    case SessionState::starttls: return "starttls";
    case SessionState::tls_handshake: return "tls_handshake";
    case SessionState::ready: return "ready";
    case SessionState::in_transaction: return "in_transaction";
    case SessionState::resetting: return "resetting";
    case SessionState::quitting: return "quitting";
    case SessionState::closed: return "closed";
    case SessionState::failed: return "failed";
  }
  return "unknown";
}

ClientSession::ClientSession(SessionConfig cfg) : cfg_(std::move(cfg)) {
  if (!is_safe_ehlo_name(cfg_.ehlo_name)) {
    // A configuration error, not the peer's fault; refuse before writing anything.
    fail(Reply{451, "4.3.5", fmt::format("invalid EHLO name '{}' in configuration", cfg_.ehlo_name)}, false);
    return;
  }
  expect_.push_back({Phase::greeting, 0});
}

// ---- driver-facing --------------------------------------------------------------------------

void ClientSession::on_bytes(std::string_view in) {
  while (!in.empty() && state_ != SessionState::closed && state_ != SessionState::failed) {
    if (state_ == SessionState::tls_handshake) {
      // RFC 3207 §4.2 / §5: nothing sent before the handshake may be trusted afterwards. A server
      // never has reason to say more after its 220 to STARTTLS, so these bytes are someone
      // else's: a man in the middle answering commands we have not sent yet. They are dropped
      // here (never fed to the parser) and the connection is not used any further.
      fail(Reply{451, "4.7.0",
                 fmt::format("{} bytes of plain text followed the 220 reply to STARTTLS (response injection?); "
                             "discarded",
                             in.size())},
           false);
      return;
    }
    const ReplyParser::Result r = parser_.parse(in, reply_);
    if (r.status == ReplyParser::Status::error) {
      // We can no longer tell which reply belongs to which command: nothing in flight can be
      // trusted to have succeeded, so defer it and drop the connection.
      fail(Reply{451, "4.5.0", "protocol error: " + r.error}, false);
      return;
    }
    in.remove_prefix(r.consumed);
    if (r.status == ReplyParser::Status::need_more) return;
    reply_tally_.count(reply_.code);
    handle_reply(reply_);
  }
}

void ClientSession::on_closed() {
  connection_lost("connection lost");
}

void ClientSession::on_timeout() {
  connection_lost("timeout");
}

void ClientSession::on_send_timeout() {
  if (state_ == SessionState::closed || state_ == SessionState::failed) return;
  if (state_ == SessionState::quitting || (state_ == SessionState::ready && expect_.empty()) ||
      state_ == SessionState::tls_handshake)
    return connection_lost("timeout");
  // Named after the stalled write, not the reply after it: the operator tunes
  // data_block_timeout, not data_end_timeout, for this one.
  Phase p = awaiting();
  bool content = p == Phase::data_end || p == Phase::bdat;
  fail(Reply{451, "4.4.2",
             content ? std::string("timeout writing the message content: the server stopped reading (data block)")
                     : fmt::format("timeout writing the {} command: the server stopped reading", to_string(p))},
       false);
}

void ClientSession::on_tls_ready() {
  if (state_ != SessionState::tls_handshake) return;  // driver bug, or the session already failed
  tls_active_ = true;
  // RFC 3207 §4.2: discard all knowledge obtained from the server before the handshake (the
  // extension list could have been forged to, say, hide AUTH or add PIPELINING) and ask again.
  caps_ = Capabilities{};
  parser_.reset();  // idle anyway: on_bytes() fails the session on any byte after the 220
  state_ = SessionState::ehlo;
  send(Phase::ehlo);
}

void ClientSession::on_tls_failed(std::string why) {
  if (state_ != SessionState::tls_handshake) return;
  // RFC 3463 X.7.5: cryptographic failure. Transient: another MX, a later try, or the driver's
  // plain-text fallback (for opportunistic TLS) may well succeed.
  fail(Reply{451, "4.7.5", "TLS handshake failed: " + why}, false);
}

bool ClientSession::ready() const {
  return state_ == SessionState::ready && !quit_requested_;
}

void ClientSession::submit(Envelope env) {
  const std::size_t n = env.recipients.size();
  if (!ready()) {
    // Precondition violated by the driver. Deferring is the safe answer: nothing is written and
    // a transaction already in flight is left untouched.
    TransactionResult res{env.tag, {}};
    res.recipients.assign(n, RecipientResult{Outcome::deferred, Reply{451, "4.3.0", "SMTP session not ready for a new transaction"}});
    results_.push_back(std::move(res));
    return;
  }
  tx_ = Transaction{};
  tx_.results.assign(n, RecipientResult{Outcome::deferred, Reply{}});
  tx_.states.assign(n, RcptState::pending);
  tx_.env = std::move(env);
  in_tx_ = true;
  if (!vet_envelope()) {
    finish_transaction(false, false);  // still ready: nothing was written
    return;
  }

  state_ = SessionState::in_transaction;
  send(Phase::mail);
  if (caps_.pipelining) {
    // RFC 2920 §3.1: MAIL, RCPT and DATA may all go in one write; only DATA's 354 must be
    // awaited before the content. BDAT has no intermediate reply, so its content follows at
    // once (RFC 3030 §4.2 pipelines it so; Postfix does the same). If every RCPT fails, the
    // server refuses BDAT but, the octet count being in the command, still reads past the
    // chunk and discards it; the reply FIFO stays aligned because BDAT owes exactly one reply
    // either way. The driver keeps a receive armed while writing, so a long RCPT list or body
    // cannot deadlock on full socket buffers.
    for (std::size_t i = 0; i < n; ++i) {
      if (tx_.states[i] == RcptState::pending) send(Phase::rcpt, static_cast<uint32_t>(i));
    }
    send(tx_.use_bdat ? Phase::bdat : Phase::data);
  }
}

void ClientSession::quit() {
  switch (state_) {
    case SessionState::ready:
      state_ = SessionState::quitting;
      send(Phase::quit);
      return;
    case SessionState::in_transaction:
    case SessionState::resetting:
      quit_requested_ = true;  // sent by begin_session_ready() once the transaction is over
      return;
    case SessionState::greeting:
    case SessionState::ehlo:
    case SessionState::helo:
    case SessionState::starttls:
    case SessionState::tls_handshake:
      // Nothing has been entrusted to this connection yet; no need to finish the handshake.
      expect_.clear();
      drop_output();
      state_ = SessionState::closed;
      wants_close_ = true;
      return;
    case SessionState::quitting:
    case SessionState::closed:
    case SessionState::failed:
      return;
  }
}

std::string_view ClientSession::pending_output() const {
  return std::string_view(out_).substr(out_pos_);
}

void ClientSession::consume_output(std::size_t n) {
  assert(n <= out_.size() - out_pos_);
  out_pos_ += std::min(n, out_.size() - out_pos_);
  if (out_pos_ == out_.size()) {
    out_base_ += out_.size();
    out_.clear();  // keeps capacity for the next transaction
    out_pos_ = 0;
  } else if (out_pos_ >= 64 * 1024 && out_pos_ * 2 >= out_.size()) {
    // A large body drained slowly: don't keep the written half around.
    out_base_ += out_pos_;
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
}

// Forgets output the driver has not written (the session is ending; no reply will be matched
// against it any more).
void ClientSession::drop_output() {
  out_base_ += out_pos_;
  out_.clear();
  out_pos_ = 0;
}

std::vector<TransactionResult> ClientSession::take_results() {
  return std::exchange(results_, {});
}

Phase ClientSession::awaiting() const {
  // The handshake finishes what STARTTLS started, and shares its timeout.
  if (state_ == SessionState::tls_handshake) return Phase::starttls;
  return expect_.empty() ? Phase::none : expect_.front().phase;
}

// ---- replies --------------------------------------------------------------------------------

void ClientSession::handle_reply(const Reply& r) {
  if (expect_.empty()) {
    // RFC 5321 §4.2.2: 421 may come unprompted when the server shuts down.
    if (r.code == 421) {
      fail(r, false);
    } else {
      fail(Reply{451, "4.5.0", fmt::format("protocol error: unexpected reply {} {}", r.code, r.text)}, false);
    }
    return;
  }
  const Pending p = expect_.front();
  if (p.end > out_base_ + out_pos_) {
    // A server cannot answer a command it has not received. A reply to one we have not even
    // handed to the driver (a 250 to BDAT while its content is still queued, a 220 to STARTTLS
    // sent along with the EHLO reply) was written ahead by something that guessed our next
    // command, or by a broken server: either way it must not settle anything, and the unsent
    // rest could be read as commands by a server that thinks the data has ended.
    fail(Reply{451, "4.5.0", fmt::format("protocol error: reply {} to {} arrived before the command was sent", r.code,
                                         to_string(p.phase))},
         false);
    return;
  }
  expect_.pop_front();
  if (p.phase == Phase::quit) {
    // Whatever QUIT gets (221, or a 421), the session is over and nothing was in flight.
    expect_.clear();
    state_ = SessionState::closed;
    wants_close_ = true;
    return;
  }
  if (r.code == 421) {
    // RFC 5321 §3.8: the server is closing the channel. It did not take responsibility for
    // anything it has not already answered, so everything in flight is retried later.
    fail(r, false);
    return;
  }
  switch (p.phase) {
    case Phase::greeting: on_greeting(r); break;
    case Phase::ehlo: on_ehlo(r); break;
    case Phase::helo: on_helo(r); break;
    case Phase::starttls: on_starttls(r); break;
    case Phase::mail: on_mail(r); break;
    case Phase::rcpt: on_rcpt(p.rcpt, r); break;
    case Phase::data: on_data(r); break;
    case Phase::bdat: on_bdat(r); break;
    case Phase::data_end: on_data_end(r); break;
    case Phase::rset: on_rset(r); break;
    case Phase::none:
    case Phase::quit: break;  // none is never queued; quit is handled above
  }
}

void ClientSession::on_greeting(const Reply& r) {
  if (!is_2xx(r)) {
    // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT; send it as a courtesy.
    fail(r, true);
    return;
  }
  greeting_name_ = greeting_name(r.text);
  state_ = SessionState::ehlo;
  send(Phase::ehlo);
}

void ClientSession::on_ehlo(const Reply& r) {
  const bool want_tls = cfg_.tls != TlsMode::off && !tls_active_;
  if (is_2xx(r)) {
    caps_ = parse_capabilities(r);
    if (!want_tls) {
      begin_session_ready();
    } else if (caps_.starttls) {
      // Sent alone: RFC 2920 §3.1 makes STARTTLS the last command of a group, and nothing else
      // can be queued before the session is ready anyway.
      state_ = SessionState::starttls;
      send(Phase::starttls);
    } else if (cfg_.tls == TlsMode::required) {
      fail(Reply{451, "4.7.5", fmt::format("TLS required but {} does not offer STARTTLS", server_name())}, true);
    } else {
      begin_session_ready();  // opportunistic: plain text it is
    }
  } else if (r.is_permanent()) {
    if (want_tls && cfg_.tls == TlsMode::required) {
      // HELO has no extensions, so no STARTTLS either: falling back would only delay the failure.
      fail(Reply{451, "4.7.5", fmt::format("TLS required but {} does not offer STARTTLS (EHLO refused: {} {})",
                                           server_name(), r.code, r.text)},
           true);
      return;
    }
    // RFC 5321 §4.1.4 / §3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    state_ = SessionState::helo;
    send(Phase::helo);
  } else {
    fail(r, true);
  }
}

void ClientSession::on_helo(const Reply& r) {
  if (!is_2xx(r)) {
    fail(r, true);
    return;
  }
  caps_ = Capabilities{};  // HELO means no extensions at all
  begin_session_ready();
}

void ClientSession::on_starttls(const Reply& r) {
  if (r.code == 220) {
    // handle_reply() made sure STARTTLS was written before this reply came. From here on,
    // on_bytes() treats any plain-text byte as an injection attempt.
    state_ = SessionState::tls_handshake;
    return;
  }
  if (r.is_transient() || r.is_permanent()) {
    if (cfg_.tls == TlsMode::required) {
      // Transient whatever the server said: its TLS may be back later, another MX may have it,
      // and a policy that demands TLS must not turn a refusal into a bounce.
      const int code = r.is_permanent() ? r.code - 100 : r.code;
      fail(Reply{code, "4.7.5", fmt::format("TLS required but {} refused STARTTLS: {} {}", server_name(), r.code, r.text)},
           true);
    } else {
      // RFC 3207 §4: the server refused; the session goes on in plain text, with the extension
      // list of the EHLO we already have.
      begin_session_ready();
    }
    return;
  }
  // 2xx other than 220, or 3xx: the server may or may not expect a handshake now, so neither
  // plain text nor TLS can safely follow.
  fail(Reply{451, "4.5.0", fmt::format("protocol error: unexpected reply {} {} to STARTTLS", r.code, r.text)}, false);
}

void ClientSession::on_mail(const Reply& r) {
  if (is_2xx(r)) {
    if (!caps_.pipelining) send_next_rcpt_or_data();
    return;
  }
  // The sender was refused: the whole envelope shares MAIL's fate.
  settle_in_flight(failure_outcome(r), r);
  tx_.aborting = true;
  // A transient refusal of MAIL is about this session, not this sender (OpenSMTPD's "452 4.5.3
  // Too many messages", a server-side per-session cap): the next message on the same
  // connection gets the same answer, so the session ends after the RSET and the next message
  // goes on a new connection. Found by bench/servers: 221 transactions for 100 deliveries.
  if (r.code >= 400 && r.code < 500) quit_requested_ = true;
  // With pipelining, RCPT and DATA/BDAT replies are still owed and get drained; RSET follows.
  if (!caps_.pipelining) finish_transaction(true, true);
}

void ClientSession::on_rcpt(uint32_t index, const Reply& r) {
  // After a failed MAIL the recipient was settled already; its (likely 503) reply means nothing.
  if (tx_.states[index] == RcptState::pending) {
    if (is_2xx(r)) {
      tx_.states[index] = RcptState::accepted;
      ++tx_.accepted;
    } else {
      settle(index, failure_outcome(r), r);
    }
  }
  if (!caps_.pipelining) send_next_rcpt_or_data();
}

void ClientSession::on_data(const Reply& r) {
  if (tx_.accepted == 0) {
    // Only reachable with pipelining: DATA went out before we knew every RCPT failed.
    tx_.aborting = true;
    if (r.code == 354) {
      // The server is now reading content. An immediate "." ends it with an empty message,
      // which it should refuse for lack of recipients; whatever it says, RSET follows.
      send(Phase::data_end);
    } else {
      finish_transaction(true, true);
    }
    return;
  }
  if (r.code == 354) {
    send(Phase::data_end);
    return;
  }
  settle_in_flight(failure_outcome(r), r);
  finish_transaction(true, true);
}

void ClientSession::on_bdat(const Reply& r) {
  if (tx_.aborting || tx_.accepted == 0) {
    // Only reachable with pipelining: MAIL or every RCPT failed after BDAT and the content had
    // gone out. Every recipient is settled; the reply (normally 503/554) decides nothing.
    finish_transaction(true, true);
    return;
  }
  // BDAT LAST is the end of the message: one reply for every accepted recipient, as for ".".
  if (is_2xx(r)) {
    settle_in_flight(Outcome::delivered, r);
    finish_transaction(true, false);
    return;
  }
  settle_in_flight(failure_outcome(r), r);
  // RFC 3030 §2: after a refused chunk the transaction has failed but the server may still
  // hold its sender and recipients; RSET clears them (unlike after a refused ".", which ends
  // the transaction by definition).
  finish_transaction(true, true);
}

void ClientSession::on_data_end(const Reply& r) {
  if (tx_.aborting) {
    finish_transaction(true, true);  // the empty abort message: reply is meaningless
    return;
  }
  // RFC 5321 §4.1.1.4: one reply for the whole message and every accepted recipient.
  if (is_2xx(r)) {
    settle_in_flight(Outcome::delivered, r);
  } else {
    settle_in_flight(failure_outcome(r), r);
  }
  // The end of data ends the transaction whatever the reply, so no RSET is needed.
  finish_transaction(true, false);
}

void ClientSession::on_rset(const Reply& r) {
  if (!is_2xx(r)) {
    // The server would not clear its transaction state; reusing the connection is unsafe.
    fail(r, true);
    return;
  }
  begin_session_ready();
}

// ---- steps ----------------------------------------------------------------------------------

// Local refusals (smtp/envelope_check.h) settle recipients before anything is written.
// Returns false when no recipient is left to send; the session is then still ready.
bool ClientSession::vet_envelope() {
  const EnvelopeCheck check = check_envelope(tx_.env, caps_, server_name());
  for (std::size_t i = 0; i < check.recipients.size(); ++i) {
    if (check.recipients[i]) settle(i, Outcome::bounced, *check.recipients[i]);
  }
  if (check.envelope) {
    settle_in_flight(Outcome::bounced, *check.envelope);
    return false;
  }
  if (std::find(tx_.states.begin(), tx_.states.end(), RcptState::pending) == tx_.states.end()) return false;
  tx_.body = check.body;
  tx_.smtputf8 = check.smtputf8;
  tx_.use_bdat = caps_.chunking && cfg_.use_chunking;
  return true;
}

void ClientSession::send(Phase phase, uint32_t rcpt) {
  switch (phase) {
    case Phase::ehlo: write_ehlo(out_, cfg_.ehlo_name); break;
    case Phase::helo: write_helo(out_, cfg_.ehlo_name); break;
    case Phase::starttls: write_starttls(out_); break;
    case Phase::mail:
      write_mail_from(out_, tx_.env.from, mail_parameters(caps_, tx_.env, tx_.body, tx_.smtputf8));
      break;
    case Phase::rcpt: write_rcpt_to(out_, tx_.env.recipients[rcpt], rcpt_parameters(caps_, tx_.env, rcpt)); break;
    case Phase::data: write_data(out_); break;
    case Phase::bdat: {
      // One chunk: the body is in memory already, and BDAT LAST in one go spares the round
      // trips of several chunks. Never sent while aborting (see submit and send_next_rcpt_or_data).
      write_bdat(out_, tx_.body.wire_size, true);
      [[maybe_unused]] const std::size_t before = out_.size();
      if (tx_.env.body) crlf_normalize_append(*tx_.env.body, out_);
      assert(out_.size() - before == tx_.body.wire_size);  // the count BDAT announced
      break;
    }
    case Phase::data_end:
      if (tx_.aborting || !tx_.env.body) {
        dot_stuff_append({}, out_);
      } else {
        dot_stuff_append(*tx_.env.body, out_);
      }
      break;
    case Phase::rset: write_rset(out_); break;
    case Phase::quit: write_quit(out_); break;
    case Phase::none:
    case Phase::greeting: return;  // nothing to write; never sent
  }
  expect_.push_back({phase, rcpt, out_base_ + out_.size()});
}

void ClientSession::send_next_rcpt_or_data() {
  // Without pipelining: one command per reply (RFC 5321 §3.3).
  while (tx_.next_rcpt < tx_.states.size()) {
    const std::size_t i = tx_.next_rcpt++;
    if (tx_.states[i] == RcptState::pending) {
      send(Phase::rcpt, static_cast<uint32_t>(i));
      return;
    }
  }
  if (tx_.accepted > 0) {
    send(tx_.use_bdat ? Phase::bdat : Phase::data);
  } else {
    tx_.aborting = true;
    finish_transaction(true, true);
  }
}

std::string ClientSession::server_name() const {
  if (!cfg_.peer_name.empty()) return cfg_.peer_name;
  if (!greeting_name_.empty()) return greeting_name_;
  return "the server";
}

void ClientSession::begin_session_ready() {
  state_ = SessionState::ready;
  if (quit_requested_) {
    quit_requested_ = false;
    state_ = SessionState::quitting;
    send(Phase::quit);
  }
}

void ClientSession::settle(std::size_t index, Outcome o, const Reply& r) {
  if (tx_.states[index] == RcptState::accepted) --tx_.accepted;
  tx_.states[index] = RcptState::settled;
  tx_.results[index] = RecipientResult{o, r};
}

void ClientSession::settle_in_flight(Outcome o, const Reply& r) {
  if (!in_tx_) return;
  for (std::size_t i = 0; i < tx_.states.size(); ++i) {
    if (tx_.states[i] != RcptState::settled) settle(i, o, r);
  }
}

// on_wire: the transaction reached its end through server replies (counted for reuse limits).
// needs_rset: the server may still hold transaction state (MAIL accepted, DATA refused, ...).
void ClientSession::finish_transaction(bool on_wire, bool needs_rset) {
  results_.push_back(TransactionResult{tx_.env.tag, std::move(tx_.results)});
  tx_ = Transaction{};
  in_tx_ = false;
  if (on_wire) ++transactions_completed_;
  if (state_ != SessionState::in_transaction) return;  // rejected locally: still ready
  if (needs_rset) {
    // RFC 5321 §4.1.1.5: clears the server's sender, recipients and buffers before the next
    // MAIL. Sent even after a refused MAIL, where it is harmless, to keep one rule.
    state_ = SessionState::resetting;
    send(Phase::rset);
  } else {
    begin_session_ready();
  }
}

// Ends the session for good: failed is terminal, no path leads back to ready. Anything in
// flight is deferred with `why`; it is also the failure_reply.
void ClientSession::fail(const Reply& why, bool say_quit) {
  if (in_tx_) {
    settle_in_flight(Outcome::deferred, why);
    results_.push_back(TransactionResult{tx_.env.tag, std::move(tx_.results)});
    tx_ = Transaction{};
    in_tx_ = false;
  }
  expect_.clear();
  drop_output();
  if (say_quit) write_quit(out_);  // no reply awaited: wants_close tells the driver to close
  state_ = SessionState::failed;
  failure_reply_ = why;
  wants_close_ = true;
  quit_requested_ = false;
}

void ClientSession::connection_lost(std::string_view what) {
  if (state_ == SessionState::closed || state_ == SessionState::failed) return;
  if (state_ == SessionState::quitting || (state_ == SessionState::ready && expect_.empty())) {
    // Nothing was entrusted to the server: a clean end, not a failure.
    expect_.clear();
    drop_output();
    state_ = SessionState::closed;
    wants_close_ = true;
    return;
  }
  // Whatever the server did with in-flight mail is unknown; RFC 5321 §6.1 lets us deliver
  // twice rather than lose mail, so the recipients are deferred, never assumed delivered.
  // RFC 3463 X.4.2: bad connection.
  if (state_ == SessionState::tls_handshake) {
    fail(Reply{451, "4.4.2", fmt::format("{} during the TLS handshake", what)}, false);
    return;
  }
  fail(Reply{451, "4.4.2", fmt::format("{} waiting for {} reply", what, to_string(awaiting()))}, false);
}

}  // namespace ringpost::smtp
