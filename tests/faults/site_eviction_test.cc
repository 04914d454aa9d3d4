// Sites (and the routes that led to them) are forgotten once idle for site_idle_evict, so the
// state a shard keeps and walks every tick is bounded by the destinations in use, not by every
// destination ever mailed (issue 20, defect 3). A forgotten site comes back with the next
// message. Driven with short settings (idle_timeout 300 ms, site_idle_evict 1 s) and bounded
// waits on GET /v1/stats.
#include "tests/faults/fault_fixture.h"

namespace ringpost::faults {
namespace {

class SiteEviction : public FaultTest {};

TEST_F(SiteEviction, AnIdleSiteIsForgottenAndComesBackWithTheNextMessage) {
  ASSERT_NO_FATAL_FAILURE(start_smtp({}));
  ASSERT_NO_FATAL_FAILURE(start_ringpost({R"(idle_timeout = "300ms")", R"(site_idle_evict = "1s")"}));
  auto sites = [&] {
    auto st = api_->stats();
    return st ? st->sites : int64_t{-2};
  };
  auto delivered = [&](const std::string& id) {
    auto st = poll_status(*api_, id, 20s, all_final);
    return st.ok && st.last.recipients[0].state == "delivered";
  };
  ASSERT_TRUE(delivered(submit({addr("one")})));
  EXPECT_EQ(sites(), 1);
  // Idle connection closed after 300 ms, then 1 s without work: gone within a few seconds.
  EXPECT_TRUE(it::wait_until(10s, 100ms, [&] { return sites() == 0; })) << "sites: " << sites();
  ASSERT_TRUE(delivered(submit({addr("two")})));
  EXPECT_EQ(sites(), 1);
  EXPECT_EQ(script_log().messages().size(), 2u);
}

}  // namespace
}  // namespace ringpost::faults
