#include "queue/spool_record.h"

#include <zlib.h>

#include <random>

#include <gtest/gtest.h>

namespace ringpost::queue {
namespace {

AcceptRecord sample_accept(std::string_view body) {
  AcceptRecord r;
  r.id = "msg-0001";
  r.from = "sender@example.test";
  r.created_at_ms = 1'700'000'000'123;
  r.recipients = {"a@one.test", "B@Two.test", "c@[192.0.2.7]"};
  r.body = body;
  return r;
}

OutcomeRecord sample_outcome() {
  OutcomeRecord r;
  r.id = "msg-0001";
  r.recipient_index = 2;
  r.state = RecipientState::deferred;
  r.attempts = 3;
  r.at_ms = -42;  // negative values survive the unsigned encoding
  r.reply = smtp::Reply{451, "4.7.1", "greylisted\nplease retry"};
  return r;
}

std::string_view payload_of(const std::string& framed) {
  return std::string_view(framed).substr(kRecordHeaderSize);
}

TEST(SpoolRecord, HeaderLayoutIsLittleEndianWithZlibCrc) {
  const std::string body = "Subject: hi\r\n\r\nhello\r\n";
  std::string out;
  ASSERT_TRUE(append_accept(out, sample_accept(body)));
  ASSERT_GE(out.size(), kRecordHeaderSize);
  EXPECT_EQ(out.substr(0, 4), "RPS1");
  const RecordHeader h = decode_header(out);
  EXPECT_EQ(h.magic, kRecordMagic);
  EXPECT_EQ(h.payload_length, out.size() - kRecordHeaderSize);
  EXPECT_EQ(static_cast<unsigned char>(out[4]), h.payload_length & 0xff);
  EXPECT_EQ(h.type, static_cast<uint8_t>(RecordType::accept));
  // Independent check against zlib over the bytes [type][payload] as they sit in the frame.
  const uLong expect = crc32(0L, reinterpret_cast<const Bytef*>(out.data() + 12), static_cast<uInt>(out.size() - 12));
  EXPECT_EQ(h.crc, static_cast<uint32_t>(expect));
  EXPECT_EQ(accept_payload_size(sample_accept(body)), h.payload_length);
}

TEST(SpoolRecord, AcceptRoundTrip) {
  const std::string body = "Subject: hi\r\n\r\nhello\r\n";
  std::string out = "prefix";  // appends, never overwrites
  ASSERT_TRUE(append_accept(out, sample_accept(body)));
  EXPECT_EQ(out.substr(0, 6), "prefix");
  const std::string framed = out.substr(6);
  auto r = decode_accept_payload(payload_of(framed));
  ASSERT_TRUE(r) << r.error();
  const AcceptRecord want = sample_accept(body);
  EXPECT_EQ(r->id, want.id);
  EXPECT_EQ(r->from, want.from);
  EXPECT_EQ(r->created_at_ms, want.created_at_ms);
  EXPECT_EQ(r->recipients, want.recipients);
  EXPECT_EQ(r->body, body);
}

TEST(SpoolRecord, AcceptWithEmptyFieldsAndBinaryBody) {
  const std::string body("\0\xff\r\n\0", 5);
  AcceptRecord in;
  in.body = body;
  std::string out;
  ASSERT_TRUE(append_accept(out, in));
  auto r = decode_accept_payload(payload_of(out));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->id, "");
  EXPECT_EQ(r->from, "");  // null sender <> is legitimate for bounces
  EXPECT_TRUE(r->recipients.empty());
  EXPECT_EQ(r->body, body);
}

TEST(SpoolRecord, OutcomeRoundTrip) {
  std::string out;
  ASSERT_TRUE(append_outcome(out, sample_outcome()));
  const RecordHeader h = decode_header(out);
  EXPECT_EQ(h.type, static_cast<uint8_t>(RecordType::outcome));
  EXPECT_EQ(h.crc, record_crc(h.type, payload_of(out)));
  auto r = decode_outcome_payload(payload_of(out));
  ASSERT_TRUE(r) << r.error();
  const OutcomeRecord want = sample_outcome();
  EXPECT_EQ(r->id, want.id);
  EXPECT_EQ(r->recipient_index, want.recipient_index);
  EXPECT_EQ(r->state, want.state);
  EXPECT_EQ(r->attempts, want.attempts);
  EXPECT_EQ(r->at_ms, want.at_ms);
  EXPECT_EQ(r->reply, want.reply);
}

TEST(SpoolRecord, IdempotentRoundTripAndTruncationIsAnError) {
  const IdempotentRecord want{"agent-1", "order-42", std::string(64, 'f'), 1'700'086'400'000, 202,
                              R"({"ids":["a","b"]})"};
  std::string out;
  ASSERT_TRUE(append_idempotent(out, want));
  const RecordHeader h = decode_header(out);
  EXPECT_EQ(h.type, static_cast<uint8_t>(RecordType::idempotent));
  EXPECT_EQ(h.payload_length, out.size() - kRecordHeaderSize);
  EXPECT_EQ(h.crc, record_crc(h.type, payload_of(out)));
  auto r = decode_idempotent_payload(payload_of(out));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->owner, want.owner);
  EXPECT_EQ(r->key, want.key);
  EXPECT_EQ(r->request_hash, want.request_hash);
  EXPECT_EQ(r->expires_at_ms, want.expires_at_ms);
  EXPECT_EQ(r->status, want.status);
  EXPECT_EQ(r->answer, want.answer);
  for (std::size_t cut = 0; cut < payload_of(out).size(); ++cut)
    EXPECT_FALSE(decode_idempotent_payload(payload_of(out).substr(0, cut))) << "cut at " << cut;
  EXPECT_FALSE(decode_idempotent_payload(std::string(payload_of(out)) + "x"));
}

TEST(SpoolRecord, EveryStateRoundTrips) {
  for (auto s : {RecipientState::queued, RecipientState::deferred, RecipientState::delivered,
                 RecipientState::bounced, RecipientState::expired}) {
    OutcomeRecord o = sample_outcome();
    o.state = s;
    std::string out;
    ASSERT_TRUE(append_outcome(out, o));
    auto r = decode_outcome_payload(payload_of(out));
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->state, s);
  }
}

TEST(SpoolRecord, OversizedRecordIsRefusedAndNothingIsAppended) {
  const std::string body(kMaxRecordPayload, 'x');  // payload = body + fields > cap
  std::string out = "keep";
  EXPECT_FALSE(append_accept(out, sample_accept(body)));
  EXPECT_EQ(out, "keep");

  OutcomeRecord o = sample_outcome();
  o.reply.text.assign(kMaxRecordPayload, 't');
  EXPECT_FALSE(append_outcome(out, o));
  EXPECT_EQ(out, "keep");
}

TEST(SpoolRecord, RecordExactlyAtTheCapIsAccepted) {
  const std::size_t overhead = accept_payload_size(sample_accept(""));
  const std::string body(kMaxRecordPayload - overhead, 'x');
  std::string out;
  ASSERT_TRUE(append_accept(out, sample_accept(body)));
  EXPECT_EQ(decode_header(out).payload_length, kMaxRecordPayload);
}

TEST(SpoolRecord, DecoderRejectsEveryTruncation) {
  std::string acc, out;
  ASSERT_TRUE(append_accept(acc, sample_accept("body")));
  ASSERT_TRUE(append_outcome(out, sample_outcome()));
  const std::string_view ap = payload_of(acc), op = payload_of(out);
  for (std::size_t n = 0; n < ap.size(); ++n) EXPECT_FALSE(decode_accept_payload(ap.substr(0, n))) << n;
  for (std::size_t n = 0; n < op.size(); ++n) EXPECT_FALSE(decode_outcome_payload(op.substr(0, n))) << n;
}

TEST(SpoolRecord, DecoderRejectsTrailingBytesAndBadState) {
  std::string acc;
  ASSERT_TRUE(append_accept(acc, sample_accept("body")));
  std::string ap(payload_of(acc));
  ap.push_back('x');
  auto a = decode_accept_payload(ap);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().find("trailing"), std::string::npos);

  std::string out;
  ASSERT_TRUE(append_outcome(out, sample_outcome()));
  std::string op(payload_of(out));
  op[4 + sample_outcome().id.size() + 4] = 9;  // the state byte
  auto o = decode_outcome_payload(op);
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().find("unknown state 9"), std::string::npos);
}

TEST(SpoolRecord, HugeRecipientCountIsRejectedBeforeAllocating) {
  // id "", from "", created_at, count = 0xffffffff, then nothing.
  std::string p(4 + 4 + 8, '\0');
  p += std::string("\xff\xff\xff\xff", 4);
  auto r = decode_accept_payload(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("recipient count"), std::string::npos);
}

TEST(SpoolRecord, HugeStringLengthIsRejected) {
  const std::string p = std::string("\xff\xff\xff\x7f", 4) + "abc";
  EXPECT_FALSE(decode_accept_payload(p));
  EXPECT_FALSE(decode_outcome_payload(p));
  EXPECT_FALSE(peek_record_id(p));
}

TEST(SpoolRecord, RandomPayloadsNeverCrashTheDecoder) {
  std::mt19937 rng(12345);
  std::string acc, out;
  ASSERT_TRUE(append_accept(acc, sample_accept("hello")));
  ASSERT_TRUE(append_outcome(out, sample_outcome()));
  for (int i = 0; i < 20000; ++i) {
    // Half pure noise, half a valid payload with a few bytes mutated: mutations reach the deep
    // fields that noise almost never gets past the first length check to.
    std::string p;
    if (i % 2 == 0) {
      p.resize(rng() % 64);
      for (char& c : p) c = static_cast<char>(rng());
    } else {
      p = std::string(payload_of(i % 4 == 1 ? acc : out));
      for (int k = 0; k < 3; ++k) p[rng() % p.size()] = static_cast<char>(rng());
    }
    (void)decode_accept_payload(p);
    (void)decode_outcome_payload(p);
    (void)peek_record_id(p);
  }
}

TEST(SpoolRecord, PeekIdWorksOnTruncatedPayloads) {
  std::string acc;
  ASSERT_TRUE(append_accept(acc, sample_accept("body")));
  const std::string_view p = payload_of(acc);
  EXPECT_EQ(peek_record_id(p), "msg-0001");
  EXPECT_EQ(peek_record_id(p.substr(0, 12)), "msg-0001");
  EXPECT_EQ(peek_record_id(p.substr(0, 11)), std::nullopt);
}

}  // namespace
}  // namespace ringpost::queue

namespace ringpost::queue {
namespace {

// Extension fields (owner, tags, ...) ride in a type-3 record; without any, the record stays a
// plain type-1 ACCEPT, byte for byte what older builds wrote and read.
TEST(AcceptExtensions, RoundTripAndOnlyWhenPresent) {
  AcceptRecord r{"id-1", "a@x.test", 42, {"b@y.test"}, "Subject: s\r\n\r\nbody\r\n", {}, std::nullopt};
  std::string plain;
  ASSERT_TRUE(append_accept(plain, r));
  EXPECT_EQ(decode_header(plain).type, static_cast<uint8_t>(RecordType::accept));

  r.ext = {{"owner", "agent-7"}, {"tags", R"({"campaign":"x"})"}, {"future", std::string("\0\1", 2)}};
  std::string ext;
  ASSERT_TRUE(append_accept(ext, r));
  const RecordHeader h = decode_header(ext);
  EXPECT_EQ(h.type, static_cast<uint8_t>(RecordType::accept_ext));
  EXPECT_EQ(h.payload_length, accept_payload_size(r));
  const std::string_view payload = std::string_view(ext).substr(kRecordHeaderSize);
  EXPECT_EQ(record_crc(h.type, payload), h.crc);
  auto back = decode_accept_payload(payload, RecordType::accept_ext);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->ext, r.ext);
  EXPECT_EQ(back->body, r.body);
  // The body still ends the record, which is how its place on disk is found.
  EXPECT_TRUE(ext.ends_with(r.body));
  // Read as the wrong type, the payload does not decode: types are not interchangeable.
  EXPECT_FALSE(decode_accept_payload(payload, RecordType::accept));
}

// A body CRC computed by whoever produced the body (the DKIM signer's pass) replaces reading
// the body again: the record is byte for byte the one computed the long way, and the CRC given
// is really used (a wrong one makes a record that fails its check).
TEST(AcceptBodyCrc, GivenCrcMakesTheSameRecordAndIsUsed) {
  std::string body = "Subject: s\r\n\r\n";
  for (int i = 0; i < 5000; ++i) body += static_cast<char>('a' + i % 26);
  AcceptRecord r{"id-2", "a@x.test", 7, {"b@y.test", "c@y.test"}, body, {{"owner", "k"}}, std::nullopt};
  std::string long_way;
  ASSERT_TRUE(append_accept(long_way, r));
  r.body_crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  std::string given;
  ASSERT_TRUE(append_accept(given, r));
  EXPECT_EQ(given, long_way);
  r.body_crc = *r.body_crc ^ 1u;
  std::string wrong;
  ASSERT_TRUE(append_accept(wrong, r));
  const RecordHeader h = decode_header(wrong);
  EXPECT_NE(record_crc(h.type, std::string_view(wrong).substr(kRecordHeaderSize)), h.crc);
}

}  // namespace
}  // namespace ringpost::queue
