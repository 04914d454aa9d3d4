// See fake_host.h.
#include "tests/delivery/fake_host.h"

#include <arpa/inet.h>

#include <algorithm>

#include <gtest/gtest.h>

namespace ringpost::engine::testing {

std::size_t FakeHost::count(queue::RecipientState s, bool hold) const {
  return static_cast<std::size_t>(
      std::count_if(reports.begin(), reports.end(), [&](const Report& r) { return r.state == s && r.hold == hold; }));
}

TlsProfile FakeHost::tls_profile(const DeliveryPolicy&) {
  if (!tls_ctx) return TlsProfile{};
  return TlsProfile{tls_ctx->get(), &sessions_, false};
}

void FakeHost::report(const std::shared_ptr<const SpooledMessage>& msg, uint32_t rcpt, queue::RecipientState state,
                      uint32_t attempts, const smtp::Reply& reply, const std::string&, const std::string& host,
                      const AttemptTrace& trace) {
  reports.push_back(Report{msg->id, rcpt, state, attempts, reply, host, trace, now_ms});
}

void FakeHost::report_hold(const Delivery& d, const smtp::Reply& why, int64_t until_ms, const std::string&) {
  for (const RecipientRef& r : d.recipients) {
    reports.push_back(Report{d.msg->id, r.index, queue::RecipientState::deferred, r.attempts, why, {}, {}, now_ms});
    reports.back().hold = true;
    reports.back().until_ms = until_ms;
  }
}

void FakeHost::schedule_retry(Delivery d, int64_t at_ms, RoutePtr) { retries.push_back({d.msg->id, at_ms}); }

void FakeHost::defer(Delivery d, const smtp::Reply& why, const queue::RetryPolicy& retry, const std::string& site,
                     RoutePtr route) {
  defers.push_back({d.msg->id, why});
  Delivery again{d.msg, {}, nullptr};
  int64_t again_at = 0;
  for (const RecipientRef& r : d.recipients) defer_recipient(r, why, retry, again, again_at, site);
  if (!again.recipients.empty()) schedule_retry(std::move(again), again_at, std::move(route));
}

void FakeHost::defer_recipient(const RecipientRef& r, const smtp::Reply& why, const queue::RetryPolicy& retry,
                               Delivery& again, int64_t& again_at, const std::string& site, const std::string& host,
                               const AttemptTrace& trace) {
  const uint32_t attempts = r.attempts + 1;
  auto at = retry.next_attempt_at_ms(attempts, again.msg->created_at_ms, now_ms, 0.0);
  if (!at) return report(again.msg, r.index, queue::RecipientState::expired, attempts, why, site, host, trace);
  if (again.recipients.empty()) again_at = *at;
  report(again.msg, r.index, queue::RecipientState::deferred, attempts, why, site, host, trace);
  again.recipients.push_back({r.index, attempts});
}

void FakeHost::read_body(const BodyRef& at, std::span<char> into, Completion& done) {
  ++body_reads;
  EXPECT_EQ(at.file->path, "fake-segment");
  const std::string_view body = kBody.substr(at.offset, at.size);
  std::copy(body.begin(), body.end(), into.begin());
  net_.post(done, static_cast<int>(body.size()));
}

void FakeHost::visit(Site& s) {
  s.note_activity(now_ms);
  s.pump(now_ms);
  s.reap();
}

void FakeHost::settle(Site& s) {
  s.tick(now_ms);
  visit(s);
  dirty_.clear();
  // A conversation with the fake server takes a few dozen rounds; thousands means a loop.
  for (int rounds = 0; net_.pending(); ++rounds) {
    ASSERT_LT(rounds, 100'000) << "the site and the fake network never settle";
    net_.round();
    std::set<Site*> dirty = std::move(dirty_);
    dirty_.clear();
    for (Site* d : dirty) visit(*d);
  }
}

Delivery mail_to(const std::string& domain, const std::string& id) {
  auto msg = std::make_shared<SpooledMessage>();
  msg->id = id;
  msg->from = "sender@origin.test";
  msg->created_at_ms = 1'700'000'000'000;
  msg->recipients.push_back("rcpt@" + domain);
  static const auto segment = std::make_shared<const SegmentFile>(1, "fake-segment", -1);
  msg->body_at.store(std::make_shared<const BodyRef>(BodyRef{segment, 0, static_cast<uint32_t>(kBody.size())}));
  return Delivery{std::move(msg), {RecipientRef{0, 0}}, std::make_shared<const std::string>(kBody)};
}

Endpoint endpoint(const std::string& host, uint8_t last_octet, uint16_t pref) {
  in_addr a{};
  inet_pton(AF_INET, ("192.0.2." + std::to_string(last_octet)).c_str(), &a);
  Endpoint ep = make_endpoint(AF_INET, &a, 25, host, true);
  ep.preference = pref;
  return ep;
}

RoutePtr route_of(std::vector<Endpoint> eps, std::string site) {
  auto r = std::make_shared<Route>();
  r->site = std::move(site);
  r->endpoints = std::move(eps);
  r->expires_ms = INT64_MAX;
  return r;
}

}  // namespace ringpost::engine::testing
