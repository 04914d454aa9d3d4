// Bounce classification tables. Each class has the RFC 3463 codes that name it exactly and the
// phrases large providers (Gmail, Microsoft, Yahoo) and common MTAs (Postfix, Exim, Exchange)
// use for it. Order matters where replies are ambiguous: a DMARC rejection says "policy" and
// "blocked", a content rejection says "blocked", so the more specific class is tried first.
#include "engine/api/bounce_class.h"

#include <array>
#include <string>

#include "engine/api/ascii.h"

namespace ringpost::api {
namespace {

struct Enhanced {
  int cls = 0, subject = -1, detail = -1;  // cls 0: none
};

// "c.s.d" with c in 2/4/5, s and d of 1-3 digits, at `s`'s start; the rest must not continue
// a number ("5.1.10" is not "5.1.1").
Enhanced parse_enhanced(std::string_view s) {
  Enhanced e;
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return {};
  std::size_t i = 2;
  int parts[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const std::size_t start = i;
    while (i < s.size() && i - start < 3 && s[i] >= '0' && s[i] <= '9') parts[k] = parts[k] * 10 + (s[i++] - '0');
    if (i == start) return {};
    if (k == 0) {
      if (i >= s.size() || s[i] != '.') return {};
      ++i;
    }
  }
  if (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) return {};
  e.cls = s[0] - '0';
  e.subject = parts[0];
  e.detail = parts[1];
  return e;
}

// Servers that do not advertise ENHANCEDSTATUSCODES often still write one first in the text
// ("550 5.1.1 <x>: user unknown" parsed as code 550, text "5.1.1 <x>: ..."); Gmail repeats it
// on every line ("5.1.1 The email account ... 5.1.1 https://...").
Enhanced enhanced_of(std::string_view enhanced, std::string_view text) {
  if (!enhanced.empty()) return parse_enhanced(enhanced);
  while (!text.empty() && (text.front() == ' ' || text.front() == '-')) text.remove_prefix(1);
  return parse_enhanced(text);
}

bool contains(std::string_view lower_text, std::string_view phrase) {
  return lower_text.find(phrase) != std::string_view::npos;
}

// `word` as a whole word (no letter or digit either side): "spf" must not match "spfx".
bool contains_word(std::string_view lower_text, std::string_view word) {
  for (std::size_t p = lower_text.find(word); p != std::string_view::npos; p = lower_text.find(word, p + 1)) {
    const bool left_ok = p == 0 || !is_ascii_alnum(static_cast<unsigned char>(lower_text[p - 1]));
    const std::size_t end = p + word.size();
    const bool right_ok = end >= lower_text.size() || !is_ascii_alnum(static_cast<unsigned char>(lower_text[end]));
    if (left_ok && right_ok) return true;
  }
  return false;
}

template <std::size_t N>
bool any_phrase(std::string_view lower_text, const std::array<std::string_view, N>& phrases) {
  for (const std::string_view p : phrases) {
    if (contains(lower_text, p)) return true;
  }
  return false;
}

// Sender authentication: SPF, DKIM, DMARC, reverse DNS (RFC 7372 x.7.20-x.7.26).
constexpr std::array<std::string_view, 4> kAuthWords = {"spf", "dkim", "dmarc", "unauthenticated"};
constexpr std::array<std::string_view, 4> kAuthPhrases = {"sender policy framework", "not authenticated",
                                                          "authentication checks", "reverse dns"};

constexpr std::array<std::string_view, 27> kUnknownUser = {
    "user unknown", "unknown user", "no such user", "unknown recipient", "no such recipient", "recipient not found",
    "recipient unknown", "mailbox not found", "mailbox unavailable", "no mailbox", "mailbox does not exist",
    "does not exist", "doesn't exist", "invalid recipient", "invalid mailbox", "not a valid mailbox", "no such mailbox",
    "address rejected: access denied", "user doesn't have", "user does not have", "account is disabled",
    "account has been disabled", "mailbox is disabled", "mailbox disabled", "account disabled",
    "is not a known user", "address not found"};
constexpr std::array<std::string_view, 10> kMailboxFull = {
    "mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage", "exceeds quota",
    "out of storage", "insufficient storage", "mailbox size limit", "quotaexceeded"};
constexpr std::array<std::string_view, 8> kTooLarge = {"message too large", "message size", "message is too large",
                                                       "too big", "size limit", "exceeds the maximum",
                                                       "message length exceeds", "exceeded the maximum size"};
constexpr std::array<std::string_view, 12> kBadDomain = {
    "domain not found", "no such domain", "host not found", "host unknown", "unrouteable", "unroutable",
    "domain does not exist", "null mx", "nxdomain", "does not accept mail", "no mx", "name or service not known"};
constexpr std::array<std::string_view, 7> kContent = {"virus", "malware", "content", "attachment", "phishing",
                                                      "malicious", "message is malformed"};
constexpr std::array<std::string_view, 15> kReputation = {
    "spam", "blocked", "block list", "blocklist", "blacklist", "reputation", "unsolicited", "complaint",
    "spamhaus", "spamcop", "barracuda", "banned", "traffic not accepted", "denylist", "bulk mail"};
// Whole words: "garble" is no RBL, and "greylisted" is not "listed" on a blocklist.
constexpr std::array<std::string_view, 3> kReputationWords = {"rbl", "dnsbl", "listed"};
// Greylisting (a deliberate first-attempt deferral) often says "blocked" or "listed" too.
constexpr std::array<std::string_view, 2> kGreylisting = {"greylist", "graylist"};
constexpr std::array<std::string_view, 3> kTimeout = {"timed out", "timeout", "time out"};
constexpr std::array<std::string_view, 4> kPolicy = {"policy", "not allowed", "relay", "prohibited"};

// Exact RFC 3463 (and RFC 5248 registry) codes. `cls` 0 matches either 4 or 5.
struct CodeRule {
  int cls, subject, detail;  // detail -1: any
  std::string_view klass;
};
constexpr std::array<CodeRule, 12> kCodeRules = {{
    {0, 1, 1, "unknown_user"},        // bad destination mailbox address
    {5, 1, 6, "unknown_user"},        // mailbox has moved, no forwarding address
    {5, 2, 1, "unknown_user"},        // mailbox disabled: permanent, so suppress like a missing one
    {0, 1, 2, "bad_domain"},          // bad destination system address
    {0, 1, 10, "bad_domain"},         // RFC 7505 null MX
    {5, 4, 4, "bad_domain"},          // unable to route
    {0, 2, 2, "mailbox_full"},        // mailbox full
    {0, 2, 3, "message_too_large"},   // message length exceeds administrative limit
    {0, 3, 4, "message_too_large"},   // message too big for system
    {0, 4, 7, "timeout"},             // delivery time expired
    {0, 6, -1, "content"},            // media errors: malformed, conversion not possible
    {0, 7, 1, ""},                    // delivery not authorized: decided by wording below
}};

}  // namespace

std::string_view classify_bounce(int code, std::string_view enhanced, std::string_view text) {
  const Enhanced e = enhanced_of(enhanced, text);
  const std::string lower = to_ascii_lower(text);
  const int basic = code / 100;
  const int cls = basic == 4 || basic == 5 ? basic : e.cls;
  if (cls != 4 && cls != 5) return "unknown";  // a success, or no reply and no code

  // 1. Authentication. Before everything: DMARC rejections also say "policy" and "blocked".
  if (e.subject == 7 && e.detail >= 20 && e.detail <= 26) return "auth";
  for (const std::string_view w : kAuthWords) {
    if (contains_word(lower, w)) return "auth";
  }
  if (any_phrase(lower, kAuthPhrases)) return "auth";

  // 2. Enhanced codes that name the class exactly.
  for (const CodeRule& r : kCodeRules) {
    if ((r.cls == 0 || r.cls == e.cls) && r.subject == e.subject && (r.detail == -1 || r.detail == e.detail)) {
      if (!r.klass.empty()) return r.klass;
      break;
    }
  }

  // 3. Wording, for replies with no enhanced code or a generic one (5.0.0, 5.5.0, 4.7.0...).
  if (any_phrase(lower, kUnknownUser)) return "unknown_user";
  if (any_phrase(lower, kMailboxFull)) return "mailbox_full";
  if (any_phrase(lower, kTooLarge)) return "message_too_large";
  if (any_phrase(lower, kBadDomain)) return "bad_domain";
  if (cls == 4 && any_phrase(lower, kGreylisting)) return "soft";
  if (any_phrase(lower, kContent)) return "content";
  if (any_phrase(lower, kReputation)) return "reputation";
  for (const std::string_view w : kReputationWords) {
    if (contains_word(lower, w)) return "reputation";
  }
  if (any_phrase(lower, kTimeout)) return "timeout";

  // 4. Security or policy status (x.7.x) with no telling words: a permanent one is the
  // receiver's policy; a temporary one (4.7.0 "try again later") is ordinary deferral.
  if (e.subject == 7) return cls == 5 ? "policy" : "soft";
  if (any_phrase(lower, kPolicy)) return cls == 5 ? "policy" : "soft";

  // 5. Network and routing trouble (x.4.x: no answer, bad connection, routing) is transient
  // by nature when the class says so; then the basic class decides.
  return cls == 4 ? "soft" : "hard";
}

}  // namespace ringpost::api
