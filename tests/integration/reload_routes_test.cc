// SIGHUP re-reads [domains] routes: mail accepted after the reload goes where the new file
// says, without a restart (docs/operating.md).
#include <csignal>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tests/integration/free_port.h"
#include "tests/integration/ringpost_api.h"
#include "tests/integration/sink_server_test.h"
#include "tests/integration/wait.h"

namespace ringpost::it {
namespace {

using namespace std::chrono_literals;

class ReloadRoutes : public SinkServerTest {};

TEST_F(ReloadRoutes, SighupSendsNewMailToTheNewRoute) {
  ASSERT_NO_FATAL_FAILURE(start_with_sink());
  auto port = pick_free_ports(1);
  ASSERT_TRUE(port);
  auto other = SmtpSink::start(dir_.path() / "other-sink", (*port)[0]);
  ASSERT_TRUE(other) << other.error();

  RingpostApi api(server->port());
  ASSERT_TRUE(api.submit({"a@example.test", {"before@sink.test"}, "before", "to the first sink"}));
  ASSERT_TRUE(wait_until(20s, 50ms, [&] { return sink->message_count() == 1; })) << sink->describe();

  ServerConfig moved = server->config();
  for (DomainRoute& d : moved.domains)
    if (d.domain == "sink.test") d.route = fmt::format("127.0.0.1:{}", other->port());
  std::ofstream(dir_.path() / "ringpost.toml") << render_toml(moved);
  ASSERT_EQ(::kill(server->process().pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_until(10s, 20ms, [&] {
    return server->process().output().find("reloaded delivery limits") != std::string::npos;
  })) << server->process().output_tail();

  ASSERT_TRUE(api.submit({"a@example.test", {"after@sink.test"}, "after", "to the second sink"}));
  ASSERT_TRUE(wait_until(20s, 50ms, [&] { return other->message_count() == 1; }))
      << "the new route was not used; first sink: " << sink->describe();
  EXPECT_EQ(sink->message_count(), 1) << "mail after the reload still went to the old route";
  ASSERT_EQ(other->messages().size(), 1u);
  EXPECT_EQ(other->messages()[0].rcpts, std::vector<std::string>{"after@sink.test"});
}

}  // namespace
}  // namespace ringpost::it
