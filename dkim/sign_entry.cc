// Parsing and defaults for SignEntry's fields. Pure.
#include "dkim/sign_entry.h"

#include <fmt/format.h>

#include <algorithm>

namespace ringpost::dkim {
namespace {

tl::expected<Canon, std::string> parse_canon(std::string_view word) {
  if (word == "relaxed") return Canon::relaxed;
  if (word == "simple") return Canon::simple;
  return tl::make_unexpected(fmt::format("'{}' is not \"simple\" or \"relaxed\"", word));
}

std::string_view canon_name(Canon c) { return c == Canon::relaxed ? "relaxed" : "simple"; }

}  // namespace

tl::expected<Algorithm, std::string> parse_algorithm(std::string_view text) {
  if (text == "rsa-sha256") return Algorithm::rsa_sha256;
  if (text == "ed25519-sha256") return Algorithm::ed25519_sha256;
  return tl::make_unexpected(fmt::format("'{}' is not \"rsa-sha256\" or \"ed25519-sha256\"", text));
}

std::string_view to_string(Algorithm a) {
  return a == Algorithm::rsa_sha256 ? "rsa-sha256" : "ed25519-sha256";
}

tl::expected<Canonicalization, std::string> parse_canonicalization(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto header = parse_canon(text.substr(0, slash));
  if (!header) return tl::make_unexpected(header.error());
  if (slash == std::string_view::npos) return Canonicalization{*header, Canon::simple};
  auto body = parse_canon(text.substr(slash + 1));
  if (!body) return tl::make_unexpected(body.error());
  return Canonicalization{*header, *body};
}

std::string to_string(Canonicalization c) {
  return fmt::format("{}/{}", canon_name(c.header), canon_name(c.body));
}

bool is_signable_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool is_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

const std::vector<std::string>& default_signed_headers() {
  static const std::vector<std::string> kHeaders{
      "From",        "Sender",         "Reply-To",    "Subject",          "Date",
      "Message-ID",  "To",             "Cc",          "MIME-Version",     "Content-Type",
      "Content-Transfer-Encoding",     "Content-ID",  "Content-Description",
      "In-Reply-To", "References",     "List-Id",     "List-Help",        "List-Unsubscribe",
      "List-Unsubscribe-Post",         "List-Subscribe", "List-Post",     "List-Owner",
      "List-Archive", "Feedback-ID"};
  return kHeaders;
}

const std::vector<std::string>& default_oversigned_headers() {
  static const std::vector<std::string> kHeaders{"From",    "Reply-To", "Subject", "To", "Cc",
                                                 "List-Unsubscribe", "List-Unsubscribe-Post"};
  return kHeaders;
}

}  // namespace ringpost::dkim
