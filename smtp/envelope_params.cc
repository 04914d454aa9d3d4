// See envelope_params.h. Parameter order follows Postfix (SIZE, BODY, SMTPUTF8, RET, ENVID;
// NOTIFY, ORCPT); servers must accept any order, but a familiar one is easier to read in logs.
#include "smtp/envelope_params.h"

#include <array>

#include <fmt/format.h>

namespace ringpost::smtp {
namespace {

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i]) != upper(b[i])) return false;
  }
  return true;
}

void append_param(std::string& out, std::string_view param) {
  if (!out.empty()) out += ' ';
  out.append(param);
}

}  // namespace

std::size_t mail_line_octets(std::string_view from) { return from.size() + 14; }  // MAIL FROM:<>CRLF
std::size_t rcpt_line_octets(std::string_view to) { return to.size() + 12; }      // RCPT TO:<>CRLF

bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

std::string xtext_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= '!' && c <= '~' && c != '+' && c != '=') {
      out += ch;
    } else {
      out += fmt::format("+{:02X}", c);  // RFC 3461 §4: upper-case hex
    }
  }
  return out;
}

std::optional<std::string> canonical_notify(std::string_view value) {
  if (value.empty()) return std::string();
  if (iequals(value, "NEVER")) return std::string("NEVER");
  // Written in a fixed order whatever the request's order: the set is what matters.
  constexpr std::array<std::string_view, 3> kWords = {"SUCCESS", "FAILURE", "DELAY"};
  std::array<bool, 3> seen{};
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view word = value.substr(0, comma);
    bool known = false;
    for (std::size_t i = 0; i < kWords.size(); ++i) {
      if (iequals(word, kWords[i])) {
        if (seen[i]) return std::nullopt;
        seen[i] = known = true;
      }
    }
    if (!known) return std::nullopt;  // includes an empty item and NEVER inside a list
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  std::string out;
  for (std::size_t i = 0; i < kWords.size(); ++i) {
    if (!seen[i]) continue;
    if (!out.empty()) out += ',';
    out.append(kWords[i]);
  }
  return out;
}

std::string mail_parameters(const Capabilities& caps, const Envelope& env, const BodyScan& body, bool smtputf8) {
  std::string out;
  // RFC 1870 §6: declare the size whenever SIZE is offered, also when it has no fixed limit.
  if (caps.size) append_param(out, fmt::format("SIZE={}", body.wire_size));
  // RFC 6152 §3: label 8-bit content when the server can take it. When it cannot, the message
  // goes out unlabelled and unchanged. Postfix does the same for 8-bit bytes its MIME headers do
  // not declare (it downgrades only declared 8bit parts); we never downgrade, because
  // re-encoding the body would break its DKIM signature, and servers that actually refuse
  // 8-bit bytes have become very rare.
  if (body.eight_bit && caps.eightbitmime) append_param(out, "BODY=8BITMIME");
  if (smtputf8) append_param(out, "SMTPUTF8");
  if (caps.dsn && env.dsn) {
    const Dsn& d = *env.dsn;
    // Anything but the two defined values is dropped: the server then applies its default.
    if (iequals(d.ret, "FULL")) append_param(out, "RET=FULL");
    if (iequals(d.ret, "HDRS")) append_param(out, "RET=HDRS");
    // An ENVID over the RFC's limit would get MAIL refused (and the whole message with it);
    // it only labels the DSNs, so it is dropped instead.
    if (!d.envid.empty()) {
      const std::string envid = xtext_encode(d.envid);
      if (envid.size() <= kMaxEnvid) append_param(out, "ENVID=" + envid);
    }
  }
  return out;
}

std::string rcpt_parameters(const Capabilities& caps, const Envelope& env, std::size_t index) {
  std::string out;
  if (!caps.dsn || !env.dsn) return out;
  const Dsn& d = *env.dsn;
  if (index < d.notify.size()) {
    const std::optional<std::string> notify = canonical_notify(d.notify[index]);
    if (notify && !notify->empty()) append_param(out, "NOTIFY=" + *notify);
  }
  // RFC 3461 §4.2 wants the rfc822 original address to be US-ASCII before encoding; a non-ASCII
  // one needs RFC 6533's "utf-8" address type, which is not implemented: such an ORCPT is
  // dropped, as is one over the length limit. ORCPT only informs the DSN's reader.
  if (index < d.orcpt.size() && !d.orcpt[index].empty() && !has_non_ascii(d.orcpt[index])) {
    std::string orcpt = "rfc822;" + xtext_encode(d.orcpt[index]);
    if (orcpt.size() <= kMaxOrcpt) append_param(out, "ORCPT=" + orcpt);
  }
  return out;
}

}  // namespace ringpost::smtp
