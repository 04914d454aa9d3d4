// Reply rules ([[rules]]: suspend, throttle), the retry schedule ending in `expired` after
// max_age, and max_recipients_per_message splitting one envelope into several transactions.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>

#include "tests/shaping/shaping_fixture.h"

namespace ringpost::shaping {
namespace {

bool contains_icase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

std::optional<SmtpEvent> first_fault(const SmtpLog& log) {
  for (const auto& e : log.events)
    if (e.ev == "fault") return e;
  return std::nullopt;
}

// "2026-11-25T18:50:34.123Z" -> unix milliseconds; nullopt if it is not that shape.
std::optional<int64_t> rfc3339_ms(const std::string& t) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(::timegm(&tm)) * 1000 + ms;
}

int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t occurrences(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(Shaping, Rule421SuspendsOnlyThatDestination) {
  // A answers the first MAIL of the run with the 421 and then accepts; B always accepts.
  auto& a = start_smtp("a", {"--reply", "MAIL#1=421 4.7.0 Try again later"});
  auto& b = start_smtp("b", {}, "127.0.0.2");
  auto cfg = base_config();
  // One connection to A, so no other transaction to A is already in flight when the 421 comes.
  cfg.domains = {{"a.test", a.route(), "max_connections = 1\n"}, {"b.test", b.route()}};
  cfg.extra_toml =
      "[[rules]]\n"
      "match = \"^421 .*try again later\"\n"
      "action = \"suspend\"\n"
      "duration = \"5s\"\n";
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  const int kA = 10;
  auto ids_a = submit(make_messages("a.test", kA, "to a", "a"));
  ASSERT_EQ(ids_a.size(), static_cast<std::size_t>(kA));

  // While A is (to be) suspended: a message to B every 200 ms, and A's domain object polled.
  std::optional<double> t421;
  std::optional<DomainInfo> suspended_view, error_view;
  std::string get_errors;
  int sent_b = 0;
  const double loop_start = mono_now();
  for (int i = 0; i < 100 && mono_now() < loop_start + 20; ++i) {
    if (submit_one({fmt::format("b{}@b.test", sent_b)}, fmt::format("to b {}", sent_b)).empty()) break;
    ++sent_b;
    if (auto d = admin_->domain("a.test"); d) {
      if (d->suspended_until && !suspended_view) suspended_view = *d;
      if (d->last_error && d->last_error->code == 421 && !error_view) error_view = *d;
    } else if (get_errors.size() < 2000) {
      get_errors += "\n    " + d.error();
    }
    if (!t421)
      if (auto f = first_fault(log_of(a))) t421 = f->t;
    if (t421 && mono_now() > *t421 + 6.5) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(t421) << "A never got to answer the 421 (no MAIL within 20 s)";

  auto log_a = wait_messages(a, kA, 30s);
  EXPECT_EQ(log_a.messages().size(), static_cast<std::size_t>(kA)) << "deliveries to A did not resume";
  auto log_b = wait_messages(b, sent_b, 30s);
  EXPECT_EQ(log_b.messages().size(), static_cast<std::size_t>(sent_b));

  // No delivery to A within 4.5 s of the 421; then they resume.
  int early = log_a.messages_between(*t421, *t421 + 4.5);
  auto resumed = log_a.first_message_time();
  EXPECT_EQ(early, 0) << "deliveries to A during its suspension; first arrival "
                      << (resumed ? fmt::format("{:.3f} s", *resumed - *t421) : std::string("never")) << " after the 421";
  if (resumed) RecordProperty("a_resumed_after_s", fmt::format("{:.3f}", *resumed - *t421));
  for (int i = 0; i < kA; ++i) EXPECT_EQ(log_a.copies_of(fmt::format("a{}@a.test", i)), 1) << "a" << i;

  // B kept receiving all along: at least one arrival in every second of A's suspension.
  std::string per_second;
  bool gap = false;
  for (int k = 0; k < 5; ++k) {
    double from = *t421 + k, to = std::min(*t421 + k + 1, *t421 + 4.5);
    int n = log_b.messages_between(from, to);
    per_second += fmt::format(" {}", n);
    gap |= n == 0;
  }
  EXPECT_FALSE(gap) << "B stopped receiving while A was suspended; B arrivals per second from the 421:" << per_second;

  // The admin view showed the suspension and the reply that caused it.
  EXPECT_TRUE(suspended_view) << "GET /v1/domains/a.test never showed suspended_until" << get_errors;
  ASSERT_TRUE(error_view) << "GET /v1/domains/a.test never showed last_error 421" << get_errors;
  EXPECT_EQ(error_view->last_error->enhanced, "4.7.0") << error_view->raw;
  EXPECT_TRUE(contains_icase(error_view->last_error->text, "Try again later")) << error_view->raw;
  auto b_view = admin_->domain("b.test");
  ASSERT_TRUE(b_view) << b_view.error();
  EXPECT_FALSE(b_view->suspended_until) << "B must not be suspended: " << b_view->raw;
  // One 421, one suspension: logged once (issue 20: the same reply was logged twice).
  const std::string out = server_->process().output_tail(1 << 20);
  EXPECT_EQ(occurrences(out, "suspended for"), 1u) << out;
  auto a_after = admin_->domain("a.test");
  ASSERT_TRUE(a_after) << a_after.error();
  EXPECT_FALSE(a_after->suspended_until) << "still suspended after the deliveries resumed: " << a_after->raw;
}

// Issue 20, defect 5: while a [[rules]] suspension holds a site, the recipients waiting there
// (queued before it, or arriving during it) show `deferred` with the reply that suspended it and
// the suspension's end as next_attempt_at, never a bare `queued`, with no attempt counted; when
// it ends they are delivered.
TEST_F(Shaping, RecipientsHeldByARuleSuspensionShowDeferredWithTheReplyAndResumeTime) {
  auto& a = start_smtp("a", {"--reply", "MAIL#1=421 4.7.0 Try again later"});
  auto cfg = base_config();
  // One connection: the first transaction gets the 421, the others wait in the site's queue.
  cfg.domains = {{"held.test", a.route(), "max_connections = 1\n"}};
  cfg.extra_toml = "[[rules]]\nmatch = \"^421 .*try again later\"\naction = \"suspend\"\nduration = \"5s\"\n";
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  const int kN = 4;
  auto ids = submit(make_messages("held.test", kN, "held", "h"));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));
  std::optional<double> t421;
  it::wait_until(20s, 20ms, [&] {
    if (auto f = first_fault(log_of(a))) t421 = f->t;
    return t421.has_value();
  });
  ASSERT_TRUE(t421) << "A never got to answer the 421 (no MAIL within 20 s)";
  // The suspension's end in wall-clock time (the server's log is on the monotonic clock).
  const int64_t resume_ms = wall_now_ms() - static_cast<int64_t>((mono_now() - *t421) * 1000) + 5000;
  // One more, arriving while the site is suspended.
  auto late = submit_one({"late@held.test"}, "late");
  ASSERT_FALSE(late.empty());
  ids.push_back(late);

  // Well inside the 5 s suspension: each shows deferred with the 421; those never tried (all but
  // the one that got the 421) with 0 attempts and next_attempt_at at the suspension's end.
  int never_tried = 0;
  std::set<std::string> tried;  // the one whose MAIL got the 421
  for (const auto& id : ids) {
    MessageStatus st;
    std::string history;
    const bool shown = poll_status(id, 2s, [](const MessageStatus& m) {
      const auto& r = m.recipients.at(0);
      return r.state == "deferred" && r.last_reply && r.last_reply->code == 421 && r.next_attempt_at;
    }, &st, &history);
    ASSERT_TRUE(shown) << id << " did not show deferred with the 421 and next_attempt_at within 2 s of it:" << history;
    const auto& r = st.recipients.at(0);
    EXPECT_EQ(r.last_reply->enhanced, "4.7.0") << history;
    EXPECT_TRUE(contains_icase(r.last_reply->text, "Try again later")) << history;
    const auto next = rfc3339_ms(*r.next_attempt_at);
    ASSERT_TRUE(next) << "next_attempt_at is not RFC 3339 with milliseconds:" << history;
    if (r.attempts == 1) tried.insert(id);
    if (r.attempts == 0) {
      ++never_tried;
      // The suspension's end (the 421's arrival + 5 s), give or take the clocks' reading.
      EXPECT_NEAR(static_cast<double>(*next), static_cast<double>(resume_ms), 500.0) << history;
    }
    EXPECT_GT(*next, wall_now_ms()) << "next_attempt_at is not in the future:" << history;
  }
  EXPECT_EQ(never_tried, kN) << "all but the recipient that got the 421 were never tried";
  EXPECT_EQ(tried.size(), 1u);
  EXPECT_EQ(log_of(a).of("rcpt").size(), 0u) << "nothing went out during the suspension (the 421 answered a MAIL)";

  // When the suspension ends they are delivered, each once, each with one attempt (the hold
  // was not counted), and none arrived during the suspension.
  for (const auto& id : ids) {
    MessageStatus st;
    std::string history;
    ASSERT_TRUE(poll_status(id, 30s, all_final, &st, &history)) << id << " not final within 30 s:" << history;
    EXPECT_EQ(st.recipients.at(0).state, "delivered") << history;
    EXPECT_EQ(st.recipients.at(0).next_attempt_at, std::nullopt) << history;
  }
  auto log_a = wait_messages(a, kN + 1, 5s);
  EXPECT_EQ(log_a.messages_between(*t421, *t421 + 4.5), 0) << "deliveries during the suspension";
  for (int i = 0; i < kN; ++i) EXPECT_EQ(log_a.copies_of(fmt::format("h{}@held.test", i)), 1) << "h" << i;
  EXPECT_EQ(log_a.copies_of("late@held.test"), 1);
  for (const auto& id : ids) {
    auto st = api_->status(id);
    ASSERT_TRUE(st) << st.error();
    const auto& r = st->recipients.at(0);
    EXPECT_EQ(r.attempts, tried.count(id) ? 2 : 1) << "the hold must not count as an attempt: " << it::summarize(*st);
  }
}

TEST_F(Shaping, RuleThrottleLowersTheRate) {
  auto& smtp = start_smtp("dest", {"--reply", "MAIL#1=451 4.7.1 Rate limit exceeded, slow down"});
  auto cfg = base_config();
  // No rate of its own; one connection, so nothing else is in flight when the 451 comes.
  cfg.domains = {{"thr.test", smtp.route(), "max_connections = 1\n"}};
  cfg.extra_toml =
      "[[rules]]\n"
      "match = \"^4.. .*rate limit\"\n"
      "action = \"throttle\"\n"
      "msgs_per_second = 5\n"
      "for = \"30s\"\n";
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  auto ids = submit(make_messages("thr.test", 200, "thr"));
  ASSERT_EQ(ids.size(), 200u);
  auto first = wait_messages(smtp, 1, 30s);
  auto f = first_fault(first);
  ASSERT_TRUE(f) << "the 451 was never sent";
  auto t1 = first.first_message_time();
  ASSERT_TRUE(t1) << "nothing arrived within 30 s";

  auto view = admin_->domain("thr.test");
  ASSERT_TRUE(view) << view.error();
  EXPECT_TRUE(view->throttled_until) << "throttle rule fired but throttled_until is null: " << view->raw;
  ASSERT_TRUE(view->last_error) << view->raw;
  EXPECT_EQ(view->last_error->code, 451) << view->raw;

  sleep_until_mono(*t1 + 10.3);
  auto log = log_of(smtp);
  int n = log.messages_between(*t1, *t1 + 10);
  RecordProperty("arrivals_in_10s", n);
  EXPECT_NEAR(n, 50, 2.5) << "throttled to 5/s: arrivals in the 10 s from the first one after the 451"
                          << " (" << fmt::format("{:.3f}", *t1 - f->t) << " s after it); per second: "
                          << log.per_second(*t1, 11);
}

// A 421 greeting goes through the connect-failure path as well as the reply path: one reply,
// one suspension, logged once (issue 20: it was logged twice).
TEST_F(Shaping, ASuspensionIsLoggedOnceWhenTheGreetingIs421) {
  auto& a = start_smtp("a", {"--reply", "CONNECT#1=421 4.7.0 Try again later"});
  auto cfg = base_config();
  cfg.domains = {{"a.test", a.route(), "max_connections = 1\n"}};
  cfg.extra_toml = "[[rules]]\nmatch = \"^421 .*try again later\"\naction = \"suspend\"\nduration = \"2s\"\n";
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));
  ASSERT_EQ(submit(make_messages("a.test", 1, "greeting", "g")).size(), 1u);
  auto log_a = wait_messages(a, 1, 30s);
  ASSERT_EQ(log_a.messages().size(), 1u) << "the message never arrived after the suspension";
  const std::string out = server_->process().output_tail(1 << 20);
  EXPECT_EQ(occurrences(out, "suspended for"), 1u) << out;
}

// Without [[rules]] the built-in defaults apply (docs/shaping.md): rate-limit wording throttles
// the site that answered; an ordinary 421 "try again later" (RFC 5321's own wording for a busy
// server) does not park the site: its mail follows the retry schedule (1 s here), where the old
// default suspended the site for a minute (issue 20, defect 5).
TEST_F(Shaping, DefaultRulesThrottleRateWordingAndLeaveAPlain421ToTheRetrySchedule) {
  auto& sus = start_smtp("sus", {"--reply", "MAIL#1=421 4.7.0 Try again later"});
  auto& thr = start_smtp("thr", {"--reply", "MAIL#1=451 4.7.28 Rate limit exceeded, slow down"}, "127.0.0.3");
  auto cfg = base_config();
  cfg.domains = {{"sus.test", sus.route(), "max_connections = 1\n"}, {"thr.test", thr.route(), "max_connections = 1\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  auto ids_s = submit(make_messages("sus.test", 5, "sus", "s"));
  auto ids_t = submit(make_messages("thr.test", 40, "thr", "t"));
  ASSERT_EQ(ids_s.size() + ids_t.size(), 45u);

  std::optional<double> t421, t451;
  it::wait_until(20s, 50ms, [&] {
    if (!t421)
      if (auto f = first_fault(log_of(sus))) t421 = f->t;
    if (!t451)
      if (auto f = first_fault(log_of(thr))) t451 = f->t;
    return t421 && t451;
  });
  ASSERT_TRUE(t421 && t451) << "the scripted replies were not both sent within 20 s";

  // Within one tick the admin view shows the throttle; the 421 site is not suspended.
  std::string last_s, last_t;
  bool shown = it::wait_until(1s, 50ms, [&] {
    auto t = admin_->domain("thr.test");
    last_t = t ? t->raw : t.error();
    return t && t->throttled_until;
  });
  EXPECT_TRUE(shown) << "default rules: thr.test should be throttled:\n    " << last_t;
  auto s = admin_->domain("sus.test");
  ASSERT_TRUE(s) << s.error();
  EXPECT_FALSE(s->suspended_until) << "an ordinary 421 suspended the site: " << s->raw;

  // The 421'd message is retried after ~1 s (the schedule), so all five arrive within a few
  // seconds, not after a minute's suspension.
  EXPECT_TRUE(it::wait_until(15s, 100ms, [&] { return log_of(sus).messages_between(*t421, *t421 + 15) >= 5; }))
      << "sus.test got " << log_of(sus).messages_between(*t421, *t421 + 15) << " of 5 within 15 s of its 421";
  // Throttled (default 1/s): from its first arrival, 10 s hold 10 ± 5 %.
  auto t1 = wait_messages(thr, 1, 20s).first_message_time();
  ASSERT_TRUE(t1) << "nothing arrived at thr.test within 20 s of the throttle";
  sleep_until_mono(*t1 + 10.3);
  auto lt = log_of(thr);
  int n = lt.messages_between(*t1, *t1 + 10);
  EXPECT_NEAR(n, 10, 0.5) << "thr.test throttled to 1/s by the default rule; per second: " << lt.per_second(*t1, 11);
}

// Each retry delay gets ±10 % jitter: with retry = ["2s"] every gap between a recipient's first
// and second RCPT is at least 1.8 s, at most 2.2 s plus the shards' documented 50 ms tick (and
// one more for the connection's turn), and the gaps are not all the same.
TEST_F(Shaping, RetryDelaysGetTenPercentJitter) {
  auto& smtp = start_smtp("dest", {"--reply", "RCPT=451 4.3.0 Mailbox not ready"});
  auto cfg = base_config();
  cfg.retry = {"2s"};
  cfg.domains = {{"jitter.test", smtp.route()}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  const int kN = 20;
  auto ids = submit(make_messages("jitter.test", kN, "jitter", "j"));
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kN));
  SmtpLog log;
  it::wait_until(30s, 100ms, [&] {
    log = log_of(smtp);
    for (int i = 0; i < kN; ++i)
      if (log.rcpt_commands_for(fmt::format("j{}@jitter.test", i)) < 2) return false;
    return true;
  });
  std::vector<double> gaps;
  std::string shown;
  for (int i = 0; i < kN; ++i) {
    std::vector<double> at;
    for (const auto& e : log.of("rcpt"))
      if (e.address == fmt::format("j{}@jitter.test", i)) at.push_back(e.t);
    ASSERT_GE(at.size(), 2u) << "j" << i << " was not retried within 30 s";
    gaps.push_back(at[1] - at[0]);
    shown += fmt::format(" {:.3f}", gaps.back());
  }
  auto [lo, hi] = std::minmax_element(gaps.begin(), gaps.end());
  EXPECT_GE(*lo, 1.8) << "a retry came sooner than 2 s - 10 %; gaps:" << shown;
  EXPECT_LE(*hi, 2.2 + 0.1) << "a retry came later than 2 s + 10 % (+ two 50 ms ticks); gaps:" << shown;
  EXPECT_GT(*hi - *lo, 0.05) << "no jitter visible over " << kN << " retries; gaps:" << shown;
}

TEST_F(Shaping, RetryScheduleAndMaxAgeEndInExpired) {
  auto& smtp = start_smtp("dest", {"--reply", "RCPT=451 4.3.0 Mailbox not ready"});
  auto cfg = base_config();
  cfg.retry = {"1s"};
  cfg.max_age = "3s";
  cfg.domains = {{"expire.test", smtp.route()}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  auto id = submit_one({"x@expire.test"}, "expire me");
  ASSERT_FALSE(id.empty());
  MessageStatus st;
  std::string history;
  ASSERT_TRUE(poll_status(id, 30s, all_final, &st, &history)) << "not final within 30 s:" << history;
  ASSERT_EQ(st.recipients.size(), 1u);
  const auto& r = st.recipients[0];
  EXPECT_EQ(r.state, "expired") << history;
  EXPECT_GE(r.attempts, 2) << history;
  ASSERT_TRUE(r.last_reply) << history;
  EXPECT_EQ(r.last_reply->code, 451) << history;
  auto log = log_of(smtp);
  EXPECT_EQ(log.rcpt_commands_for("x@expire.test"), r.attempts) << "RCPTs at the far side vs attempts" << history;
  EXPECT_EQ(log.copies_of("x@expire.test"), 0);
}

TEST_F(Shaping, MaxRecipientsPerMessageSplitsTheEnvelope) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"split.test", smtp.route(), "max_recipients_per_message = 2\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg));

  std::vector<std::string> rcpts;
  for (int i = 0; i < 5; ++i) rcpts.push_back(fmt::format("s{}@split.test", i));
  auto id = submit_one(rcpts, "split me");
  ASSERT_FALSE(id.empty());
  MessageStatus st;
  std::string history;
  ASSERT_TRUE(poll_status(id, 30s, all_final, &st, &history)) << "not final within 30 s:" << history;
  for (const auto& r : st.recipients) EXPECT_EQ(r.state, "delivered") << history;

  auto log = wait_messages(smtp, 3, 5s);
  auto msgs = log.messages();
  std::vector<std::size_t> sizes;
  std::string shown;
  for (const auto& m : msgs) {
    EXPECT_EQ(m.subject, "split me");
    sizes.push_back(m.rcpts.size());
    shown += fmt::format(" {}", m.rcpts.size());
  }
  ASSERT_EQ(msgs.size(), 3u) << "transactions (RCPTs each):" << shown;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 2, 2})) << "RCPTs per transaction, in arrival order:" << shown;
  for (const auto& a : rcpts) EXPECT_EQ(log.copies_of(a), 1) << a;
  EXPECT_EQ(log.of("rcpt").size(), 5u) << "RCPT commands at the far side";
}

}  // namespace
}  // namespace ringpost::shaping
