// The /metrics building blocks without a server: the text format's escaping and histogram
// layout, bucket placement, and the site-label cap (the first N sites keep their label, the
// rest share "other", and a label once given is never taken back).
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "engine/config/config.h"
#include "engine/ops/metrics/exposition.h"
#include "engine/ops/metrics/front_metrics.h"
#include "engine/ops/metrics/histogram.h"
#include "engine/ops/metrics/shard_metrics.h"
#include "engine/ops/metrics/site_labels.h"
#include "smtp/reply_tally.h"

namespace ringpost::engine {
namespace {

TEST(Exposition, FamilyHeaderAndSamples) {
  Exposition x;
  x.family("ringpost_things_total", "counter", "Things.\nSecond line \\ backslash.");
  x.sample("ringpost_things_total", {{"site", "a"}, {"outcome", "delivered"}}, uint64_t{7});
  x.sample("ringpost_things_total", {}, uint64_t{0});
  EXPECT_EQ(x.text(),
            "# HELP ringpost_things_total Things.\\nSecond line \\\\ backslash.\n"
            "# TYPE ringpost_things_total counter\n"
            "ringpost_things_total{site=\"a\",outcome=\"delivered\"} 7\n"
            "ringpost_things_total 0\n");
}

TEST(Exposition, LabelValuesAreEscaped) {
  Exposition x;
  x.sample("m", {{"key", "a\"b\\c\nd"}}, uint64_t{1});
  EXPECT_EQ(x.text(), "m{key=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Exposition, Values) {
  EXPECT_EQ(format_value(1024.0), "1024");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(1e-4), "0.0001");
}

TEST(Histogram, BucketsAreLessOrEqual) {
  Histogram h({0.1, 1, 10});
  h.observe(0.1);   // on a bound: that bucket
  h.observe(0.5);
  h.observe(1);
  h.observe(11);    // past the last: +Inf
  EXPECT_EQ(h.bucket(0), 1u);
  EXPECT_EQ(h.bucket(1), 2u);
  EXPECT_EQ(h.bucket(2), 0u);
  EXPECT_EQ(h.bucket(3), 1u);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 12.6);
}

TEST(Exposition, HistogramIsCumulativeWithInfSumAndCount) {
  Histogram h({0.5, 2});
  h.observe(0.25);
  h.observe(1);
  h.observe(3);
  Exposition x;
  x.histogram("lat_seconds", {{"shard", "0"}}, h);
  EXPECT_EQ(x.text(),
            "lat_seconds_bucket{shard=\"0\",le=\"0.5\"} 1\n"
            "lat_seconds_bucket{shard=\"0\",le=\"2\"} 2\n"
            "lat_seconds_bucket{shard=\"0\",le=\"+Inf\"} 3\n"
            "lat_seconds_sum{shard=\"0\"} 4.25\n"
            "lat_seconds_count{shard=\"0\"} 3\n");
}

TEST(SiteLabels, FirstNKeepTheirLabelTheRestAreOther) {
  SiteLabels labels(3);
  EXPECT_EQ(labels.label("a"), "a");
  EXPECT_EQ(labels.label("b"), "b");
  EXPECT_EQ(labels.label("a"), "a");  // seen again: no new place taken
  EXPECT_EQ(labels.label("c"), "c");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(labels.label("site" + std::to_string(i)), "other");
  EXPECT_EQ(labels.admitted(), 3u);
  // Admitted sites keep their label after the cap is reached.
  EXPECT_EQ(labels.label("b"), "b");
}

TEST(SiteLabels, ZeroLimitPutsEverySiteInOther) {
  SiteLabels labels(0);
  EXPECT_EQ(labels.label("a"), "other");
}

TEST(ShardMetrics, SlotsPastTheLimitShareOther) {
  ShardMetrics m(2);
  SiteSlot& a = m.site("a");
  SiteSlot& b = m.site("b");
  SiteSlot& c = m.site("c");
  SiteSlot& d = m.site("d");
  EXPECT_EQ(&m.site("a"), &a);
  EXPECT_NE(&a, &b);
  EXPECT_EQ(&c, &m.other());
  EXPECT_EQ(&d, &m.other());
  ASSERT_EQ(m.named(), 2u);
  EXPECT_EQ(m.name(0), "a");
  EXPECT_EQ(m.name(1), "b");
  c.connections_opened.add();
  d.connections_opened.add(2);
  EXPECT_EQ(m.other().connections_opened.get(), 3u);
  EXPECT_EQ(m.slot(0).connections_opened.get(), 0u);
}

TEST(ReplyTally, CountsByClass) {
  smtp::ReplyTally t;
  EXPECT_TRUE(t.empty());
  for (int code : {220, 250, 250, 354, 451, 550, 554}) t.count(code);
  EXPECT_EQ(t.counts[0], 3u);
  EXPECT_EQ(t.counts[1], 1u);
  EXPECT_EQ(t.counts[2], 1u);
  EXPECT_EQ(t.counts[3], 2u);
  SiteSlot slot;
  slot.count_replies(t);
  slot.count_replies(t);
  EXPECT_EQ(slot.replies[0].get(), 6u);
  EXPECT_EQ(slot.replies[3].get(), 4u);
}

TEST(FrontMetrics, SitesPastTheCapAreRenderedAsOther) {
  FrontMetrics fm(2);
  auto msg = std::make_shared<SpooledMessage>();
  msg->recipients = {"x@a.test"};
  for (const char* site : {"mx-a", "mx-b", "mx-c", "mx-d", "mx-a", ""}) {
    DeliveryEvent e;
    e.msg = msg;
    e.state = queue::RecipientState::delivered;
    e.site = site;
    fm.on_event(e, "");
  }
  const std::string page = fm.render({}, 0, 0);
  auto has = [&](const std::string& line) { return page.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has(R"(ringpost_recipient_outcomes_total{site="mx-a",outcome="delivered"} 2)")) << page;
  EXPECT_TRUE(has(R"(ringpost_recipient_outcomes_total{site="mx-b",outcome="delivered"} 1)")) << page;
  EXPECT_TRUE(has(R"(ringpost_recipient_outcomes_total{site="other",outcome="delivered"} 2)")) << page;
  // No route reached: its own label, outside the cap.
  EXPECT_TRUE(has(R"(ringpost_recipient_outcomes_total{site="none",outcome="delivered"} 1)")) << page;
  EXPECT_EQ(page.find("mx-c"), std::string::npos) << page;
  EXPECT_TRUE(has(R"(ringpost_key_recipient_outcomes_total{key="none",outcome="delivered"} 6)")) << page;
  EXPECT_TRUE(has("ringpost_delivery_latency_seconds_count 6")) << page;
}

TEST(MetricsConfig, TopSitesDefaultOverrideAndRange) {
  auto def = load_config_string("", "ringpost.toml");
  ASSERT_TRUE(def) << def.error();
  EXPECT_EQ(def->metrics_top_sites, 50u);
  auto three = load_config_string("[server]\nmetrics_top_sites = 3\n", "ringpost.toml");
  ASSERT_TRUE(three) << three.error();
  EXPECT_EQ(three->metrics_top_sites, 3u);
  auto bad = load_config_string("[server]\nmetrics_top_sites = -1\n", "ringpost.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("metrics_top_sites"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace ringpost::engine
