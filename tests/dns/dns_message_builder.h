// A small writer of DNS wire messages (RFC 1035 §4.1) for tests of engine/dns: header, one
// question, and resource records in the answer / authority / additional sections, with name
// compression (§4.1.4) where a test asks for it. Test-only, header-only, no I/O; one builder
// per message. Invariant: the section counts in the header always match the records written,
// unless a test overrides them on purpose (set_count) to build a malformed message.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringpost::dns::wire {

enum class Section : int { question = 0, answer = 1, authority = 2, additional = 3 };

// RR types and rcodes the tests use (RFC 1035 §3.2.2, RFC 3596, RFC 1035 §4.1.1).
inline constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeCname = 5, kTypeSoa = 6, kTypeMx = 15, kTypeTxt = 16,
                          kTypeAaaa = 28;
inline constexpr uint8_t kNoError = 0, kServFail = 2, kNxDomain = 3, kRefused = 5;

class MessageBuilder {
 public:
  // A response header: QR and AA set, RD copied as a resolver would, the given rcode.
  explicit MessageBuilder(uint8_t rcode = kNoError, uint16_t id = 0x1234) {
    put16(id);
    put16(static_cast<uint16_t>(0x8000 | 0x0400 | 0x0100 | (rcode & 0x0f)));  // QR AA RD, rcode
    for (int i = 0; i < 4; ++i) put16(0);
  }

  MessageBuilder& question(std::string_view name, uint16_t type) {
    put_name(name, /*compress=*/false);
    put16(type);
    put16(1);  // IN
    bump(Section::question);
    return *this;
  }

  // One RR; `rdata` comes from the rdata helpers below (which may write compressed names,
  // hence they take the builder). `compress_owner` writes the owner as a pointer to an earlier
  // occurrence of the same name, when there is one.
  template <typename RdataFn>
  MessageBuilder& rr(Section s, std::string_view owner, uint16_t type, uint32_t ttl, RdataFn&& rdata,
                     bool compress_owner = false) {
    put_name(owner, compress_owner);
    put16(type);
    put16(1);
    put32(ttl);
    std::size_t len_at = bytes_.size();
    put16(0);  // RDLENGTH, patched below
    rdata(*this);
    std::size_t len = bytes_.size() - len_at - 2;
    bytes_[len_at] = static_cast<uint8_t>(len >> 8);
    bytes_[len_at + 1] = static_cast<uint8_t>(len);
    bump(s);
    return *this;
  }

  // Convenience wrappers over rr() for the common types.
  MessageBuilder& mx(Section s, std::string_view owner, uint32_t ttl, uint16_t pref, std::string_view host,
                     bool compress = false) {
    return rr(s, owner, kTypeMx, ttl, [&](MessageBuilder& b) {
      b.put16(pref);
      b.put_name(host, compress);
    }, compress);
  }
  MessageBuilder& a(Section s, std::string_view owner, uint32_t ttl, const char* ip, bool compress = false) {
    return rr(s, owner, kTypeA, ttl, [&](MessageBuilder& b) { b.put_addr(AF_INET, ip); }, compress);
  }
  MessageBuilder& aaaa(Section s, std::string_view owner, uint32_t ttl, const char* ip, bool compress = false) {
    return rr(s, owner, kTypeAaaa, ttl, [&](MessageBuilder& b) { b.put_addr(AF_INET6, ip); }, compress);
  }
  MessageBuilder& cname(Section s, std::string_view owner, uint32_t ttl, std::string_view target,
                        bool compress = false) {
    return rr(s, owner, kTypeCname, ttl, [&](MessageBuilder& b) { b.put_name(target, compress); }, compress);
  }
  // SOA rdata: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 §3.3.13).
  MessageBuilder& soa(Section s, std::string_view zone, uint32_t ttl, uint32_t minimum, bool compress = false) {
    return rr(s, zone, kTypeSoa, ttl, [&](MessageBuilder& b) {
      b.put_name(std::string("ns.") + std::string(zone), compress);
      b.put_name(std::string("hostmaster.") + std::string(zone), compress);
      for (uint32_t v : {2024010101u, 3600u, 600u, 86400u}) b.put32(v);
      b.put32(minimum);
    }, compress);
  }

  // Raw writers, for rdata callbacks and deliberately odd messages.
  void put8(uint8_t v) { bytes_.push_back(v); }
  void put16(uint16_t v) {
    put8(static_cast<uint8_t>(v >> 8));
    put8(static_cast<uint8_t>(v));
  }
  void put32(uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  }
  void put_addr(int family, const char* ip) {
    unsigned char buf[16];
    if (inet_pton(family, ip, buf) != 1) throw std::invalid_argument(std::string("bad address in test: ") + ip);
    bytes_.insert(bytes_.end(), buf, buf + (family == AF_INET ? 4 : 16));
  }
  // Writes `name` as labels ("." or "" is the root). With `compress`, the longest suffix
  // already written somewhere in the message becomes a pointer (RFC 1035 §4.1.4). Offsets of
  // every suffix written are remembered (case-insensitively, as DNS compares names).
  void put_name(std::string_view name, bool compress) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    while (!name.empty()) {
      std::string key = lower(name);
      if (compress) {
        auto it = suffixes_.find(key);
        if (it != suffixes_.end()) {
          put16(static_cast<uint16_t>(0xc000 | it->second));
          return;
        }
      }
      if (bytes_.size() < 0x3fff) suffixes_.emplace(key, static_cast<uint16_t>(bytes_.size()));
      auto dot = name.find('.');
      std::string_view label = name.substr(0, dot);
      if (label.empty() || label.size() > 63) throw std::invalid_argument("bad label in test name");
      put8(static_cast<uint8_t>(label.size()));
      bytes_.insert(bytes_.end(), label.begin(), label.end());
      name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    }
    put8(0);
  }

  // Overrides a section count (for malformed messages: more records announced than written).
  MessageBuilder& set_count(Section s, uint16_t n) {
    std::size_t at = 4 + 2 * static_cast<std::size_t>(s);
    bytes_[at] = static_cast<uint8_t>(n >> 8);
    bytes_[at + 1] = static_cast<uint8_t>(n);
    return *this;
  }

  const std::vector<unsigned char>& bytes() const { return bytes_; }
  std::size_t size() const { return bytes_.size(); }

 private:
  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  void bump(Section s) {
    std::size_t at = 4 + 2 * static_cast<std::size_t>(s);
    uint16_t n = static_cast<uint16_t>((bytes_[at] << 8) | bytes_[at + 1]);
    set_count(s, static_cast<uint16_t>(n + 1));
  }

  std::vector<unsigned char> bytes_;
  std::map<std::string, uint16_t> suffixes_;
};

}  // namespace ringpost::dns::wire
