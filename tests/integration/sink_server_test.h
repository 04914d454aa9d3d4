// The set-up most API tests share: a fresh Postfix smtp-sink, and `ringpost serve` with the
// domain sink.test routed to it; optionally down.test routed to a spare port nobody listens
// on, for deliveries that must fail. Owned by the test thread; both processes are reaped with the fixture.
#pragma once

#include <optional>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_server.h"
#include "tests/integration/server_test.h"
#include "tests/integration/smtp_sink.h"

namespace ringpost::it {

class SinkServerTest : public ServerTest {
 protected:
  // `cfg`: anything but http_port; sink.test (and down.test) are added to its domains.
  void start_with_sink(ServerConfig cfg = {}, bool with_down_domain = false) {
    auto ports = pick_free_ports(3);
    ASSERT_TRUE(ports);
    if (with_down_domain) cfg.domains.push_back({"down.test", fmt::format("127.0.0.1:{}", (*ports)[2])});
    auto s = SmtpSink::start(dir_.path() / "sink", (*ports)[1]);
    ASSERT_TRUE(s) << s.error();
    sink.emplace(std::move(*s));
    cfg.http_port = (*ports)[0];
    cfg.domains.push_back({"sink.test", fmt::format("127.0.0.1:{}", sink->port())});
    auto r = RingpostServer::start(dir_.path(), cfg);
    ASSERT_TRUE(r) << r.error();
    server.emplace(std::move(*r));
  }

  std::optional<SmtpSink> sink;
  std::optional<RingpostServer> server;
};

}  // namespace ringpost::it
