// --server URL parsing and path escaping (the network side is tested against a real server in
// tests/integration/ctl_test.cc).
#include "engine/ops/ctl/admin_client.h"

#include <gtest/gtest.h>

namespace ringpost::ctl {
namespace {

TEST(ServerUrl, HostAndPort) {
  auto u = parse_server_url("http://127.0.0.1:8025");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8025);
  auto v = parse_server_url("http://mta.internal/");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->host, "mta.internal");
  EXPECT_EQ(v->port, 80);
}

TEST(ServerUrl, RefusesWhatItCannotSpeak) {
  for (const char* bad : {"https://x:1", "127.0.0.1:8025", "http://x:0", "http://x:99999", "http://x:8o",
                          "http://:80", "http://x/v1"}) {
    auto u = parse_server_url(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_NE(u.error().find(bad), std::string::npos) << u.error();
    }
  }
}

TEST(PathSegment, EscapesWhatCannotBeInAPathSegment) {
  EXPECT_EQ(path_segment("Example.COM"), "Example.COM");
  EXPECT_EQ(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
  EXPECT_EQ(path_segment("1795645000123.4"), "1795645000123.4");
}

}  // namespace
}  // namespace ringpost::ctl
