// See delivery_barrier.h for why a sentinel plus an idle site orders what a sleep only waited for.
#include "tests/integration/delivery_barrier.h"

#include <atomic>

#include <fmt/format.h>
#include <simdjson.h>

#include "tests/integration/ringpost_api.h"
#include "tests/integration/wait.h"

namespace ringpost::it {

::testing::AssertionResult settle_site(uint16_t http_port, const std::string& domain,
                                       std::chrono::milliseconds timeout) {
  using namespace std::chrono_literals;
  static std::atomic<int> serial{0};
  RingpostApi api(http_port);
  const std::string rcpt = fmt::format("sentinel-{}@{}", serial.fetch_add(1), domain);
  auto id = api.submit({"barrier@example.test", {rcpt}, "barrier", "ordering sentinel"});
  if (!id) return ::testing::AssertionFailure() << "barrier: submitting the sentinel: " << id.error();

  std::string last;
  const bool delivered = wait_until(timeout, 20ms, [&] {
    auto st = api.status(*id);
    if (!st) return last = st.error(), false;
    last = summarize(*st);
    return st->recipients.size() == 1 && st->recipients[0].state == "delivered";
  });
  if (!delivered) return ::testing::AssertionFailure() << "barrier: sentinel " << rcpt << " not delivered: " << last;

  HttpClient admin(http_port);
  admin.set_header("Authorization", fmt::format("Bearer {}", kBarrierAdminToken));
  const bool idle = wait_until(timeout, 20ms, [&] {
    auto r = admin.get("/v1/domains/" + domain);
    if (!r) return last = r.error(), false;
    last = r->body;
    if (r->status != 200) return false;
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    int64_t queued = -1, in_flight = -1;
    if (p.parse(r->body).get(doc) || doc["queued"].get(queued) || doc["in_flight"].get(in_flight)) return false;
    return queued == 0 && in_flight == 0;
  });
  if (!idle) return ::testing::AssertionFailure() << "barrier: site of " << domain << " never idle: " << last;
  return ::testing::AssertionSuccess();
}

}  // namespace ringpost::it
