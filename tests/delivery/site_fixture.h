// A Site on a FakeHost over a FakeNetwork, with bench/sink answering on the endpoints a test
// names: the common set-up of the tests in this folder.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/delivery/fake_host.h"

namespace ringpost::engine::testing {

class SiteTest : public ::testing::Test {
 protected:
  FakeNetwork net;
  FakeHost host{net};
  SinkOptions sink;          // what the servers listening through serve() offer
  sink::SinkCounters seen;   // what they received, over every connection
  std::unique_ptr<Site> site;

  // A policy with the default retry schedule and timeouts, its limits to be set by the test.
  static DeliveryPolicy policy() { return DeliveryPolicy{}; }
  void serve(const Endpoint& ep) { net.listen(ep, SinkServer::factory(sink, &seen)); }
  Site& make_site(const DeliveryPolicy& p, std::vector<Endpoint> eps, const std::string& domain = "dest.test") {
    site = std::make_unique<Site>(host, route_of(std::move(eps)), "mx:test", domain, p, host.now_ms);
    return *site;
  }
  void enqueue(const std::string& domain, int n, const std::string& prefix = "m") {
    for (int i = 0; i < n; ++i) site->enqueue(mail_to(domain, prefix + std::to_string(i)));
  }
  std::size_t delivered() const { return host.count(queue::RecipientState::delivered); }
};

}  // namespace ringpost::engine::testing
