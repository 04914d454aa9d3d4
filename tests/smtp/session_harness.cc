// See session_harness.h. The canned envelopes cover every local check (bad and non-ASCII
// addresses, DSN with injection attempts, 8-bit, a long line, a big body) so that server
// bytes, whatever they are, meet every branch of the session.
#include "tests/smtp/session_harness.h"

#include <map>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <tl/expected.hpp>

#include "smtp/client_session.h"
#include "smtp/dot_stuffer.h"
#include "smtp/reply_parser.h"

namespace ringpost::smtp::testing {
namespace {

std::vector<Envelope> canned_envelopes() {
  std::vector<Envelope> out;
  auto add = [&](std::string from, std::vector<std::string> rcpts, std::string body) {
    Envelope e;
    e.tag = out.size() + 1;
    e.from = std::move(from);
    e.recipients = std::move(rcpts);
    e.body = std::make_shared<const std::string>(std::move(body));
    out.push_back(std::move(e));
    return &out.back();
  };
  add("a@example.test", {"b@dest.test", "c@dest.test"}, "Subject: one\n\n.dot\r\nbare\rcr\r\nend");
  Envelope* e = add("a@example.test", {"j\xc3\xb6rg@dest.test", "b@dest.test"}, "Subject: two\r\n\r\ngr\xc3\xbc\xc3\x9f\r\n");
  e->dsn = Dsn{"FULL", "id\r\nRSET INJECTED", {"SUCCESS\r\nRSET INJECTED", "FAILURE"}, {"x\r\nRSET INJECTED", ""}};
  std::string big = "Subject: three\r\n\r\n";
  for (int i = 0; i < 100; ++i) big += std::string(60, 'z') + "\n";  // 6.2 kB: over small SIZE limits
  add("a@example.test", {"b@dest.test"}, big);
  add("a@example.test", {"b@dest.test"}, "Subject: four\r\n\r\n" + std::string(999, 'l') + "\r\n");
  e = add("a@example.test", {"evil@dest.test\r\nRSET INJECTED", "b@dest.test"}, "");
  e->body = nullptr;
  add("", {"r1@dest.test", "r2@dest.test", "r3@dest.test", "r4@dest.test", "r5@dest.test"}, "Subject: six\r\n");
  return out;
}

// The envelopes, and the two ways each body can reach the server in full (after DATA, after
// BDAT); built once, since a run is only a few microseconds otherwise.
struct Canned {
  std::vector<Envelope> envelopes = canned_envelopes();
  std::vector<std::string> as_data;
  std::vector<std::string> as_bdat;
  Canned() {
    for (const Envelope& e : envelopes) {
      const std::string_view body = e.body ? std::string_view(*e.body) : std::string_view();
      as_data.push_back(dot_stuff(body));
      std::string content;
      crlf_normalize_append(body, content);
      as_bdat.push_back(fmt::format("BDAT {} LAST\r\n", content.size()) + content);
    }
  }
};

const Canned& canned() {
  static const Canned c;
  return c;
}

bool body_on_wire(const std::string& wire, uint64_t tag) {
  const Canned& c = canned();
  return wire.find(c.as_data[tag - 1]) != std::string::npos || wire.find(c.as_bdat[tag - 1]) != std::string::npos;
}

class ScriptRun {
 public:
  ScriptRun(std::string_view script, SessionRunStats* stats)
      : script_(script),
        flags_(script.empty() ? 0u : static_cast<unsigned char>(script[0]) & 0x0fu),
        stats_(stats),
        envelopes_(canned().envelopes),
        session_(config(flags_)) {}

  std::string run() {
    std::string err = run_checks();
    if (stats_) stats_->wire = wire_;
    return err;
  }

 private:
  std::string run_checks() {
    if (!script_.empty()) script_.remove_prefix(1);
    if (auto e = after_call(false); !e.empty()) return e;
    while (!script_.empty()) {
      const std::size_t sep = script_.find(kRecordSeparator);
      const std::string_view record = script_.substr(0, sep);
      script_.remove_prefix(sep == std::string_view::npos ? script_.size() : sep + 1);
      if (record.empty()) continue;
      bool from_bytes = false;
      if (record[0] == kEventMark) {
        const char ev = record.size() > 1 ? record[1] : 't';
        if (ev == 'c') {
          session_.on_closed();
        } else if (ev == 'q') {
          session_.quit();
        } else {
          session_.on_timeout();
        }
      } else {
        session_.on_bytes(record);
        from_bytes = true;
      }
      if (auto e = after_call(from_bytes); !e.empty()) return e;
      if (auto e = drive(); !e.empty()) return e;
    }
    session_.on_closed();
    if (auto e = after_call(false); !e.empty()) return e;
    return final_checks();
  }

  static SessionConfig config(unsigned flags) {
    SessionConfig cfg{"mta.example.test"};
    const unsigned tls = flags & 3u;
    cfg.tls = tls == 2 ? TlsMode::required : tls == 0 ? TlsMode::off : TlsMode::opportunistic;
    cfg.use_chunking = (flags & 4u) == 0;
    return cfg;
  }
  bool tls_fails() const { return (flags_ & 8u) != 0; }

  // The driver's reaction to the session's state, as SmtpConnection would.
  std::string drive() {
    for (int guard = 0; guard < 16; ++guard) {
      if (session_.wants_tls()) {
        if (tls_fails()) {
          session_.on_tls_failed("fuzz");
        } else {
          session_.on_tls_ready();
          if (stats_) stats_->tls_started = true;
        }
      } else if (session_.ready() && next_ < envelopes_.size()) {
        const Envelope& e = envelopes_[next_++];
        submitted_[e.tag] = e.recipients.size();
        session_.submit(e);
      } else if (session_.ready()) {
        session_.quit();
      } else {
        return {};
      }
      if (auto e = after_call(false); !e.empty()) return e;
    }
    return {};
  }

  // Checks made after every call into the session.
  std::string after_call(bool from_bytes) {
    const std::string_view out = session_.pending_output();
    if (session_.wants_tls() && !out.empty()) return "output pending while wants_tls()";
    if (closed_seen_ && !out.empty()) return "output after wants_close()";
    wire_.append(out);
    session_.consume_output(out.size());
    if (session_.wants_close()) closed_seen_ = true;
    const SessionState st = session_.state();
    if (st == SessionState::failed || st == SessionState::closed) ended_ = true;
    if (ended_ && (session_.ready() || (st != SessionState::failed && st != SessionState::closed))) {
      return "session came back from " + std::string(to_string(st));
    }
    if (session_.state() == SessionState::failed && session_.failure_reply().code == 0) return "failed without a reply";
    for (TransactionResult& tr : session_.take_results()) {
      auto it = submitted_.find(tr.tag);
      if (it == submitted_.end()) return fmt::format("result for tag {} never submitted", tr.tag);
      if (!reported_.insert({tr.tag, true}).second) return fmt::format("second result for tag {}", tr.tag);
      if (tr.recipients.size() != it->second) return fmt::format("tag {}: wrong number of results", tr.tag);
      for (const RecipientResult& rr : tr.recipients) {
        const Reply& r = rr.reply;
        switch (rr.outcome) {
          case Outcome::delivered:
            if (r.code < 200 || r.code > 299) return fmt::format("tag {} delivered with {}", tr.tag, r.code);
            if (!from_bytes) return fmt::format("tag {} delivered without a server reply", tr.tag);
            if (!body_on_wire(wire_, tr.tag)) return fmt::format("tag {} delivered, body not sent", tr.tag);
            if (stats_) ++stats_->delivered;
            break;
          case Outcome::bounced:
            if (!r.is_permanent()) return fmt::format("tag {} bounced with {}", tr.tag, r.code);
            break;
          case Outcome::deferred:
            if (r.is_permanent() || r.code == 0) return fmt::format("tag {} deferred with {}", tr.tag, r.code);
            break;
        }
      }
    }
    return {};
  }

  std::string final_checks() {
    if (reported_.size() != submitted_.size()) {
      return fmt::format("{} envelopes submitted, {} results", submitted_.size(), reported_.size());
    }
    if (!session_.wants_close()) return "still open after on_closed()";
    for (const char* bad : {"RSET INJECTED", "evil@dest.test\r\n"}) {
      if (wire_.find(bad) != std::string::npos) return std::string("injected text on the wire: ") + bad;
    }
    if (stats_ && wire_.find("BDAT ") != std::string::npos) stats_->bdat_sent = true;
    return {};
  }

  std::string_view script_;
  unsigned flags_;
  SessionRunStats* stats_;
  const std::vector<Envelope>& envelopes_;
  ClientSession session_;
  std::size_t next_ = 0;
  std::map<uint64_t, std::size_t> submitted_;
  std::map<uint64_t, bool> reported_;
  std::string wire_;
  bool closed_seen_ = false;
  bool ended_ = false;
};

struct ParserRun {
  std::vector<Reply> replies;
  bool error = false;
};

// Feeds `chunks` one after the other, re-feeding the rest after each complete reply.
tl::expected<ParserRun, std::string> feed_parser(const std::vector<std::string_view>& chunks) {
  ParserRun run;
  ReplyParser p;
  Reply reply;
  for (std::string_view in : chunks) {
    while (!in.empty()) {
      const ReplyParser::Result r = p.parse(in, reply);
      if (r.consumed > in.size()) return tl::make_unexpected("consumed more than given");
      if (r.status == ReplyParser::Status::error) {
        const ReplyParser::Result again = p.parse("250 ok\r\n", reply);
        if (again.status != ReplyParser::Status::error || again.consumed != 0) return tl::make_unexpected("error not sticky");
        run.error = true;
        return run;
      }
      if (r.status == ReplyParser::Status::need_more) {
        if (r.consumed != in.size()) return tl::make_unexpected("need_more without consuming everything");
        break;
      }
      if (r.consumed == 0) return tl::make_unexpected("complete without consuming");
      if (reply.code < 200 || reply.code > 599) return tl::make_unexpected(fmt::format("reply code {}", reply.code));
      if (reply.text.size() > ReplyParser::kMaxReply) return tl::make_unexpected("reply longer than kMaxReply");
      run.replies.push_back(reply);
      in.remove_prefix(r.consumed);
    }
  }
  return run;
}

}  // namespace

std::string run_session_script(std::string_view script, SessionRunStats* stats) {
  return ScriptRun(script, stats).run();
}

std::string check_reply_parser(std::string_view bytes) {
  // Byte by byte only up to 1 kB: past that the chunked feed (1 to 37 bytes) splits lines just
  // as well, and a 5 kB line fed one byte per call would dominate the bounded fuzz test.
  std::vector<std::string_view> bytewise;
  for (std::size_t i = 0; i < bytes.size() && bytes.size() <= 1024; ++i) bytewise.push_back(bytes.substr(i, 1));
  std::vector<std::string_view> chunked;
  for (std::size_t pos = 0, i = 0; pos < bytes.size(); ++i) {
    const std::size_t n = 1 + static_cast<unsigned char>(bytes[i % bytes.size()]) % 37;
    chunked.push_back(bytes.substr(pos, n));
    pos += n;
  }
  const auto whole = feed_parser({bytes});
  if (!whole) return "whole: " + whole.error();
  for (const auto* split : {&bytewise, &chunked}) {
    if (split->empty()) continue;
    const auto other = feed_parser(*split);
    if (!other) return "split: " + other.error();
    if (other->error != whole->error || other->replies != whole->replies) return "split feeding changed the outcome";
  }
  return {};
}

}  // namespace ringpost::smtp::testing
