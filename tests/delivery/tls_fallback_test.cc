// Opportunistic TLS fallback expiry (issue 20, defect 2): after a failed STARTTLS handshake
// with an endpoint, its connections go in plain text until the next retry delay, then TLS is
// tried again. The fake server offers STARTTLS, says 220 to it and answers the ClientHello
// with bytes that are not TLS; the client's TLS engine is the real one (OpenSSL over memory
// buffers), so the handshake fails as it would on the wire.
#include "tests/delivery/site_fixture.h"

namespace ringpost::engine::testing {
namespace {

using SiteTlsFallback = SiteTest;

TEST_F(SiteTlsFallback, PlainTextUntilTheNextRetryDelayThenTlsAgain) {
  auto ctx = tls::ClientContext::make(tls::ClientTlsOptions{});
  ASSERT_TRUE(ctx) << ctx.error();
  host.tls_ctx.emplace(std::move(*ctx));
  DeliveryPolicy p = policy();
  p.tls = TlsPolicy::opportunistic;
  p.retry = {std::chrono::seconds(90)};
  p.max_msgs_per_connection = 1;  // each message on a new connection: each one chooses TLS or not
  sink.config.starttls = true;
  sink.garbage_tls = true;
  const Endpoint mx = endpoint("mx.test", 1);
  serve(mx);
  Site& s = make_site(p, {mx});
  const int64_t t0 = host.now_ms;

  enqueue("dest.test", 1, "first");
  host.settle(s);
  EXPECT_EQ(seen.tls_started, 1u);
  ASSERT_EQ(delivered(), 1u) << "delivered in plain text on the next connection, at once";
  EXPECT_EQ(net.connects_total(), 2);
  ASSERT_TRUE(host.reports.back().trace.peer);
  EXPECT_TRUE(host.reports.back().trace.peer->tls_fallback);
  EXPECT_EQ(s.window(), p.initial_connections + 1) << "one delivered; a TLS failure is not a connection failure";

  host.step(s, t0 + 90'000 - 1);
  enqueue("dest.test", 1, "second");
  host.settle(s);
  EXPECT_EQ(delivered(), 2u);
  EXPECT_EQ(seen.tls_started, 1u) << "still plain text before the retry delay";

  host.step(s, t0 + 90'000);
  enqueue("dest.test", 1, "third");
  host.settle(s);
  EXPECT_EQ(seen.tls_started, 2u) << "STARTTLS tried again once the fallback expired";
  EXPECT_EQ(delivered(), 3u);
}

}  // namespace
}  // namespace ringpost::engine::testing
