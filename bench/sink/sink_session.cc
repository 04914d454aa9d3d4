// See sink_session.h. Replies follow Postfix smtpd's wording where one exists, so a client's
// logs read the same against either server.
#include "bench/sink/sink_session.h"

#include <charconv>
#include <cstring>

namespace ringpost::sink {
namespace {

// Postfix's line_length_limit. RFC 5321 §4.5.3.1.4 allows 512 octets plus what extensions add;
// longer lines are refused rather than buffered without bound.
constexpr std::size_t kMaxCommandLine = 2048;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// "FROM:<a@b> SIZE=10" after the verb: the path (brackets included) and the parameters. False
// when the keyword or the brackets are missing. RFC 5321 §4.1.2; a space after the colon is
// tolerated as most servers do.
bool split_path(std::string_view arg, std::string_view keyword, std::string_view& path, std::string_view& params) {
  if (!istarts_with(arg, keyword)) return false;
  arg = trim(arg.substr(keyword.size()));
  if (arg.empty() || arg.front() != '<') return false;
  std::size_t close = arg.find('>');
  if (close == std::string_view::npos) return false;
  path = arg.substr(0, close + 1);
  params = trim(arg.substr(close + 1));
  return true;
}

// splitmix64: spreads a small seed (a connection number) over all 64 bits for xorshift.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

SinkSession::SinkSession(const SinkConfig& cfg, SinkCounters* counters, uint64_t seed)
    : cfg_(cfg), counters_(counters), rng_(mix(seed) | 1) {}

void SinkSession::reply(std::string_view line) {
  out_.append(line);
  out_.append("\r\n");
  ++replies_;
}

std::size_t SinkSession::take_reply_count() {
  std::size_t n = replies_;
  replies_ = 0;
  return n;
}

void SinkSession::greet() { reply("220 " + cfg_.hostname + " ESMTP ringpost-sink"); }

void SinkSession::refuse() {
  reply("421 4.7.0 " + cfg_.hostname + " Error: too many connections");
  ++counters_->replies_421;
  after_ = After::close;
}

bool SinkSession::roll(double pct) {
  if (pct <= 0) return false;
  // xorshift64*: cheap, and reproducible per seed, which is all fault draws need.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  uint64_t r = rng_ * 0x2545f4914f6cdd1dULL;
  return static_cast<double>(r >> 11) * (100.0 / 9007199254740992.0) < pct;
}

std::size_t SinkSession::on_bytes(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size() && after_ == After::none) {
    std::string_view rest = in.substr(i);
    if (mode_ == Mode::data) {
      i += scan_data(rest);
      continue;
    }
    if (mode_ == Mode::bdat) {
      i += take_bdat(rest);
      continue;
    }
    std::size_t lf = rest.find('\n');
    if (lf == std::string_view::npos) {
      // Keep the partial line for the next call, unless it is already too long to be a command.
      if (line_.size() + rest.size() > kMaxCommandLine) {
        line_too_long_ = true;
        line_.clear();
      } else if (!line_too_long_) {
        line_.append(rest);
      }
      i = in.size();
      break;
    }
    i += lf + 1;
    std::string_view line = rest.substr(0, lf);
    if (!line_.empty()) {
      line_.append(line);
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_too_long_ || line.size() > kMaxCommandLine) {
      line_too_long_ = false;
      reply("500 5.5.0 Error: line too long");
    } else {
      command(line);
    }
    line_.clear();
  }
  // Past STARTTLS, 421 or QUIT the rest is never executed (see the header).
  return after_ == After::none ? i : in.size();
}

void SinkSession::command(std::string_view line) {
  std::size_t sp = line.find(' ');
  std::string_view verb = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp + 1));
  if (iequals(verb, "EHLO")) return cmd_ehlo(arg, true);
  if (iequals(verb, "HELO")) return cmd_ehlo(arg, false);
  if (iequals(verb, "MAIL")) return cmd_mail(arg);
  if (iequals(verb, "RCPT")) return cmd_rcpt(arg);
  if (iequals(verb, "DATA")) return arg.empty() ? cmd_data() : reply("501 5.5.4 Syntax: DATA");
  if (cfg_.chunking && iequals(verb, "BDAT")) return cmd_bdat(arg);
  if (iequals(verb, "STARTTLS")) return cmd_starttls();
  if (iequals(verb, "RSET")) {
    reset_transaction();
    return reply("250 2.0.0 Ok");
  }
  if (iequals(verb, "NOOP")) return reply("250 2.0.0 Ok");
  if (iequals(verb, "VRFY")) return reply("252 2.0.0 Cannot VRFY user, but will accept message");
  if (iequals(verb, "HELP")) return reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT");
  if (iequals(verb, "QUIT")) {
    reply("221 2.0.0 Bye");
    after_ = After::close;
    return;
  }
  reply("500 5.5.2 Error: command not recognized");
}

void SinkSession::cmd_ehlo(std::string_view arg, bool extended) {
  if (arg.empty()) return reply(extended ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
  reset_transaction();
  helo_ = true;
  esmtp_ = extended;
  if (!extended) return reply("250 " + cfg_.hostname);
  // Every line but the last is "250-"; building the list first keeps that rule in one place.
  std::string lines[8];
  std::size_t n = 0;
  lines[n++] = cfg_.hostname;
  if (cfg_.pipelining) lines[n++] = "PIPELINING";
  lines[n++] = "SIZE " + std::to_string(cfg_.max_message_size);
  if (cfg_.eightbitmime) lines[n++] = "8BITMIME";
  if (cfg_.chunking) lines[n++] = "CHUNKING";
  if (cfg_.starttls && !tls_active_) lines[n++] = "STARTTLS";
  lines[n++] = "ENHANCEDSTATUSCODES";
  for (std::size_t k = 0; k < n; ++k) reply((k + 1 < n ? "250-" : "250 ") + lines[k]);
}

void SinkSession::cmd_mail(std::string_view arg) {
  if (!helo_) return reply("503 5.5.1 Error: send HELO/EHLO first");
  if (mail_) return reply("503 5.5.1 Error: nested MAIL command");
  if (cfg_.reply_421_after && messages_on_conn_ >= cfg_.reply_421_after) {
    reply("421 4.7.0 " + cfg_.hostname + " Error: too many messages on this connection");
    ++counters_->replies_421;
    after_ = After::close;
    return;
  }
  std::string_view path, params;
  if (!split_path(arg, "FROM:", path, params)) return reply("501 5.5.4 Syntax: MAIL FROM:<address>");
  while (!params.empty()) {
    std::size_t sp = params.find(' ');
    std::string_view p = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view{} : trim(params.substr(sp + 1));
    std::size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : p.substr(eq + 1);
    if (!esmtp_) return reply("555 5.5.4 Unsupported option: " + std::string(p));
    if (iequals(key, "SIZE")) {
      uint64_t size = 0;
      if (!parse_u64(value, size)) return reply("501 5.5.4 Bad message size syntax");
      // RFC 1870 §6.2: a declared size over the limit is refused before any content is sent.
      if (size > cfg_.max_message_size) return reply("552 5.3.4 Message size exceeds fixed limit");
    } else if (iequals(key, "BODY")) {
      if (!iequals(value, "7BIT") && !(cfg_.eightbitmime && iequals(value, "8BITMIME")))
        return reply("501 5.5.4 Unsupported BODY parameter");
    } else {
      return reply("555 5.5.4 Unsupported option: " + std::string(p));
    }
  }
  mail_ = true;
  reply("250 2.1.0 Ok");
}

void SinkSession::cmd_rcpt(std::string_view arg) {
  if (!mail_) return reply("503 5.5.1 Error: need MAIL command");
  std::string_view path, params;
  if (!split_path(arg, "TO:", path, params)) return reply("501 5.5.4 Syntax: RCPT TO:<address>");
  if (path == "<>") return reply("501 5.1.3 Bad recipient address syntax");
  if (!params.empty()) return reply("555 5.5.4 Unsupported option: " + std::string(params));
  // One draw per fault kind, in a fixed order, so a seed gives the same answers every run.
  if (roll(cfg_.rcpt_5xx_pct)) {
    ++counters_->recipients_rejected;
    return reply("550 5.1.1 " + std::string(path) + ": Recipient address rejected: injected fault");
  }
  if (roll(cfg_.rcpt_4xx_pct)) {
    ++counters_->recipients_rejected;
    return reply("450 4.2.0 " + std::string(path) + ": Recipient address rejected: injected fault");
  }
  ++rcpts_;
  ++counters_->recipients;
  reply("250 2.1.5 Ok");
}

void SinkSession::cmd_data() {
  if (!mail_) return reply("503 5.5.1 Error: need MAIL command");
  if (bdat_used_) return reply("503 5.5.1 Error: DATA after BDAT");
  // RFC 2920 §3.1: with every RCPT refused, DATA is refused and no content follows.
  if (rcpts_ == 0) return reply("554 5.5.1 Error: no valid recipients");
  reply("354 End data with <CR><LF>.<CR><LF>");
  mode_ = Mode::data;
  scan_ = DataScan::line_start;
  msg_bytes_ = 0;
}

std::size_t SinkSession::scan_data(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    switch (scan_) {
      case DataScan::mid_line: {
        // The hot path: skip to the next LF without looking at each byte here.
        const void* lf = std::memchr(in.data() + i, '\n', in.size() - i);
        if (!lf) {
          i = in.size();
        } else {
          i = static_cast<std::size_t>(static_cast<const char*>(lf) - in.data()) + 1;
          scan_ = DataScan::line_start;
        }
        continue;
      }
      case DataScan::line_start:
        if (c == '.') {
          scan_ = DataScan::dot;
          ++i;
        } else {
          scan_ = DataScan::mid_line;
        }
        continue;
      case DataScan::dot:
        if (c == '\r') {
          scan_ = DataScan::dot_cr;
          ++i;
        } else {
          scan_ = DataScan::mid_line;  // a stuffed dot, or a line starting with "."
        }
        continue;
      case DataScan::dot_cr:
        if (c != '\n') {
          scan_ = DataScan::mid_line;
          continue;
        }
        ++i;
        msg_bytes_ += i;
        // The terminating ".\r\n" (RFC 1870 §6: not part of the message size), which may have
        // arrived across earlier calls, is counted in msg_bytes_ by now.
        msg_bytes_ -= 3;
        mode_ = Mode::command;
        end_of_message();
        return i;
    }
  }
  msg_bytes_ += i;
  return i;
}

void SinkSession::cmd_bdat(std::string_view arg) {
  std::size_t sp = arg.find(' ');
  std::string_view size_text = arg.substr(0, sp);
  std::string_view last = sp == std::string_view::npos ? std::string_view{} : trim(arg.substr(sp + 1));
  uint64_t size = 0;
  // Without a valid size the chunk cannot be skipped; refusing and reading on as commands is all
  // a server can do (RFC 3030 §2 leaves it open).
  if (!parse_u64(size_text, size) || !(last.empty() || iequals(last, "LAST")))
    return reply("501 5.5.4 Syntax: BDAT count [LAST]");
  // RFC 3030 §2: the chunk is read whatever the reply will be; a chunk outside a valid
  // transaction fails, and so does every later chunk of it.
  if (!mail_ || rcpts_ == 0) bdat_failed_ = true;
  if (!bdat_used_) msg_bytes_ = 0;
  bdat_used_ = true;
  bdat_last_ = !last.empty();
  bdat_left_ = size;
  bdat_chunk_ = size;
  mode_ = Mode::bdat;
  if (size == 0) take_bdat({});
}

std::size_t SinkSession::take_bdat(std::string_view in) {
  std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(bdat_left_, in.size()));
  bdat_left_ -= n;
  msg_bytes_ += n;
  if (bdat_left_ > 0) return n;
  mode_ = Mode::command;
  if (bdat_failed_) {
    reply(rcpts_ == 0 && mail_ ? "554 5.5.1 Error: no valid recipients" : "503 5.5.1 Error: need MAIL and RCPT before BDAT");
    if (bdat_last_) reset_transaction();
  } else if (bdat_last_) {
    end_of_message();
  } else {
    reply("250 2.0.0 Ok: " + std::to_string(bdat_chunk_) + " bytes");
  }
  return n;
}

void SinkSession::end_of_message() {
  if (msg_bytes_ > cfg_.max_message_size) {
    ++counters_->messages_rejected;
    reply("552 5.3.4 Message size exceeds fixed limit");
  } else if (roll(cfg_.data_5xx_pct)) {
    ++counters_->messages_rejected;
    reply("554 5.6.0 Error: message rejected: injected fault");
  } else if (roll(cfg_.data_4xx_pct)) {
    ++counters_->messages_rejected;
    reply("451 4.3.0 Error: queue file write error: injected fault");
  } else {
    ++counters_->messages;
    counters_->message_bytes += msg_bytes_;
    ++messages_on_conn_;
    reply("250 2.0.0 Ok: queued as " + std::to_string(messages_on_conn_));
    if (cfg_.drop_after && messages_on_conn_ >= cfg_.drop_after) {
      ++counters_->drops;
      after_ = After::close;
    }
  }
  reset_transaction();
}

void SinkSession::cmd_starttls() {
  if (!cfg_.starttls) return reply("502 5.5.1 Error: command not implemented");
  if (tls_active_) return reply("554 5.5.1 Error: TLS already active");
  if (!helo_) return reply("503 5.5.1 Error: send EHLO first");
  reply("220 2.0.0 Ready to start TLS");
  ++counters_->tls_started;
  after_ = After::start_tls;
}

void SinkSession::on_tls_started() {
  tls_active_ = true;
  after_ = After::none;
  helo_ = false;
  esmtp_ = false;
  line_.clear();
  line_too_long_ = false;
  mode_ = Mode::command;
  reset_transaction();
}

void SinkSession::reset_transaction() {
  mail_ = false;
  rcpts_ = 0;
  bdat_used_ = false;
  bdat_failed_ = false;
  bdat_last_ = false;
  bdat_left_ = 0;
  msg_bytes_ = 0;
}

}  // namespace ringpost::sink
