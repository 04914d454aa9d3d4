// Unit tests for engine/dns/dns_answer.h: wire messages built here (dns_message_builder.h)
// are fed to parse_mx_answer / parse_address_answer, and the records, rcode and TTL checked.
// Every valid message is also fed cut at every length (each cut in a buffer of exactly that
// size, so an over-read is an out-of-bounds access a sanitizer build reports): the result must
// be "malformed" or the full message's result, never a crash or a partial record set.
#include "engine/dns/dns_answer.h"

#include <arpa/inet.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dns/dns_message_builder.h"

namespace ringpost::dns {
namespace {

using wire::kNoError;
using wire::kNxDomain;
using wire::kRefused;
using wire::kServFail;
using wire::kTypeMx;
using wire::kTypeTxt;
using wire::MessageBuilder;
using wire::Section;

constexpr int kA = 1;      // ns_t_a
constexpr int kAaaa = 28;  // ns_t_aaaa

std::string ip4(const in_addr& a) {
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}
std::string ip6(const in6_addr& a) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, &a, buf, sizeof buf);
}
std::vector<std::string> v4_of(const AddressAnswer& a) {
  std::vector<std::string> out;
  for (const in_addr& x : a.v4) out.push_back(ip4(x));
  return out;
}
std::vector<std::string> v6_of(const AddressAnswer& a) {
  std::vector<std::string> out;
  for (const in6_addr& x : a.v6) out.push_back(ip6(x));
  return out;
}

// Parses a copy in a heap block of exactly `bytes.size()` bytes: nothing past the end is
// readable memory that belongs to the message (a std::vector's spare capacity would be).
MxAnswer parse_mx_exact(const std::vector<unsigned char>& bytes, std::size_t len) {
  std::unique_ptr<unsigned char[]> copy(new unsigned char[len ? len : 1]);
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len), copy.get());
  return parse_mx_answer({copy.get(), len});
}
AddressAnswer parse_address_exact(const std::vector<unsigned char>& bytes, std::size_t len, int type) {
  std::unique_ptr<unsigned char[]> copy(new unsigned char[len ? len : 1]);
  std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len), copy.get());
  return parse_address_answer({copy.get(), len}, type);
}
MxAnswer parse_mx(const MessageBuilder& b) { return parse_mx_exact(b.bytes(), b.size()); }
AddressAnswer parse_address(const MessageBuilder& b, int type) { return parse_address_exact(b.bytes(), b.size(), type); }

bool same(const MxAnswer& a, const MxAnswer& b) { return a.rcode == b.rcode && a.records == b.records && a.ttl == b.ttl; }
bool same(const AddressAnswer& a, const AddressAnswer& b) {
  return a.rcode == b.rcode && v4_of(a) == v4_of(b) && v6_of(a) == v6_of(b) && a.ttl == b.ttl;
}

// Every cut of a valid message: malformed, or (only possible for cuts that drop nothing the
// header announces) exactly the full result. Never a crash, never half the records.
void expect_every_cut_consistent_mx(const MessageBuilder& b) {
  const MxAnswer full = parse_mx(b);
  ASSERT_NE(full.rcode, Rcode::malformed) << "the uncut message must parse";
  for (std::size_t len = 0; len < b.size(); ++len) {
    MxAnswer cut = parse_mx_exact(b.bytes(), len);
    EXPECT_TRUE(cut.rcode == Rcode::malformed || same(cut, full))
        << "cut at " << len << " of " << b.size() << ": rcode " << int(cut.rcode) << ", " << cut.records.size()
        << " records, ttl " << cut.ttl;
  }
}
void expect_every_cut_consistent_address(const MessageBuilder& b, int type) {
  const AddressAnswer full = parse_address(b, type);
  ASSERT_NE(full.rcode, Rcode::malformed) << "the uncut message must parse";
  for (std::size_t len = 0; len < b.size(); ++len) {
    AddressAnswer cut = parse_address_exact(b.bytes(), len, type);
    EXPECT_TRUE(cut.rcode == Rcode::malformed || same(cut, full))
        << "cut at " << len << " of " << b.size() << ": rcode " << int(cut.rcode) << ", " << cut.v4.size() << "+"
        << cut.v6.size() << " addresses, ttl " << cut.ttl;
  }
}

// --- MX ---------------------------------------------------------------------------------

MessageBuilder two_mx(bool compress) {
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.mx(Section::answer, "dest.test", 300, 10, "a.mx.test", compress);
  b.mx(Section::answer, "dest.test", 120, 20, "b.mx.test", compress);
  return b;
}

TEST(ParseMxAnswer, TwoPreferencesInMessageOrderWithSmallestTtl) {
  MxAnswer a = parse_mx(two_mx(false));
  EXPECT_EQ(a.rcode, Rcode::noerror);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0], (MxRecord{10, "a.mx.test"}));
  EXPECT_EQ(a.records[1], (MxRecord{20, "b.mx.test"}));
  EXPECT_EQ(a.ttl, 120u) << "the smallest MX TTL";
  EXPECT_FALSE(a.null_mx());
}

TEST(ParseMxAnswer, MessageOrderIsKeptNotSortedByPreference) {
  // Sorting (and shuffling equal preferences) is the resolver's job, not the parser's.
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.mx(Section::answer, "dest.test", 60, 30, "c.mx.test");
  b.mx(Section::answer, "dest.test", 90, 5, "a.mx.test");
  b.mx(Section::answer, "dest.test", 45, 30, "b.mx.test");
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 3u);
  EXPECT_EQ(a.records[0], (MxRecord{30, "c.mx.test"}));
  EXPECT_EQ(a.records[1], (MxRecord{5, "a.mx.test"}));
  EXPECT_EQ(a.records[2], (MxRecord{30, "b.mx.test"}));
  EXPECT_EQ(a.ttl, 45u);
}

TEST(ParseMxAnswer, CompressedNamesGiveTheSameResult) {
  MessageBuilder plain = two_mx(false), packed = two_mx(true);
  ASSERT_LT(packed.size(), plain.size()) << "the builder did compress";
  EXPECT_TRUE(same(parse_mx(plain), parse_mx(packed)));
}

TEST(ParseMxAnswer, ExtremePreferenceAndTtlValues) {
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.mx(Section::answer, "dest.test", 0x7fffffff, 65535, "last.mx.test");
  b.mx(Section::answer, "dest.test", 0x7fffffff, 0, "first.mx.test");
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0].preference, 65535);
  EXPECT_EQ(a.records[1].preference, 0);
  EXPECT_EQ(a.ttl, 0x7fffffffu);
}

TEST(ParseMxAnswer, NamesAreLowerCasedWithoutTrailingDot) {
  MessageBuilder b;
  b.question("Dest.TEST", kTypeMx);
  b.mx(Section::answer, "Dest.TEST.", 300, 10, "MX1.Example.TEST.");
  b.mx(Section::answer, "Dest.TEST.", 300, 20, "Mx2.EXAMPLE.test");
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.records[0].host, "mx1.example.test");
  EXPECT_EQ(a.records[1].host, "mx2.example.test");
}

TEST(ParseMxAnswer, NullMxIsOneRecordWithEmptyHost) {
  // RFC 7505 §3: "0 ." - the domain accepts no mail.
  MessageBuilder b;
  b.question("nomail.test", kTypeMx);
  b.mx(Section::answer, "nomail.test", 3600, 0, ".");
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(a.records[0], (MxRecord{0, ""}));
  EXPECT_TRUE(a.null_mx());
  EXPECT_EQ(a.ttl, 3600u);
}

TEST(ParseMxAnswer, RootTargetBesideARealMxIsNotANullMx) {
  // RFC 7505 §3 forbids mixing them; the parser reports both and null_mx() stays false, so the
  // resolver skips the unusable "" host and mails the real one.
  MessageBuilder b;
  b.question("mixed.test", kTypeMx);
  b.mx(Section::answer, "mixed.test", 300, 0, ".");
  b.mx(Section::answer, "mixed.test", 300, 10, "a.mx.test");
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_FALSE(a.null_mx());
  EXPECT_EQ(a.records[0].host, "");
  EXPECT_EQ(a.records[1].host, "a.mx.test");
}

TEST(ParseMxAnswer, NxDomainTtlIsMinOfSoaTtlAndMinimum) {
  // RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA MINIMUM).
  MessageBuilder b(kNxDomain);
  b.question("nosuch.test", kTypeMx);
  b.soa(Section::authority, "test", 60, 30);
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::nxdomain);
  EXPECT_TRUE(a.records.empty());
  EXPECT_EQ(a.ttl, 30u);
}

TEST(ParseMxAnswer, NoDataTtlIsMinOfSoaTtlAndMinimum) {
  struct Case { uint32_t soa_ttl, minimum, want; };
  for (Case c : {Case{60, 300, 60}, Case{600, 30, 30}, Case{45, 45, 45}, Case{0, 900, 0}}) {
    MessageBuilder b;
    b.question("aonly.test", kTypeMx);
    b.soa(Section::authority, "test", c.soa_ttl, c.minimum, /*compress=*/true);
    MxAnswer a = parse_mx(b);
    EXPECT_EQ(a.rcode, Rcode::noerror);
    EXPECT_TRUE(a.records.empty());
    EXPECT_FALSE(a.null_mx());
    EXPECT_EQ(a.ttl, c.want) << "SOA TTL " << c.soa_ttl << ", MINIMUM " << c.minimum;
  }
}

TEST(ParseMxAnswer, NoDataWithoutSoaHasZeroTtl) {
  MessageBuilder b;
  b.question("aonly.test", kTypeMx);
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_TRUE(a.records.empty());
  EXPECT_EQ(a.ttl, 0u);
}

TEST(ParseMxAnswer, SoaInAuthorityIgnoredWhenThereAreRecords) {
  MessageBuilder b = two_mx(true);
  b.soa(Section::authority, "test", 5, 5, true);
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.ttl, 120u);
}

TEST(ParseMxAnswer, ServfailAndRefusedCarryTheirRcode) {
  MessageBuilder sf(kServFail);
  sf.question("broken.test", kTypeMx);
  MxAnswer a = parse_mx(sf);
  EXPECT_EQ(a.rcode, Rcode::servfail);
  EXPECT_TRUE(a.records.empty());
  EXPECT_EQ(a.ttl, 0u);

  MessageBuilder rf(kRefused);
  rf.question("elsewhere.test", kTypeMx);
  EXPECT_EQ(parse_mx(rf).rcode, Rcode::other);
}

TEST(ParseMxAnswer, CnameAndOtherTypesInTheAnswerAreSkipped) {
  MessageBuilder b;
  b.question("alias.test", kTypeMx);
  b.cname(Section::answer, "alias.test", 600, "real.test", true);
  b.rr(Section::answer, "real.test", kTypeTxt, 600, [](MessageBuilder& m) {
    m.put8(5);
    for (char c : std::string("hello")) m.put8(static_cast<uint8_t>(c));
  }, true);
  b.mx(Section::answer, "real.test", 300, 10, "mx.real.test", true);
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(a.records[0], (MxRecord{10, "mx.real.test"}));
  EXPECT_EQ(a.ttl, 300u) << "documented: the smallest MX TTL";
}

TEST(ParseMxAnswer, AdditionalSectionGlueDoesNotChangeTheAnswer) {
  MessageBuilder b = two_mx(true);
  b.a(Section::additional, "a.mx.test", 5, "127.0.0.2", true);
  b.aaaa(Section::additional, "b.mx.test", 5, "::1", true);
  MxAnswer a = parse_mx(b);
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(a.ttl, 120u);
}

TEST(ParseMxAnswer, EmptyAndShortInputsAreMalformed) {
  EXPECT_EQ(parse_mx_answer({}).rcode, Rcode::malformed);
  std::vector<unsigned char> eleven(11, 0);
  EXPECT_EQ(parse_mx_exact(eleven, eleven.size()).rcode, Rcode::malformed);
}

TEST(ParseMxAnswer, MoreRecordsAnnouncedThanPresentIsMalformed) {
  MessageBuilder b = two_mx(false);
  b.set_count(Section::answer, 3);
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::malformed);
  EXPECT_TRUE(a.records.empty());
}

// Regression test for a bug this test found (fixed): a damaged message yields no partial records,
// which could read as "no MX" or as a lone null MX.
TEST(ParseMxAnswer, BadNameInALaterRecordLeavesNoPartialRecords) {
  // The framing pass (RDLENGTHs add up) succeeds, but the second record's owner name is a
  // pointer past the end. The answer must not keep the first record beside "malformed": a
  // caller that only looked at records would act on half an MX set (or, had the first been
  // "0 .", bounce on a null MX read from a broken message).
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.mx(Section::answer, "dest.test", 300, 0, ".");
  b.put16(0xc000 | 0x3f00);  // owner: pointer far past the end
  b.put16(kTypeMx);
  b.put16(1);
  b.put32(300);
  b.put16(3);
  b.put16(10);
  b.put8(0);
  b.set_count(Section::answer, 2);
  MxAnswer a = parse_mx(b);
  EXPECT_EQ(a.rcode, Rcode::malformed);
  EXPECT_TRUE(a.records.empty()) << a.records.size() << " record(s) kept from a malformed answer";
  EXPECT_FALSE(a.null_mx());
}

TEST(ParseMxAnswer, MxRdataTooShortIsMalformed) {
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.rr(Section::answer, "dest.test", kTypeMx, 300, [](MessageBuilder& m) { m.put16(10); });  // no exchange
  EXPECT_EQ(parse_mx(b).rcode, Rcode::malformed);
}

TEST(ParseMxAnswer, CompressionPointerLoopIsMalformedNotAHang) {
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.rr(Section::answer, "dest.test", kTypeMx, 300, [](MessageBuilder& m) {
    m.put16(10);
    uint16_t here = static_cast<uint16_t>(m.size());
    m.put16(static_cast<uint16_t>(0xc000 | here));  // points at itself
  });
  EXPECT_EQ(parse_mx(b).rcode, Rcode::malformed);
}

TEST(ParseMxAnswer, CompressionPointerPastTheEndIsMalformed) {
  MessageBuilder b;
  b.question("dest.test", kTypeMx);
  b.rr(Section::answer, "dest.test", kTypeMx, 300, [](MessageBuilder& m) {
    m.put16(10);
    m.put16(0xc000 | 0x3f00);
  });
  EXPECT_EQ(parse_mx(b).rcode, Rcode::malformed);
}

TEST(ParseMxAnswer, EveryTruncationIsMalformedOrConsistent) {
  expect_every_cut_consistent_mx(two_mx(false));
  expect_every_cut_consistent_mx(two_mx(true));
  MessageBuilder null_mx;
  null_mx.question("nomail.test", kTypeMx).mx(Section::answer, "nomail.test", 60, 0, ".", true);
  expect_every_cut_consistent_mx(null_mx);
  MessageBuilder nx(kNxDomain);
  nx.question("nosuch.test", kTypeMx).soa(Section::authority, "test", 60, 30, true);
  expect_every_cut_consistent_mx(nx);
  MessageBuilder with_glue = two_mx(true);
  with_glue.a(Section::additional, "a.mx.test", 5, "127.0.0.2", true);
  expect_every_cut_consistent_mx(with_glue);
}

TEST(ParseMxAnswer, RandomByteFlipsNeverCrash) {
  // Deterministic (fixed seed) corruption of valid messages. The result may be anything
  // well-formed; the point is that nothing reads outside the message or loops.
  std::mt19937 rng(20240601);
  std::vector<MessageBuilder> seeds{two_mx(false), two_mx(true)};
  seeds.emplace_back(kNxDomain);
  seeds.back().question("nosuch.test", kTypeMx).soa(Section::authority, "test", 60, 30, true);
  int malformed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<unsigned char> m = seeds[round % seeds.size()].bytes();
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<unsigned char>(rng());
    MxAnswer a = parse_mx_exact(m, m.size());
    if (a.rcode == Rcode::malformed) ++malformed;
    for (const MxRecord& r : a.records) EXPECT_LE(r.host.size(), 253u);
  }
  EXPECT_GT(malformed, 0) << "corruption never detected: is the test corrupting anything?";
}

// --- addresses --------------------------------------------------------------------------

TEST(ParseAddressAnswer, TwoARecordsWithSmallestTtl) {
  MessageBuilder b;
  b.question("a.mx.test", kA);
  b.a(Section::answer, "a.mx.test", 300, "127.0.0.2", true);
  b.a(Section::answer, "a.mx.test", 30, "127.0.0.3", true);
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_EQ(v4_of(a), (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_TRUE(a.v6.empty());
  EXPECT_EQ(a.ttl, 30u);
}

TEST(ParseAddressAnswer, Aaaa) {
  MessageBuilder b;
  b.question("v6.mx.test", kAaaa);
  b.aaaa(Section::answer, "v6.mx.test", 120, "::1");
  b.aaaa(Section::answer, "v6.mx.test", 240, "2001:db8::25");
  AddressAnswer a = parse_address(b, kAaaa);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_TRUE(a.v4.empty());
  EXPECT_EQ(v6_of(a), (std::vector<std::string>{"::1", "2001:db8::25"}));
  EXPECT_EQ(a.ttl, 120u);
}

TEST(ParseAddressAnswer, CnameChainTtlIsTheMinimumOverTheChain) {
  // www -> mid (TTL 30) -> host (TTL 600) -> A (TTL 300): the answer is only good while
  // every link is, so 30.
  MessageBuilder b;
  b.question("WWW.Example.TEST", kA);
  b.cname(Section::answer, "www.example.test", 30, "mid.example.test", true);
  b.cname(Section::answer, "mid.example.test", 600, "host.example.test", true);
  b.a(Section::answer, "host.example.test", 300, "127.0.0.9", true);
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_EQ(v4_of(a), (std::vector<std::string>{"127.0.0.9"}));
  EXPECT_EQ(a.ttl, 30u);

  MessageBuilder c;
  c.question("www.example.test", kAaaa);
  c.cname(Section::answer, "www.example.test", 900, "host.example.test", true);
  c.aaaa(Section::answer, "host.example.test", 90, "::1", true);
  AddressAnswer d = parse_address(c, kAaaa);
  EXPECT_EQ(v6_of(d), (std::vector<std::string>{"::1"}));
  EXPECT_EQ(d.ttl, 90u);
}

TEST(ParseAddressAnswer, RecordsOfTheOtherFamilyAreIgnored) {
  MessageBuilder b;
  b.question("a.mx.test", kA);
  b.aaaa(Section::answer, "a.mx.test", 5, "::1");
  b.a(Section::answer, "a.mx.test", 50, "127.0.0.2");
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(v4_of(a), (std::vector<std::string>{"127.0.0.2"}));
  EXPECT_TRUE(a.v6.empty()) << "asked for A";
  EXPECT_EQ(a.ttl, 50u) << "the AAAA's TTL does not count for an A answer";
}

TEST(ParseAddressAnswer, NoDataAndNxDomainUseTheSoaMinimum) {
  MessageBuilder nodata;
  nodata.question("mxonly.test", kAaaa).soa(Section::authority, "test", 120, 20, true);
  AddressAnswer a = parse_address(nodata, kAaaa);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_TRUE(a.v4.empty() && a.v6.empty());
  EXPECT_EQ(a.ttl, 20u);

  MessageBuilder nx(kNxDomain);
  nx.question("nosuch.test", kA).soa(Section::authority, "test", 10, 20, true);
  AddressAnswer n = parse_address(nx, kA);
  EXPECT_EQ(n.rcode, Rcode::nxdomain);
  EXPECT_EQ(n.ttl, 10u);
}

TEST(ParseAddressAnswer, CnameWithoutAddressesIsEmptyWithTheNegativeTtl) {
  MessageBuilder b;
  b.question("alias.test", kA);
  b.cname(Section::answer, "alias.test", 600, "gone.test", true);
  b.soa(Section::authority, "test", 40, 50, true);
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(a.rcode, Rcode::noerror);
  EXPECT_TRUE(a.v4.empty());
  EXPECT_EQ(a.ttl, 40u);
}

TEST(ParseAddressAnswer, ServfailCarriesItsRcode) {
  MessageBuilder b(kServFail);
  b.question("broken.test", kA);
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(a.rcode, Rcode::servfail);
  EXPECT_TRUE(a.v4.empty());
}

TEST(ParseAddressAnswer, MoreRecordsAnnouncedThanPresentIsMalformed) {
  MessageBuilder b;
  b.question("a.mx.test", kA);
  b.a(Section::answer, "a.mx.test", 300, "127.0.0.2");
  b.set_count(Section::answer, 2);
  AddressAnswer a = parse_address(b, kA);
  EXPECT_EQ(a.rcode, Rcode::malformed);
  EXPECT_TRUE(a.v4.empty());
}

TEST(ParseAddressAnswer, EveryTruncationIsMalformedOrConsistent) {
  MessageBuilder chain;
  chain.question("www.example.test", kA);
  chain.cname(Section::answer, "www.example.test", 30, "host.example.test", true);
  chain.a(Section::answer, "host.example.test", 300, "127.0.0.9", true);
  chain.a(Section::answer, "host.example.test", 300, "127.0.0.10", true);
  expect_every_cut_consistent_address(chain, kA);
  MessageBuilder v6;
  v6.question("v6.mx.test", kAaaa).aaaa(Section::answer, "v6.mx.test", 120, "2001:db8::25");
  expect_every_cut_consistent_address(v6, kAaaa);
  MessageBuilder nodata;
  nodata.question("mxonly.test", kA).soa(Section::authority, "test", 120, 20, true);
  expect_every_cut_consistent_address(nodata, kA);
}

TEST(ParseAddressAnswer, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(7);
  MessageBuilder seed;
  seed.question("www.example.test", kA);
  seed.cname(Section::answer, "www.example.test", 30, "host.example.test", true);
  seed.a(Section::answer, "host.example.test", 300, "127.0.0.9", true);
  seed.soa(Section::authority, "example.test", 60, 60, true);
  for (int round = 0; round < 20000; ++round) {
    std::vector<unsigned char> m = seed.bytes();
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<unsigned char>(rng());
    AddressAnswer a = parse_address_exact(m, m.size(), round % 2 ? kA : kAaaa);
    EXPECT_LE(a.v4.size() + a.v6.size(), 3u);
  }
}

}  // namespace
}  // namespace ringpost::dns
