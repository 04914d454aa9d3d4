// sender_refusal: the envelope, every From mailbox and Sender must be within allowed_from.
#include "engine/security/sender_policy.h"

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

ApiKey key(std::vector<std::string> allowed) {
  ApiKey k;
  k.name = "alpha";
  k.allowed_from = std::move(allowed);
  return k;
}

api::SubmitMessage msg(std::string from, std::vector<std::string> header_from, std::string sender = {}, bool raw = true) {
  api::SubmitMessage m;
  m.from = std::move(from);
  m.header_from_domains = std::move(header_from);
  m.header_sender_domain = std::move(sender);
  if (raw) m.raw = "x";
  return m;
}

TEST(SenderPolicy, EnvelopeAndHeaderDomains) {
  const ApiKey k = key({"example.test", "*.agents.example.test"});
  EXPECT_FALSE(sender_refusal(k, msg("a@example.test", {"example.test"}), false, 0));
  EXPECT_FALSE(sender_refusal(k, msg("a@x.agents.example.test", {"y.agents.example.test"}, "example.test"), false, 0));
  auto env = sender_refusal(k, msg("a@other.test", {"example.test"}), false, 0);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->http_status, 403);
  EXPECT_EQ(env->code, "sender_not_allowed");
  EXPECT_EQ(env->field, "from");
  auto from = sender_refusal(k, msg("a@example.test", {"example.test", "other.test"}), true, 3);
  ASSERT_TRUE(from);
  EXPECT_EQ(from->field, "messages[3].raw");
  EXPECT_NE(from->message.find("From header"), std::string::npos) << from->message;
  auto sender = sender_refusal(k, msg("a@example.test", {"example.test"}, "other.test"), false, 0);
  ASSERT_TRUE(sender);
  EXPECT_NE(sender->message.find("Sender header"), std::string::npos) << sender->message;
  // "*.agents.example.test" covers sub-domains only, not agents.example.test itself.
  EXPECT_TRUE(sender_refusal(k, msg("a@example.test", {"agents.example.test"}), false, 0));
}

TEST(SenderPolicy, KeyWithoutAllowedFromMaySendAsAnyDomain) {
  EXPECT_FALSE(sender_refusal(key({}), msg("a@any.test", {"other.test"}, "third.test"), false, 0));
}

}  // namespace
}  // namespace ringpost::engine
