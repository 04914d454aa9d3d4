// The libopendkim signer ringpost used before issue 19 (docs/adr/0003), kept as an oracle:
// an independent implementation of the same canonicalization and header selection, so tests
// can check that our bh= and h= equal libopendkim's for the same input, and bench/dkim can show
// the cost it had. Driven as RFC 6376 §5 describes the signer: header fields one at a time
// (dkim_header), end of header (dkim_eoh), the body (dkim_body), end of message (dkim_eom),
// then the signature field (dkim_getsighdr_d). Re-parses the PEM key for every signature: it
// has no API that takes a parsed key. One thread at a time.
#include "tests/dkim_oracle/opendkim_oracle.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <memory>
#include <vector>

#include "dkim/message_view.h"
#include "dkim/signing_key.h"
#include "tests/dkim_oracle/opendkim.h"

namespace ringpost::dkim_test {
using namespace ringpost::dkim;
namespace {

constexpr std::string_view kFieldName = "DKIM-Signature: ";

struct DkimFree {
  void operator()(DKIM* d) const { dkim_free(d); }
};
using DkimPtr = std::unique_ptr<DKIM, DkimFree>;

dkim_canon_t to_opendkim(Canon c) { return c == Canon::relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE; }

dkim_alg_t to_opendkim(Algorithm a) {
  return a == Algorithm::rsa_sha256 ? DKIM_SIGN_RSASHA256 : DKIM_SIGN_ED25519SHA256;
}

// NULL-terminated array of C strings over `names`, as libopendkim's header lists are.
std::vector<const char*> c_list(const std::vector<std::string>& names) {
  std::vector<const char*> out;
  out.reserve(names.size() + 1);
  for (const std::string& n : names) out.push_back(n.c_str());
  out.push_back(nullptr);
  return out;
}

SignError library_error(DKIM* dkim, DKIM_STAT stat, std::string_view step) {
  const char* why = dkim ? dkim_geterror(dkim) : nullptr;
  return SignError{SignErrc::crypto_failed, fmt::format("libopendkim status {}: {}{}{}", stat, step, why && *why ? ": " : "", why ? why : "")};
}

bool has_from(const MessageView& view) {
  for (std::string_view f : view.fields) {
    std::string_view n = field_name(f);
    if (n.size() == 4 && (n[0] | 0x20) == 'f' && (n[1] | 0x20) == 'r' && (n[2] | 0x20) == 'o' && (n[3] | 0x20) == 'm')
      return true;
  }
  return false;
}

// Non-const pointers for a C API that takes u_char* but only reads (libopendkim copies header
// fields and hashes body bytes without writing to them).
u_char* bytes(std::string_view s) { return reinterpret_cast<u_char*>(const_cast<char*>(s.data())); }
const u_char* cstr(const std::string& s) { return reinterpret_cast<const u_char*>(s.c_str()); }

}  // namespace

OpendkimSigner::OpendkimSigner() = default;
OpendkimSigner::~OpendkimSigner() = default;

void OpendkimSigner::LibClose::operator()(dkim_lib* lib) const { dkim_close(lib); }

tl::expected<dkim_lib*, SignError> OpendkimSigner::lib_for(const SignEntry& e) {
  std::string key;
  for (const std::string& h : e.headers) key.append(h).push_back(':');
  key.push_back('|');
  for (const std::string& h : e.oversign) key.append(h).push_back(':');
  if (auto it = libs_.find(key); it != libs_.end()) return it->second.get();
  // Bounded: configurations only change on reload; a long-lived Signer that saw many simply
  // starts over.
  if (libs_.size() >= 64) libs_.clear();
  LibPtr lib(dkim_init(nullptr, nullptr));
  if (!lib) return tl::make_unexpected(SignError{SignErrc::crypto_failed, "dkim_init"});
  std::vector<const char*> headers = c_list(e.headers);
  std::vector<const char*> oversign = c_list(e.oversign);
  const char** headers_ptr = headers.data();
  const char** oversign_ptr = oversign.data();
  // Both lists are copied (and compiled) by libopendkim; the pointers need not outlive the call.
  if (DKIM_STAT st = dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, headers_ptr, sizeof headers_ptr);
      st != DKIM_STAT_OK)
    return tl::make_unexpected(library_error(nullptr, st, "setting the signed headers"));
  if (DKIM_STAT st = dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, oversign_ptr, sizeof oversign_ptr);
      st != DKIM_STAT_OK)
    return tl::make_unexpected(library_error(nullptr, st, "setting the over-signed headers"));
  return libs_.emplace(std::move(key), std::move(lib)).first->second.get();
}

tl::expected<std::string, SignError> OpendkimSigner::sign(std::string_view message, std::span<const SignEntry> entries,
                                                  int64_t now_unix_seconds) {
  auto view = split_message(message);
  if (!view) return tl::make_unexpected(SignError{SignErrc::malformed_message, view.error()});
  return sign(*view, entries, now_unix_seconds);
}

tl::expected<std::string, SignError> OpendkimSigner::sign(const MessageView& view, std::span<const SignEntry> entries,
                                                  int64_t now_unix_seconds) {
  if (entries.empty()) return tl::make_unexpected(SignError{SignErrc::no_entries, {}});
  if (!has_from(view)) return tl::make_unexpected(SignError{SignErrc::no_from_field, {}});

  std::string out;
  out.reserve(entries.size() * 512);
  for (const SignEntry& e : entries) {
    auto lib = lib_for(e);
    if (!lib) return tl::make_unexpected(lib.error());
    // t= comes from the caller's clock, not libopendkim's time(): a library-wide option,
    // hence one thread per Signer.
    uint64_t when = static_cast<uint64_t>(now_unix_seconds);
    if (DKIM_STAT st = dkim_options(*lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &when, sizeof when); st != DKIM_STAT_OK)
      return tl::make_unexpected(library_error(nullptr, st, "setting the signing time"));

    DKIM_STAT st = DKIM_STAT_OK;
    DkimPtr dkim(dkim_sign(*lib, reinterpret_cast<const u_char*>("ringpost"), nullptr,
                           reinterpret_cast<dkim_sigkey_t>(const_cast<char*>(e.key->private_pem.c_str())),
                           cstr(e.selector), cstr(e.domain), to_opendkim(e.canon.header), to_opendkim(e.canon.body),
                           to_opendkim(e.key->algorithm), -1, &st));
    if (!dkim) return tl::make_unexpected(library_error(nullptr, st, "dkim_sign"));
    // libopendkim 2.11.0~beta2 hashes an Ed25519 signature field folded as if its b= were
    // empty ("h=...; b=" on one line) but writes it with b= folded onto a line of its own, so
    // with simple header canonicalization (RFC 6376 §3.4.1: folding counts) every Ed25519
    // signature failed to verify. RSA is folded the same both times. A margin of 0 turns
    // folding off in both places: one long line, well under RFC 5322's 998 octets.
    if (e.key->algorithm == Algorithm::ed25519_sha256 && e.canon.header == Canon::simple)
      if (st = dkim_set_margin(dkim.get(), 0); st != DKIM_STAT_OK)
        return tl::make_unexpected(library_error(dkim.get(), st, "dkim_set_margin"));
    for (std::string_view field : view.fields)
      if (st = dkim_header(dkim.get(), bytes(field), field.size()); st != DKIM_STAT_OK)
        return tl::make_unexpected(library_error(dkim.get(), st, "dkim_header"));
    if (st = dkim_eoh(dkim.get()); st != DKIM_STAT_OK)
      return tl::make_unexpected(library_error(dkim.get(), st, "dkim_eoh"));
    if (!view.body.empty())
      if (st = dkim_body(dkim.get(), bytes(view.body), view.body.size()); st != DKIM_STAT_OK)
        return tl::make_unexpected(library_error(dkim.get(), st, "dkim_body"));
    // A body without a final CRLF reaches the receiver with one (the DATA writer adds it
    // before the final ".", RFC 5321 §4.1.1.4), and both body canonicalizations add it anyway
    // (RFC 6376 §3.4.3, §3.4.4); libopendkim instead refuses such a body at dkim_eom.
    if (!view.body.empty() && !view.body.ends_with("\r\n"))
      if (st = dkim_body(dkim.get(), bytes("\r\n"), 2); st != DKIM_STAT_OK)
        return tl::make_unexpected(library_error(dkim.get(), st, "dkim_body"));
    bool testkey = false;
    if (st = dkim_eom(dkim.get(), &testkey); st != DKIM_STAT_OK)
      return tl::make_unexpected(library_error(dkim.get(), st, "dkim_eom"));
    u_char* value = nullptr;
    std::size_t len = 0;
    // `initial` is the width already used on the first line by the field name, so the value
    // is folded to stay within the margin; the folds are CRLF + TAB.
    if (st = dkim_getsighdr_d(dkim.get(), kFieldName.size(), &value, &len); st != DKIM_STAT_OK)
      return tl::make_unexpected(library_error(dkim.get(), st, "dkim_getsighdr_d"));
    out += kFieldName;
    out.append(reinterpret_cast<const char*>(value), len);
    out += "\r\n";
  }
  return out;
}

std::string opendkim_version() {
  const uint32_t v = dkim_libversion();  // 0xMMmmpp00
  return fmt::format("libopendkim {}.{}.{} with {}", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff,
                     OpenSSL_version(OPENSSL_VERSION));
}

tl::expected<std::string, SignError> opendkim_sign(std::string_view message, std::span<const SignEntry> entries,
                                          int64_t now_unix_seconds) {
  OpendkimSigner signer;
  return signer.sign(message, entries, now_unix_seconds);
}

}  // namespace ringpost::dkim_test
