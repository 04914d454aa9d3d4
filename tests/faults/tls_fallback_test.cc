// Opportunistic TLS fallback (RFC 7435): when an endpoint's STARTTLS handshake fails, its next
// connections go in plain text, but only until the next retry delay (at most an hour); then
// TLS is tried again. Before issue 20 the fallback lasted for the life of the process: one
// broken handshake downgraded that server for good. The far side is fault_smtp.py, whose
// STARTTLS always breaks the handshake.
#include <thread>

#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

class TlsFallback : public FaultTest {};

// The value of the sample line that starts with `prefix` (name and labels), or -1.
int metric(const std::string& page, const std::string& prefix) {
  const auto at = page.find("\n" + prefix);
  return at == std::string::npos ? -1 : std::stoi(page.substr(page.find(' ', at + 1) + 1));
}

TEST_F(TlsFallback, PlainTextUntilTheNextRetryDelayThenTlsIsTriedAgain) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({"--caps", std::string(kCapsPipelining) + ",STARTTLS"}));
  // One message per connection, so each message shows whether its connection asked for TLS;
  // the first retry delay (3 s) is how long the fallback lasts.
  ASSERT_NO_FATAL_FAILURE(
      start_ringpost({R"(tls = "opportunistic")", "max_connections = 1", "max_msgs_per_connection = 1"}, {"3s"}));
  auto delivered = [&](const std::string& id) {
    auto st = poll_status(*api_, id, 20s, all_final);
    EXPECT_TRUE(st.ok) << id << " not final within 20 s; states:" << st.history;
    return st.ok && st.last.recipients[0].state == "delivered";
  };

  // The handshake fails; the same message goes at once over a plain connection (not a retry).
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(delivered(submit({addr("first")})));
  // Inside the window: plain text again, without asking.
  ASSERT_TRUE(delivered(submit({addr("second")})));
  auto log = script_log();
  ASSERT_EQ(log.commands("STARTTLS").size(), 1u) << log.raw;
  ASSERT_EQ(log.of("fault").size(), 1u) << log.raw;
  EXPECT_EQ(log.messages().size(), 2u) << log.raw;
  ASSERT_LT(std::chrono::steady_clock::now() - start, 3s) << "too slow to test inside the 3 s window";

  // After the window: TLS is asked for again (and, here, fails and falls back again).
  std::this_thread::sleep_until(start + 3500ms);
  ASSERT_TRUE(delivered(submit({addr("third")})));
  log = script_log();
  EXPECT_EQ(log.commands("STARTTLS").size(), 2u) << "TLS was not tried again after the window:\n" << log.raw;
  EXPECT_EQ(log.messages().size(), 3u) << log.raw;

  // Every plain connection after a failed handshake counted.
  auto page = api_->http().get("/metrics");
  ASSERT_TRUE(page) << page.error();
  const std::string site = fmt::format("route:127.0.0.1:{}", smtp_port_);
  EXPECT_EQ(metric(page->body, fmt::format("ringpost_tls_fallbacks_total{{site=\"{}\"}}", site)), 3) << page->body;
}

}  // namespace
}  // namespace ringpost::faults
