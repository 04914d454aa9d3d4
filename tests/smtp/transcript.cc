// See transcript.h.
#include "tests/smtp/transcript.h"

#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "smtp/client_session.h"

namespace ringpost::smtp::testing {
namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string at_line(int line) { return "line " + std::to_string(line) + ": "; }

std::string show(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  if (s.size() > 200) out += "...";
  return out;
}

// "<a@b>" -> "a@b" with escapes decoded.
tl::expected<std::string, std::string> angle_address(const std::string& w) {
  if (w.size() < 2 || w.front() != '<' || w.back() != '>') return tl::make_unexpected("address must be <...>: " + w);
  return unescape(w.substr(1, w.size() - 2));
}

SessionConfig make_config(const std::vector<std::string>& words) {
  SessionConfig cfg{"mta.example.test"};
  for (const std::string& kv : words) {  // validated by parse_transcript
    const std::size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    const std::string value = kv.substr(eq + 1);
    if (key == "tls") {
      cfg.tls = value == "required" ? TlsMode::required : value == "opportunistic" ? TlsMode::opportunistic : TlsMode::off;
    } else if (key == "chunking") {
      cfg.use_chunking = value == "yes";
    } else if (key == "peer") {
      cfg.peer_name = unescape(value);
    }
  }
  return cfg;
}

std::string check_config(const std::vector<std::string>& words) {
  for (const std::string& kv : words) {
    const std::size_t eq = kv.find('=');
    if (eq == std::string::npos) return "bad @config item " + kv;
    const std::string key = kv.substr(0, eq);
    const std::string value = kv.substr(eq + 1);
    if (key == "tls" && (value == "off" || value == "opportunistic" || value == "required")) continue;
    if (key == "chunking" && (value == "yes" || value == "no")) continue;
    if (key == "peer") continue;
    return "bad @config item " + kv;
  }
  return {};
}

struct Flat {
  uint64_t tag;
  std::string address;
  RecipientResult result;
};

class Runner {
 public:
  Runner(const Transcript& t, FeedMode mode) : t_(t), mode_(mode), session_(make_config(t.config)) {}

  std::string run() {
    collect();  // the constructor may already have produced output (it must not)
    for (const Step& s : t_.steps) {
      std::string err = step(s);
      if (!err.empty()) return at_line(s.line) + err + " [" + mode_.describe() + "]";
    }
    if (!wire_.empty()) return "end: unmatched client output: " + show(wire_) + " [" + mode_.describe() + "]";
    if (!results_.empty()) {
      const Flat& f = results_.front();
      return "end: unchecked result for tag " + std::to_string(f.tag) + " <" + f.address + "> [" + mode_.describe() + "]";
    }
    return {};
  }

 private:
  // Moves the session's output and results into the runner after every call.
  std::string collect() {
    std::string_view out = session_.pending_output();
    if (session_.wants_tls() && !out.empty()) return "output pending while wants_tls(): " + show(out);
    wire_.append(out);
    session_.consume_output(out.size());
    for (TransactionResult& tr : session_.take_results()) {
      auto it = envelopes_.find(tr.tag);
      if (it == envelopes_.end()) return "result for unknown tag " + std::to_string(tr.tag);
      if (tr.recipients.size() != it->second.size()) {
        return "result for tag " + std::to_string(tr.tag) + " has " + std::to_string(tr.recipients.size()) +
               " recipients, envelope had " + std::to_string(it->second.size());
      }
      if (!reported_.insert({tr.tag, true}).second) return "second result for tag " + std::to_string(tr.tag);
      for (std::size_t i = 0; i < tr.recipients.size(); ++i) {
        results_.push_back(Flat{tr.tag, it->second[i], std::move(tr.recipients[i])});
      }
    }
    return {};
  }

  std::string feed(const std::string& bytes) {
    if (!wire_.empty()) return "client wrote more than the transcript expects: " + show(wire_);
    std::string_view in = bytes;
    switch (mode_.kind) {
      case FeedMode::Kind::whole:
        session_.on_bytes(in);
        return collect();
      case FeedMode::Kind::split:
        if (mode_.at > 0 && mode_.at < in.size()) {
          session_.on_bytes(in.substr(0, mode_.at));
          if (auto e = collect(); !e.empty()) return e;
          session_.on_bytes(in.substr(mode_.at));
        } else {
          session_.on_bytes(in);
        }
        return collect();
      case FeedMode::Kind::byte_by_byte:
        for (std::size_t i = 0; i < in.size(); ++i) {
          session_.on_bytes(in.substr(i, 1));
          if (auto e = collect(); !e.empty()) return e;
        }
        return {};
    }
    return {};
  }

  std::string step(const Step& s) {
    switch (s.kind) {
      case Step::Kind::server:
        return feed(s.text);
      case Step::Kind::client: {
        if (wire_.compare(0, s.text.size(), s.text) != 0) {
          return "expected client bytes '" + show(s.text) + "', client wrote '" + show(wire_) + "'";
        }
        wire_.erase(0, s.text.size());
        return {};
      }
      case Step::Kind::body:
        body_ += s.text;
        return {};
      case Step::Kind::dsn:
        return dsn(s);
      case Step::Kind::submit: {
        Envelope env;
        env.tag = std::stoull(s.args.at(0));
        auto from = angle_address(s.args.at(1));
        if (!from) return from.error();
        env.from = *from;
        for (std::size_t i = 2; i < s.args.size(); ++i) {
          auto a = angle_address(s.args[i]);
          if (!a) return a.error();
          env.recipients.push_back(*a);
        }
        env.body = std::make_shared<const std::string>(std::exchange(body_, {}));
        env.dsn = std::exchange(dsn_, std::nullopt);
        envelopes_[env.tag] = env.recipients;
        if (!session_.ready()) return "@submit while the session is not ready (state " + std::string(to_string(session_.state())) + ")";
        session_.submit(std::move(env));
        return collect();
      }
      case Step::Kind::quit:
        session_.quit();
        return collect();
      case Step::Kind::closed:
        session_.on_closed();
        return collect();
      case Step::Kind::timeout:
        session_.on_timeout();
        return collect();
      case Step::Kind::tls_ready:
        if (!session_.wants_tls()) return "@tls_ready while the session does not want TLS";
        session_.on_tls_ready();
        return collect();
      case Step::Kind::tls_failed:
        if (!session_.wants_tls()) return "@tls_failed while the session does not want TLS";
        session_.on_tls_failed(s.text);
        return collect();
      case Step::Kind::expect:
        return expect(s);
      case Step::Kind::failure:
        return failure(s);
      case Step::Kind::result:
        return result(s);
    }
    return {};
  }

  std::string dsn(const Step& s) {
    Dsn d;
    for (const std::string& kv : s.args) {
      const std::size_t eq = kv.find('=');
      if (eq == std::string::npos) return "bad @dsn item " + kv;
      const std::string key = kv.substr(0, eq);
      const std::string value = unescape(kv.substr(eq + 1));
      const std::string item = value == "-" ? std::string() : value;
      if (key == "ret") {
        d.ret = item;
      } else if (key == "envid") {
        d.envid = item;
      } else if (key == "notify") {
        d.notify.push_back(item);
      } else if (key == "orcpt") {
        d.orcpt.push_back(item);
      } else {
        return "unknown @dsn key " + key;
      }
    }
    dsn_ = std::move(d);
    return {};
  }

  std::string expect(const Step& s) {
    for (const std::string& kv : s.args) {
      const std::size_t eq = kv.find('=');
      if (eq == std::string::npos) return "bad @expect item " + kv;
      const std::string key = kv.substr(0, eq);
      const std::string want = kv.substr(eq + 1);
      std::string got;
      if (key == "state") {
        got = to_string(session_.state());
      } else if (key == "ready") {
        got = session_.ready() ? "yes" : "no";
      } else if (key == "wants_close") {
        got = session_.wants_close() ? "yes" : "no";
      } else if (key == "failure") {
        got = std::to_string(session_.failure_reply().code);
      } else if (key == "completed") {
        got = std::to_string(session_.transactions_completed());
      } else if (key == "pipelining") {
        got = session_.capabilities().pipelining ? "yes" : "no";
      } else if (key == "wants_tls") {
        got = session_.wants_tls() ? "yes" : "no";
      } else if (key == "tls_active") {
        got = session_.tls_active() ? "yes" : "no";
      } else if (key == "chunking") {
        got = session_.capabilities().chunking ? "yes" : "no";
      } else if (key == "starttls") {
        got = session_.capabilities().starttls ? "yes" : "no";
      } else if (key == "size") {
        got = session_.capabilities().size ? std::to_string(*session_.capabilities().size) : "none";
      } else if (key == "awaiting") {
        got = to_string(session_.awaiting());
        for (char& c : got) c = c == ' ' ? '_' : c;  // "end of data" -> end_of_data
      } else {
        return "unknown @expect key " + key;
      }
      if (got != want) return "@expect " + key + ": want " + want + ", got " + got;
    }
    return {};
  }

  std::string failure(const Step& s) {
    const Reply& r = session_.failure_reply();
    const std::string got = std::to_string(r.code) + ' ' + (r.enhanced.empty() ? "-" : r.enhanced) + " | " + show(r.text);
    if (!reply_matches(s, 0, r)) return "F: want '" + s.text + "', got '" + got + "'";
    return {};
  }

  // args[first] is the code, args[first + 1] the optional enhanced code; " | text" optional.
  static bool reply_matches(const Step& s, std::size_t first, const Reply& r) {
    const auto& a = s.args;
    if (a.size() <= first || std::to_string(r.code) != a[first]) return false;
    if (a.size() > first + 1 && a[first + 1] != "|") {
      if ((a[first + 1] == "-" ? std::string() : a[first + 1]) != r.enhanced) return false;
    }
    if (const std::size_t bar = s.text.find(" | "); bar != std::string::npos) {
      if (unescape(s.text.substr(bar + 3)) != r.text) return false;
    }
    return true;
  }

  std::string result(const Step& s) {
    if (results_.empty()) return "no result available for R: " + s.text;
    const Flat f = std::move(results_.front());
    results_.pop_front();
    const auto& a = s.args;
    if (a.size() < 4) return "R: needs <tag> <addr> <outcome> <code>";
    auto addr = angle_address(a[1]);
    if (!addr) return addr.error();
    std::ostringstream got;
    got << f.tag << " <" << f.address << "> " << to_string(f.result.outcome) << ' ' << f.result.reply.code << ' '
        << (f.result.reply.enhanced.empty() ? "-" : f.result.reply.enhanced) << " | " << show(f.result.reply.text);
    const std::string mismatch = "R: want '" + s.text + "', got '" + got.str() + "'";
    if (std::to_string(f.tag) != a[0] || f.address != *addr || to_string(f.result.outcome) != a[2] ||
        !reply_matches(s, 3, f.result.reply)) {
      return mismatch;
    }
    return {};
  }

  const Transcript& t_;
  FeedMode mode_;
  ClientSession session_;
  std::string wire_;  // client output not yet matched by C: lines
  std::string body_;
  std::optional<Dsn> dsn_;
  std::map<uint64_t, std::vector<std::string>> envelopes_;
  std::map<uint64_t, bool> reported_;
  std::deque<Flat> results_;
};

}  // namespace

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (c == 'r') {
      out += '\r';
    } else if (c == 'n') {
      out += '\n';
    } else if (c == 't') {
      out += '\t';
    } else if (c == 'x' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

tl::expected<Transcript, std::string> parse_transcript(const std::string& text) {
  Transcript t;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  bool in_chunk = false;  // the previous directive was S: or S+
  bool config_allowed = true;
  while (std::getline(in, raw)) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.empty() || raw[0] == '#') continue;  // comments do not end a server chunk
    const std::string tag = raw.substr(0, 2);
    const std::string rest = raw.size() > 3 ? raw.substr(3) : std::string();
    const bool server = tag == "S:" || tag == "S+";
    if (server) {
      config_allowed = false;
      const std::string bytes = tag == "S:" ? rest + "\r\n" : unescape(rest);
      if (!in_chunk) t.steps.push_back(Step{Step::Kind::server, line, {}, {}});
      t.steps.back().text += bytes;
      t.longest_chunk = std::max(t.longest_chunk, t.steps.back().text.size());
      in_chunk = true;
      continue;
    }
    in_chunk = false;
    if (raw.rfind("@config ", 0) == 0) {
      if (!config_allowed) return tl::make_unexpected(at_line(line) + "@config must come before any other directive");
      auto w = words(std::string_view(raw).substr(8));
      if (auto e = check_config(w); !e.empty()) return tl::make_unexpected(at_line(line) + e);
      t.config.insert(t.config.end(), w.begin(), w.end());
      continue;
    }
    config_allowed = false;
    if (tag == "C:") {
      t.steps.push_back(Step{Step::Kind::client, line, rest + "\r\n", {}});
    } else if (tag == "C+") {
      t.steps.push_back(Step{Step::Kind::client, line, unescape(rest), {}});
    } else if (tag == "B:") {
      t.steps.push_back(Step{Step::Kind::body, line, rest + "\r\n", {}});
    } else if (tag == "B+") {
      t.steps.push_back(Step{Step::Kind::body, line, unescape(rest), {}});
    } else if (tag == "B*") {
      const std::size_t sp = rest.find(' ');
      std::size_t n = 0;
      try {
        n = std::stoul(rest.substr(0, sp));
      } catch (const std::exception&) {
        return tl::make_unexpected(at_line(line) + "B* needs <count> <bytes>");
      }
      const std::string unit = sp == std::string::npos ? std::string() : unescape(rest.substr(sp + 1));
      std::string bytes;
      for (std::size_t i = 0; i < n; ++i) bytes += unit;
      t.steps.push_back(Step{Step::Kind::body, line, std::move(bytes), {}});
    } else if (raw.rfind("@dsn ", 0) == 0) {
      t.steps.push_back(Step{Step::Kind::dsn, line, raw, words(std::string_view(raw).substr(5))});
    } else if (raw == "@tls_ready") {
      t.steps.push_back(Step{Step::Kind::tls_ready, line, raw, {}});
    } else if (raw.rfind("@tls_failed ", 0) == 0) {
      t.steps.push_back(Step{Step::Kind::tls_failed, line, raw.substr(12), {}});
    } else if (tag == "F:") {
      std::string_view r = rest;
      t.steps.push_back(Step{Step::Kind::failure, line, rest, words(r.substr(0, r.find(" | ")))});
    } else if (tag == "R:") {
      std::string_view r = rest;
      t.steps.push_back(Step{Step::Kind::result, line, rest, words(r.substr(0, r.find(" | ")))});
    } else if (raw.rfind("@submit ", 0) == 0) {
      auto w = words(std::string_view(raw).substr(8));
      if (w.size() < 2) return tl::make_unexpected(at_line(line) + "@submit needs <tag> <from> [<rcpt>...]");
      t.steps.push_back(Step{Step::Kind::submit, line, raw, std::move(w)});
    } else if (raw == "@quit") {
      t.steps.push_back(Step{Step::Kind::quit, line, raw, {}});
    } else if (raw == "@closed") {
      t.steps.push_back(Step{Step::Kind::closed, line, raw, {}});
    } else if (raw == "@timeout") {
      t.steps.push_back(Step{Step::Kind::timeout, line, raw, {}});
    } else if (raw.rfind("@expect ", 0) == 0) {
      t.steps.push_back(Step{Step::Kind::expect, line, raw, words(std::string_view(raw).substr(8))});
    } else {
      return tl::make_unexpected(at_line(line) + "unknown directive: " + raw);
    }
  }
  return t;
}

tl::expected<Transcript, std::string> load_transcript(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return tl::make_unexpected("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return parse_transcript(ss.str());
}

std::string FeedMode::describe() const {
  switch (kind) {
    case Kind::whole: return "fed whole";
    case Kind::split: return "split at byte " + std::to_string(at);
    case Kind::byte_by_byte: return "fed byte by byte";
  }
  return {};
}

std::string run_transcript(const Transcript& t, FeedMode mode) { return Runner(t, mode).run(); }

std::string run_transcript_all_modes(const Transcript& t) {
  if (auto e = run_transcript(t, {FeedMode::Kind::whole, 0}); !e.empty()) return e;
  for (std::size_t at = 1; at < t.longest_chunk; ++at) {
    if (auto e = run_transcript(t, {FeedMode::Kind::split, at}); !e.empty()) return e;
  }
  return run_transcript(t, {FeedMode::Kind::byte_by_byte, 0});
}

}  // namespace ringpost::smtp::testing
