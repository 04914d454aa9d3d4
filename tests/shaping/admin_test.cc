// The admin API: bearer-token guard (401 unauthorized / 403 admin_disabled), PUT throttle field
// validation, and suspend / resume / retry-now / bounce-all checked at the scripted server and in
// GET /v1/messages/{id}.
#include <algorithm>
#include <ctime>

#include "tests/shaping/shaping_fixture.h"

namespace ringpost::shaping {
namespace {

class Admin : public ShapingTest {};

bool contains_icase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

struct AdminCall {
  const char* method;
  std::string target;
  std::string body;
};

std::vector<AdminCall> every_admin_call(std::string_view d) {
  return {{"GET", "/v1/domains", ""},
          {"GET", fmt::format("/v1/domains/{}", d), ""},
          {"PUT", fmt::format("/v1/domains/{}/throttle", d), R"({"msgs_per_second":1})"},
          {"POST", fmt::format("/v1/domains/{}/suspend", d), R"({"for":"10m"})"},
          {"POST", fmt::format("/v1/domains/{}/resume", d), ""},
          {"POST", fmt::format("/v1/domains/{}/retry-now", d), ""},
          {"POST", fmt::format("/v1/domains/{}/bounce-all", d), R"({"reason":"must not happen"})"}};
}

TEST_F(Admin, RequiresTheToken) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"admin.test", smtp.route(), "max_connections = 7\n"}};
  // 35 failed authentications on purpose: the failed-authentication throttle (20 a minute,
  // tests/security) would answer the later ones 429 instead of the 401 this test checks.
  cfg.extra_toml = "[limits]\nauth_failures_per_minute = 0\n";
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));
  const uint16_t port = server_->port();

  for (const auto& c : every_admin_call("admin.test")) {
    for (std::string_view auth : {std::string_view{}, std::string_view{"Bearer wrong"},
                                  std::string_view{"Bearer secretx"}, std::string_view{"Basic c2VjcmV0"},
                                  std::string_view{"secret"}}) {
      auto r = admin_request(port, c.method, c.target, c.body, auth);
      ASSERT_TRUE(r) << c.method << " " << c.target << ": " << r.error();
      EXPECT_EQ(r->status, 401) << c.method << " " << c.target << " with Authorization {" << auth << "}: " << r->body;
      EXPECT_EQ(it::error_code_of(r->body).value_or("<none>"), "unauthorized")
          << c.method << " " << c.target << " with Authorization {" << auth << "}: " << r->body;
    }
  }

  // The token opens the API, and the refused calls above changed nothing.
  auto all = admin_->domains();
  ASSERT_TRUE(all) << all.error();
  auto it = std::find_if(all->begin(), all->end(), [](const DomainInfo& d) { return d.domain == "admin.test"; });
  ASSERT_NE(it, all->end()) << "admin.test not listed by GET /v1/domains";
  EXPECT_EQ(it->limits.max_connections, 7) << it->raw;
  auto one = admin_->domain("admin.test");
  ASSERT_TRUE(one) << one.error();
  EXPECT_EQ(one->domain, "admin.test");
  EXPECT_EQ(one->limits.max_connections, 7) << one->raw;
  EXPECT_FALSE(one->limits.msgs_per_second) << "a refused PUT throttle took effect: " << one->raw;
  EXPECT_FALSE(one->suspended_until) << "a refused POST suspend took effect: " << one->raw;
  EXPECT_FALSE(one->last_error) << one->raw;

  // The message API does not need the token.
  auto health = api_->http().get("/healthz");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);
  auto id = submit_one({"ok@admin.test"}, "no token needed");
  EXPECT_FALSE(id.empty());

  // Without admin_token in the config the admin API is off: 403 admin_disabled, token or not.
  server_.reset();
  auto cfg2 = base_config();
  cfg2.spool_dir = dir_ / "spool2";
  cfg2.domains = cfg.domains;
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg2, ""));
  for (const auto& c : every_admin_call("admin.test")) {
    for (std::string_view auth : {std::string_view{}, std::string_view{"Bearer secret"}}) {
      auto r = admin_request(server_->port(), c.method, c.target, c.body, auth);
      ASSERT_TRUE(r) << c.method << " " << c.target << ": " << r.error();
      EXPECT_EQ(r->status, 403) << c.method << " " << c.target << " with Authorization {" << auth << "}: " << r->body;
      EXPECT_EQ(it::error_code_of(r->body).value_or("<none>"), "admin_disabled")
          << c.method << " " << c.target << ": " << r->body;
    }
  }
}

TEST_F(Admin, ThrottleSetsEveryFieldAndRejectsBadOnes) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"thr.test", smtp.route(), "max_connections = 7\n"}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));

  struct Bad {
    const char* body;
    const char* field;
  };
  for (const Bad& b : {Bad{R"({"msgs_per_second":"fast"})", "msgs_per_second"},
                       Bad{R"({"msgs_per_second":-5})", "msgs_per_second"},
                       Bad{R"({"connections_per_second":"ten/s"})", "connections_per_second"},
                       Bad{R"({"max_connections":-1})", "max_connections"},
                       Bad{R"({"max_connections":"many"})", "max_connections"},
                       Bad{R"({"max_msgs_per_connection":0})", "max_msgs_per_connection"},
                       Bad{R"({"max_recipients_per_message":1.5})", "max_recipients_per_message"},
                       Bad{R"({"idle_timeout":"soon"})", "idle_timeout"},
                       Bad{R"({"max_connections":4,"bogus":1})", "bogus"}}) {
    auto r = admin_->call("PUT", "/v1/domains/thr.test/throttle", b.body);
    ASSERT_TRUE(r) << b.body << ": " << r.error();
    EXPECT_EQ(r->status, 400) << b.body << ": " << r->body;
    bool named = error_field_of(r->body) == b.field || contains_icase(error_message_of(r->body), b.field);
    EXPECT_TRUE(named) << b.body << ": the 400 should name " << b.field << ": " << r->body;
  }
  auto unchanged = admin_->domain("thr.test");
  ASSERT_TRUE(unchanged) << unchanged.error();
  EXPECT_EQ(unchanged->limits.max_connections, 7) << "a rejected PUT changed a limit: " << unchanged->raw;
  EXPECT_FALSE(unchanged->limits.msgs_per_second) << unchanged->raw;

  auto d = admin_->throttle("thr.test",
                            R"({"msgs_per_second":20,"connections_per_second":5,"max_connections":4,)"
                            R"("max_msgs_per_connection":50,"max_recipients_per_message":10,"idle_timeout":"15s"})");
  ASSERT_TRUE(d) << d.error();
  for (const DomainInfo* v : {&*d}) {
    EXPECT_EQ(v->domain, "thr.test");
    EXPECT_EQ(v->limits.msgs_per_second.value_or(-1), 20) << v->raw;
    EXPECT_EQ(v->limits.connections_per_second.value_or(-1), 5) << v->raw;
    EXPECT_EQ(v->limits.max_connections, 4) << v->raw;
    EXPECT_EQ(v->limits.max_msgs_per_connection, 50) << v->raw;
    EXPECT_EQ(v->limits.max_recipients_per_message.value_or(-1), 10) << v->raw;
    EXPECT_EQ(duration_ms(v->limits.idle_timeout).value_or(-1), 15000) << v->raw;
  }
  auto again = admin_->domain("thr.test");
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->limits.max_connections, 4) << again->raw;
  EXPECT_EQ(again->limits.msgs_per_second.value_or(-1), 20) << again->raw;

  // A subset leaves the other fields alone.
  auto sub = admin_->throttle("thr.test", R"({"max_connections":2})");
  ASSERT_TRUE(sub) << sub.error();
  EXPECT_EQ(sub->limits.max_connections, 2) << sub->raw;
  EXPECT_EQ(sub->limits.msgs_per_second.value_or(-1), 20) << sub->raw;
  EXPECT_EQ(duration_ms(sub->limits.idle_timeout).value_or(-1), 15000) << sub->raw;
}

TEST_F(Admin, SuspendResumeRetryNowBounceAll) {
  // later@: 451 once, then accepted. stuck@: 451 always.
  auto& smtp = start_smtp("dest", {"--reply", "RCPT:later@#1=451 4.3.0 Mailbox not ready", "--reply",
                                   "RCPT:stuck@=451 4.3.0 Mailbox not ready"});
  auto cfg = base_config();
  cfg.retry = {"1h"};  // nothing is retried by the schedule within this test
  cfg.domains = {{"adm.test", smtp.route()}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));
  std::string history;
  MessageStatus st;
  auto one_state = [](const char* state) {
    return [state](const MessageStatus& m) { return m.recipients.size() == 1 && m.recipients[0].state == state; };
  };

  // retry-now: a deferred recipient is tried at once instead of in an hour.
  auto later = submit_one({"later@adm.test"}, "later");
  ASSERT_FALSE(later.empty());
  ASSERT_TRUE(poll_status(later, 20s, one_state("deferred"), &st, &history)) << "never deferred:" << history;
  EXPECT_EQ(st.recipients[0].attempts, 1) << history;
  auto rn = admin_->post("adm.test", "retry-now");
  ASSERT_TRUE(rn) << rn.error();
  EXPECT_TRUE(poll_status(later, 20s, one_state("delivered"), &st, &history))
      << "retry-now did not deliver the deferred recipient (retry is 1h):" << history;
  EXPECT_EQ(st.recipients[0].attempts, 2) << history;
  EXPECT_EQ(log_of(smtp).copies_of("later@adm.test"), 1);

  // suspend {"until": RFC 3339} is shown in suspended_until; resume clears it.
  {
    const auto until = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + std::chrono::hours(1));
    std::tm tm{};
    ::gmtime_r(&until, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    auto s1 = admin_->post("adm.test", "suspend", fmt::format(R"({{"until":"{}"}})", buf));
    ASSERT_TRUE(s1) << s1.error();
    auto v = admin_->domain("adm.test");
    ASSERT_TRUE(v) << v.error();
    ASSERT_TRUE(v->suspended_until) << "suspend until " << buf << ": " << v->raw;
    EXPECT_EQ(v->suspended_until->substr(0, 13), std::string(buf).substr(0, 13)) << "asked until " << buf << ": " << v->raw;
    ASSERT_TRUE(admin_->post("adm.test", "resume"));
  }

  // suspend: nothing goes out while suspended.
  auto sus = admin_->post("adm.test", "suspend", R"({"for":"10m"})");
  ASSERT_TRUE(sus) << sus.error();
  auto view = admin_->domain("adm.test");
  ASSERT_TRUE(view) << view.error();
  ASSERT_TRUE(view->suspended_until) << view->raw;
  // No wait before submitting: the 200 comes once every shard has answered, and each takes the
  // published change before it answers (Shard::run_commands).
  auto held = submit_one({"held@adm.test"}, "held");
  ASSERT_FALSE(held.empty());
  // The barrier: the held recipient's first change of state is the site's decision about it.
  // Held, it shows deferred at once, with no attempt, until the suspension's end; a regression
  // shows delivered (or an attempt) here instead. That it stays held, with no RCPT, for the rest
  // of the suspension is checked on the shard's clock in tests/delivery
  // (ShardSuspension.SuspendedDomainGetsNoRcptUntilResumedThenGoesOutAtOnce).
  ASSERT_TRUE(poll_status(held, 20s, [](const MessageStatus& m) {
    return m.recipients.size() == 1 && m.recipients[0].state != "queued";
  }, &st, &history)) << "the site never decided about the held recipient:" << history;
  {
    const auto& r = st.recipients.at(0);
    ASSERT_EQ(r.state, "deferred") << "not held by the suspension:" << history;
    EXPECT_EQ(r.attempts, 0) << "a hold is not an attempt:" << history;
    ASSERT_TRUE(r.last_reply) << history;
    EXPECT_TRUE(contains_icase(r.last_reply->text, "suspended by an operator")) << history;
    EXPECT_EQ(r.next_attempt_at, view->suspended_until) << "held until the suspension's end:" << history;
  }
  EXPECT_EQ(log_of(smtp).rcpt_commands_for("held@adm.test"), 0) << "delivery attempted while suspended";

  // resume: it goes out.
  auto res = admin_->post("adm.test", "resume");
  ASSERT_TRUE(res) << res.error();
  // Shown within 1 s (GET right after the 200 may still show the shard's previous view).
  std::string last_view;
  bool cleared = it::wait_until(1s, 50ms, [&] {
    auto v = admin_->domain("adm.test");
    last_view = v ? v->raw : v.error();
    return v && !v->suspended_until;
  });
  EXPECT_TRUE(cleared) << "suspended_until still set 1 s after resume: " << last_view;
  EXPECT_TRUE(poll_status(held, 20s, one_state("delivered"), &st, &history)) << "not delivered after resume:" << history;
  EXPECT_EQ(log_of(smtp).copies_of("held@adm.test"), 1);

  // bounce-all: a deferred and two queued recipients become bounced with a 5.x.x reply naming the reason.
  auto stuck = submit_one({"stuck@adm.test"}, "stuck");
  ASSERT_FALSE(stuck.empty());
  ASSERT_TRUE(poll_status(stuck, 20s, one_state("deferred"), &st, &history)) << "never deferred:" << history;
  ASSERT_TRUE(admin_->post("adm.test", "suspend"));  // keep the next two queued
  auto q1 = submit_one({"q1@adm.test"}, "q1");
  auto q2 = submit_one({"q2@adm.test"}, "q2");
  ASSERT_FALSE(q1.empty() || q2.empty());
  // Held at the site (shown deferred by the suspension) before bounce-all: the bounce must find
  // them there, not only as they arrive.
  for (const auto& id : {q1, q2}) {
    std::string h;
    ASSERT_TRUE(poll_status(id, 20s, [](const MessageStatus& m) {
      return m.recipients.size() == 1 && m.recipients[0].state != "queued";
    }, &st, &h)) << id << " never reached its site:" << h;
    ASSERT_EQ(st.recipients[0].state, "deferred") << id << " not held by the suspension:" << h;
    EXPECT_EQ(st.recipients[0].attempts, 0) << h;
  }
  const std::string reason = "shaping test: domain retired";
  auto ba = admin_->post("adm.test", "bounce-all", fmt::format(R"({{"reason":{}}})", it::json_quote(reason)));
  ASSERT_TRUE(ba) << ba.error();
  for (const auto& id : {stuck, q1, q2}) {
    std::string h;
    ASSERT_TRUE(poll_status(id, 10s, one_state("bounced"), &st, &h)) << id << " not bounced by bounce-all:" << h;
    const auto& r = st.recipients[0];
    ASSERT_TRUE(r.last_reply) << h;
    EXPECT_EQ(r.last_reply->code / 100, 5) << h;
    EXPECT_EQ(r.last_reply->enhanced.substr(0, 2), "5.") << h;
    EXPECT_TRUE(contains_icase(r.last_reply->text, reason)) << "the reply should carry the reason:" << h;
  }
  view = admin_->domain("adm.test");
  ASSERT_TRUE(view) << view.error();
  EXPECT_EQ(view->queued, 0) << view->raw;

  // After resume the domain works, and the bounced recipients never go out.
  ASSERT_TRUE(admin_->post("adm.test", "resume"));
  auto after = submit_one({"after@adm.test"}, "after");
  ASSERT_FALSE(after.empty());
  EXPECT_TRUE(poll_status(after, 20s, one_state("delivered"), &st, &history)) << "not delivered:" << history;
  auto log = log_of(smtp);
  EXPECT_EQ(log.rcpt_commands_for("q1@adm.test"), 0);
  EXPECT_EQ(log.rcpt_commands_for("q2@adm.test"), 0);
  EXPECT_EQ(log.rcpt_commands_for("stuck@adm.test"), 1) << "a bounced recipient was tried again";
  for (const auto& id : {stuck, q1, q2}) {
    auto s = api_->status(id);
    ASSERT_TRUE(s) << s.error();
    EXPECT_EQ(s->recipients.at(0).state, "bounced") << it::summarize(*s);
  }
}

// Issue 20, defect 4: two domains share one site (a static route to the same host:port). An
// operator's suspension of one holds that domain's mail only (shown deferred, with the reason and
// next_attempt_at), the other's keeps flowing over the same site; resume releases it. A limit of
// either domain is in force for the shared site (the strictest). An admin action that does
// nothing answers 409 with an error code, never 200.
TEST_F(Admin, SuspendingOneDomainOfASharedSiteHoldsOnlyThatDomain) {
  auto& smtp = start_smtp("dest");
  auto cfg = base_config();
  cfg.domains = {{"one.test", smtp.route()}, {"two.test", smtp.route()}};
  ASSERT_NO_FATAL_FAILURE(start_ringpost(cfg, kAdminToml));
  auto delivered = [](const MessageStatus& m) { return m.recipients.size() == 1 && m.recipients[0].state == "delivered"; };

  // Both domains on one site.
  MessageStatus st;
  std::string history;
  auto first = submit_one({"first@two.test"}, "first");
  ASSERT_TRUE(poll_status(first, 20s, delivered, &st, &history)) << history;
  ASSERT_TRUE(admin_->post("one.test", "suspend", R"({"for":"10m"})"));
  auto first_one = submit_one({"first@one.test"}, "first one");
  ASSERT_FALSE(first_one.empty());

  const int kN = 3;
  std::vector<std::string> held, flowing;
  for (int i = 0; i < kN; ++i) {
    held.push_back(submit_one({fmt::format("h{}@one.test", i)}, "held"));
    flowing.push_back(submit_one({fmt::format("f{}@two.test", i)}, "flowing"));
  }
  held.push_back(first_one);
  for (const auto& id : flowing) {
    std::string h;
    ASSERT_TRUE(poll_status(id, 20s, delivered, &st, &h)) << "two.test stopped with one.test: " << h;
  }
  auto v1 = admin_->domain("one.test");
  auto v2 = admin_->domain("two.test");
  ASSERT_TRUE(v1 && v2) << (v1 ? v2.error() : v1.error());
  ASSERT_TRUE(v1->site && v2->site) << v1->raw << "\n" << v2->raw;
  EXPECT_EQ(*v1->site, *v2->site) << "the two domains should share a site";
  EXPECT_TRUE(v1->suspended_until) << v1->raw;
  EXPECT_FALSE(v2->suspended_until) << "the other domain is not suspended: " << v2->raw;
  for (const auto& id : held) {
    std::string history;
    ASSERT_TRUE(poll_status(id, 5s, [](const MessageStatus& m) {
      const auto& r = m.recipients.at(0);
      return r.state == "deferred" && r.last_reply && r.next_attempt_at;
    }, &st, &history)) << "a held recipient does not show deferred with a reply and next_attempt_at:" << history;
    const auto& r = st.recipients.at(0);
    EXPECT_EQ(r.attempts, 0) << history;
    EXPECT_TRUE(contains_icase(r.last_reply->text, "suspended by an operator")) << history;
    EXPECT_EQ(log_of(smtp).rcpt_commands_for(r.address), 0) << "a suspended domain's recipient went out";
  }

  // A limit of one domain is in force for the site the other shares: the strictest applies.
  auto thr = admin_->throttle("one.test", R"({"max_connections":3})");
  ASSERT_TRUE(thr) << thr.error();
  auto v2t = admin_->domain("two.test");
  ASSERT_TRUE(v2t) << v2t.error();
  EXPECT_EQ(v2t->limits.max_connections, 3) << "one.test's limit is not in force for the shared site: " << v2t->raw;

  // Resume: the held mail goes out, each once.
  ASSERT_TRUE(admin_->post("one.test", "resume"));
  for (const auto& id : held) {
    std::string h;
    ASSERT_TRUE(poll_status(id, 20s, delivered, &st, &h)) << "not delivered after resume: " << h;
  }
  auto log = log_of(smtp);
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(log.copies_of(fmt::format("h{}@one.test", i)), 1);
    EXPECT_EQ(log.copies_of(fmt::format("f{}@two.test", i)), 1);
  }

  // Actions that do nothing: 409 and an error object, not 200.
  struct NoOp {
    std::string action, body, code;
  };
  for (const NoOp& n : {NoOp{"resume", "", "not_suspended"}, NoOp{"retry-now", "", "nothing_to_retry"},
                        NoOp{"bounce-all", R"({"reason":"nothing here"})", "nothing_to_bounce"}}) {
    auto r = admin_->call("POST", fmt::format("/v1/domains/one.test/{}", n.action), n.body);
    ASSERT_TRUE(r) << n.action << ": " << r.error();
    EXPECT_EQ(r->status, 409) << n.action << ": " << r->body;
    EXPECT_EQ(it::error_code_of(r->body).value_or("<none>"), n.code) << n.action << ": " << r->body;
    EXPECT_FALSE(error_message_of(r->body).empty()) << n.action << ": " << r->body;
  }
}

}  // namespace
}  // namespace ringpost::shaping
