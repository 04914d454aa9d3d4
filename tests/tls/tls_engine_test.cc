// TlsEngine against an in-memory OpenSSL server: handshake at every fragment size, plaintext
// both ways, the zero-copy buffer contract, back-pressure, close_notify, EOF and garbage.
#include "engine/tls/tls_engine.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/tls/tls_fixture.h"

namespace ringpost::tls {
namespace {

using testing::Conn;
using testing::connect;
using testing::pki;
using Status = TlsEngine::Status;

class TlsEngineTest : public ::testing::Test {
 protected:
  TlsEngineTest()
      : client_ctx_(testing::make_client_ctx(true, pki().mx.ca_cert)),
        server_ctx_(testing::make_server_ctx(pki().mx.server_chain, pki().mx.server_key)) {}

  Conn handshaken(std::vector<std::size_t> pieces = {1u << 20}) {
    Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test", nullptr, std::move(pieces));
    EXPECT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
    return c;
  }

  ClientContext client_ctx_;
  SslCtxPtr server_ctx_;
};

TEST_F(TlsEngineTest, HandshakeCompletes) {
  Conn c = handshaken();
  EXPECT_TRUE(c.client->handshake_done());
  EXPECT_TRUE(c.server->done());
  EXPECT_EQ(c.client->protocol(), "TLSv1.3");
  EXPECT_FALSE(c.client->cipher().empty());
  EXPECT_EQ(c.server->sni(), "mx.test");
  EXPECT_TRUE(c.client->peer_verified());
  EXPECT_EQ(c.client->peer_verify_result(), "ok");
  EXPECT_FALSE(c.client->session_reused());
  EXPECT_EQ(c.client->last_error(), "");
}

TEST_F(TlsEngineTest, StatusBeforeHandshakeIsEmpty) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  EXPECT_EQ(c.client->protocol(), "");
  EXPECT_EQ(c.client->cipher(), "");
  EXPECT_EQ(c.client->peer_verify_result(), "");
  EXPECT_FALSE(c.client->peer_verified());
  EXPECT_EQ(c.client->peek_output(), "");
  EXPECT_EQ(c.client->handshake(), Status::want_io);  // ClientHello queued, nothing received
  EXPECT_GT(c.client->output_pending(), 0u);
}

// Every fragment size from 1 to 64 bytes, then some larger odd ones: records and handshake
// messages split at every kind of boundary, in both directions.
TEST_F(TlsEngineTest, HandshakeAtEveryFragmentSize) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 1; n <= 64; ++n) sizes.push_back(n);
  for (std::size_t n : {97u, 255u, 1000u, 4093u, 16411u}) sizes.push_back(n);
  for (std::size_t n : sizes) {
    Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test", nullptr, {n});
    ASSERT_EQ(c.link->handshake(), Status::ok) << "piece " << n << ": " << c.client->last_error();
    ASSERT_TRUE(c.server->done()) << "piece " << n;
  }
}

TEST_F(TlsEngineTest, SmtpExchangeBothWays) {
  Conn c = handshaken();
  EXPECT_EQ(testing::client_to_server(c, "EHLO mta.example.test\r\n", {1u << 20}), "EHLO mta.example.test\r\n");
  const std::string reply = "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n";
  EXPECT_EQ(testing::server_to_client(c, reply, {1u << 20}), reply);
}

TEST_F(TlsEngineTest, MebibyteEachWayInOddPieces) {
  Conn c = handshaken({1, 13, 1000, 7919, 65521, 3});
  const std::string up = testing::pattern(1 << 20, 1);
  const std::string got_up = testing::client_to_server(c, up, {1, 3, 7, 4093, 16385, 65537, 999});
  ASSERT_EQ(got_up.size(), up.size());
  EXPECT_TRUE(got_up == up);
  const std::string down = testing::pattern(1 << 20, 2);
  const std::string got_down = testing::server_to_client(c, down, {5, 16384, 11, 70001, 2047});
  ASSERT_EQ(got_down.size(), down.size());
  EXPECT_TRUE(got_down == down);
}

TEST_F(TlsEngineTest, WriteStopsAtHighWaterThenResumes) {
  Conn c = handshaken();
  const std::string big = testing::pattern(1 << 20, 3);
  std::size_t written = 0;
  EXPECT_EQ(c.client->write(big, written), Status::want_io);
  EXPECT_GT(written, 0u);
  EXPECT_LT(written, big.size());
  // Stops between records: at most one record (16 KiB + overhead) past the mark.
  EXPECT_GE(c.client->output_pending(), TlsEngine::kOutputHighWater);
  EXPECT_LT(c.client->output_pending(), TlsEngine::kOutputHighWater + 17 * 1024);
  EXPECT_LE(c.client->peek_output().size(), TlsEngine::kOutputBlock);
  // Nothing sent: it refuses more.
  std::size_t more = 0;
  EXPECT_EQ(c.client->write("x", more), Status::want_io);
  EXPECT_EQ(more, 0u);
  // The rest, continuing from `written`, arrives intact after the queue drains.
  std::string got;
  while (got.size() < written) {
    ASSERT_GT(c.link->pump(), 0u);
    c.server->read(got);
  }
  EXPECT_EQ(c.client->output_pending(), 0u);
  got += testing::client_to_server(c, std::string_view(big).substr(written), {1u << 20});
  EXPECT_TRUE(got == big);
}

// The send contract: a peeked view keeps its address and bytes until consume_output(), while
// more ciphertext is queued behind it (here: several blocks' worth).
TEST_F(TlsEngineTest, PeekedOutputStableWhileMoreIsQueued) {
  Conn c = handshaken();
  std::size_t written = 0;
  ASSERT_EQ(c.client->write("MAIL FROM:<a@example.test>\r\n", written), Status::ok);
  const std::string_view view = c.client->peek_output();
  ASSERT_FALSE(view.empty());
  const std::string snapshot(view);
  const std::string body = testing::pattern(100 * 1024, 4);
  ASSERT_EQ(c.client->write(body, written), Status::ok);
  EXPECT_GT(c.client->output_pending(), TlsEngine::kOutputBlock);
  // A send SQE pointing at `view` would still send exactly what was peeked.
  EXPECT_EQ(c.client->peek_output().data(), view.data());
  EXPECT_EQ(std::string(view), snapshot);
  // Partial send: the rest of the view stays put too.
  c.client->consume_output(3);
  EXPECT_EQ(c.client->peek_output().data(), view.data() + 3);
  ASSERT_EQ(BIO_write(c.server->net(), view.data(), 3), 3);
  std::string got;
  while (c.link->pump() > 0) c.server->read(got);
  c.server->read(got);
  EXPECT_EQ(got, "MAIL FROM:<a@example.test>\r\n" + body);
}

// The recv contract: a span from input_buffer() keeps its address while OpenSSL consumes the
// bytes before it. (A BIO pair rewinds its ring buffer to 0 when OpenSSL empties it, so a
// recv in flight into BIO_nwrite0's pointer would land where OpenSSL never reads.)
TEST_F(TlsEngineTest, InputSpanStableWhileEarlierInputIsConsumed) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  ASSERT_EQ(c.client->handshake(), Status::want_io);
  c.link->pump();  // ClientHello to the server
  c.server->handshake();
  const std::size_t flight = BIO_ctrl_pending(c.server->net());
  ASSERT_GT(flight, 10u);
  const std::size_t first = flight / 2;
  std::span<char> a = c.client->input_buffer();
  ASSERT_EQ(BIO_read(c.server->net(), a.data(), static_cast<int>(first)), static_cast<int>(first));
  c.client->commit_input(first);
  // Arm the "recv" for the rest before the first half is processed.
  std::span<char> b = c.client->input_buffer();
  EXPECT_EQ(b.data(), a.data() + first);
  char* const armed = b.data();
  // Meanwhile the driver runs the engine: OpenSSL reads all of the first half.
  EXPECT_EQ(c.client->handshake(), Status::want_io);
  EXPECT_EQ(c.client->peek_output(), "");
  // The recv completes into the span it was given.
  const int rest = BIO_read(c.server->net(), armed, static_cast<int>(b.size()));
  ASSERT_EQ(static_cast<std::size_t>(rest), flight - first);
  c.client->commit_input(static_cast<std::size_t>(rest));
  EXPECT_EQ(c.link->handshake(), Status::ok) << c.client->last_error();
}

TEST_F(TlsEngineTest, FeedInputCopiesAndReportsWhatFits) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  const std::string junk(TlsEngine::kInputCapacity + 100, '\x16');
  EXPECT_EQ(c.client->feed_input(junk), TlsEngine::kInputCapacity);
  EXPECT_EQ(c.client->input_buffer().size(), 0u);  // full until OpenSSL reads
  c.client->commit_input(0);
}

TEST_F(TlsEngineTest, ServerCloseNotifyAfterData) {
  Conn c = handshaken();
  ASSERT_EQ(c.server->write("221 2.0.0 bye\r\n"), 15u);
  c.server->shutdown();
  c.link->pump();
  std::string out;
  EXPECT_EQ(c.client->read(out), Status::closed);
  EXPECT_EQ(out, "221 2.0.0 bye\r\n");
  EXPECT_EQ(c.client->read(out), Status::closed);  // sticky
  EXPECT_EQ(c.client->last_error(), "");
}

TEST_F(TlsEngineTest, ClientShutdownQueuesCloseNotify) {
  Conn c = handshaken();
  c.link->pump();
  ASSERT_EQ(c.client->output_pending(), 0u);
  c.client->shutdown();
  EXPECT_GT(c.client->output_pending(), 0u);
  c.link->pump();
  std::string got;
  EXPECT_FALSE(c.server->read(got));  // server saw close_notify
  std::size_t written = 1;
  EXPECT_EQ(c.client->write("QUIT\r\n", written), Status::closed);
  EXPECT_EQ(written, 0u);
  // The server's answering close_notify is reported as closed.
  c.server->shutdown();
  c.link->pump();
  std::string out;
  EXPECT_EQ(c.client->read(out), Status::closed);
}

TEST_F(TlsEngineTest, ShutdownBeforeHandshakeIsANoOp) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  c.client->shutdown();
  EXPECT_EQ(c.client->output_pending(), 0u);
  EXPECT_EQ(c.link->handshake(), Status::ok);
}

TEST_F(TlsEngineTest, EofWithoutCloseNotifyIsAnError) {
  Conn c = handshaken();
  ASSERT_EQ(c.server->write("250 ok\r\n"), 8u);
  c.link->pump();
  c.client->on_peer_eof();
  std::string out;
  // Bytes before the EOF are still delivered...
  EXPECT_EQ(c.client->read(out), Status::error);
  EXPECT_EQ(out, "250 ok\r\n");
  // ...and the truncation is named.
  EXPECT_NE(c.client->last_error().find("eof"), std::string::npos) << c.client->last_error();
}

TEST_F(TlsEngineTest, EofDuringHandshakeIsAnError) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  ASSERT_EQ(c.client->handshake(), Status::want_io);
  c.client->on_peer_eof();
  EXPECT_EQ(c.client->handshake(), Status::error);
  EXPECT_NE(c.client->last_error().find("TLS handshake"), std::string::npos) << c.client->last_error();
}

// A server that answers STARTTLS's 220 and then keeps talking SMTP in clear text.
TEST_F(TlsEngineTest, PlaintextInsteadOfServerHelloFails) {
  Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
  ASSERT_EQ(c.client->handshake(), Status::want_io);
  c.client->feed_input("250 mx.test Hello\r\n");
  EXPECT_EQ(c.client->handshake(), Status::error);
  EXPECT_FALSE(c.client->last_error().empty());
  std::string out;
  std::size_t written = 0;
  EXPECT_EQ(c.client->read(out), Status::error);
  EXPECT_EQ(c.client->write("EHLO x\r\n", written), Status::error);
  EXPECT_EQ(c.client->handshake(), Status::error);
}

TEST_F(TlsEngineTest, GarbageAfterHandshakeFails) {
  Conn c = handshaken();
  c.link->pump();
  std::string out;
  c.client->read(out);  // consume tickets
  const std::string junk = testing::pattern(300, 5);
  c.client->feed_input(junk);
  EXPECT_EQ(c.client->read(out), Status::error);
  EXPECT_FALSE(c.client->last_error().empty());
}

TEST_F(TlsEngineTest, TamperedRecordFails) {
  Conn c = handshaken();
  c.link->pump();
  std::string out;
  c.client->read(out);
  ASSERT_GT(c.server->write("250 ok, queued as 12345\r\n"), 0u);
  std::string record(BIO_ctrl_pending(c.server->net()), '\0');
  ASSERT_EQ(BIO_read(c.server->net(), record.data(), static_cast<int>(record.size())), static_cast<int>(record.size()));
  record[record.size() / 2] ^= 0x01;
  c.client->feed_input(record);
  EXPECT_EQ(c.client->read(out), Status::error);
  EXPECT_EQ(out, "");
  EXPECT_FALSE(c.client->last_error().empty());
}

// Random bytes at random sizes as the server's first flight: never a crash, never ok.
TEST_F(TlsEngineTest, RandomCiphertextNeverCrashes) {
  std::mt19937 rng(42);
  for (unsigned seed = 0; seed < 300; ++seed) {
    Conn c = connect(client_ctx_.get(), server_ctx_.get(), "mx.test");
    ASSERT_EQ(c.client->handshake(), Status::want_io);
    std::string junk = testing::pattern(1 + rng() % 6000, seed);
    if (seed % 3 == 0) junk[0] = 0x16;  // looks like a handshake record, so the parser goes deeper
    if (seed % 3 == 0 && junk.size() > 2) junk[1] = 0x03, junk[2] = 0x03;
    std::string_view rest = junk;
    Status st = Status::want_io;
    while (!rest.empty() && st == Status::want_io) {
      rest.remove_prefix(c.client->feed_input(rest.substr(0, 1 + rng() % 700)));
      st = c.client->handshake();
    }
    EXPECT_NE(st, Status::ok) << seed;
  }
}

}  // namespace
}  // namespace ringpost::tls
