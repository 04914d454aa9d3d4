// Config loading: embedded defaults, the README example, per-domain inheritance, and errors that
// name the source, the line and the dotted key. Expected values are literals, never Config{}:
// comparing against the struct's own initialisers would pass whatever the defaults became.
#include "engine/config/config.h"

#include <gtest/gtest.h>

namespace ringpost::engine {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

::testing::AssertionResult starts_with(const std::string& s, std::string_view prefix) {
  if (std::string_view(s).starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << s << "' does not start with '" << prefix << "'";
}

::testing::AssertionResult contains(const std::string& s, std::string_view part) {
  if (s.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << s << "' does not contain '" << part << "'";
}

Config load_ok(std::string_view toml) {
  auto cfg = load_config_string(toml, "ringpost.toml");
  EXPECT_TRUE(cfg.has_value()) << (cfg ? "" : cfg.error());
  return cfg ? std::move(*cfg) : Config{};
}

std::string load_error(std::string_view toml) {
  auto cfg = load_config_string(toml, "ringpost.toml");
  EXPECT_FALSE(cfg.has_value()) << "expected an error for:\n" << toml;
  return cfg ? std::string() : cfg.error();
}

std::vector<milliseconds> ms(std::initializer_list<milliseconds> v) { return v; }

TEST(Config, EmptyTextYieldsEmbeddedDefaults) {
  Config c = load_ok("");
  EXPECT_EQ(c.http_listen, "127.0.0.1:8025");
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.spool_dir, "./var/spool");
  EXPECT_EQ(c.hostname, "mta.example.test");
  // 25 MiB of content, as base64 with line breaks inside JSON, still fits (docs/api.md "Limits").
  EXPECT_EQ(c.max_request_bytes, 40370176u);
  EXPECT_EQ(c.api.max_message_bytes, 26214400u);
  EXPECT_EQ(c.api.max_recipients, 1000u);
  EXPECT_EQ(c.api.max_batch, 1000u);
  EXPECT_TRUE(c.dns.servers.empty());
  EXPECT_TRUE(c.domains.empty());
  const DeliveryPolicy& d = c.defaults;
  EXPECT_EQ(d.max_connections, 20u);
  EXPECT_EQ(d.max_msgs_per_connection, 100u);
  EXPECT_EQ(d.retry, ms({minutes(1), minutes(5), minutes(15), minutes(30), hours(1), hours(2), hours(4)}));
  EXPECT_EQ(d.max_age, hours(120));
  EXPECT_EQ(d.timeouts.connect, seconds(30));
  EXPECT_EQ(d.timeouts.command, minutes(5));
  // RFC 5321 §4.5.3.2 values.
  EXPECT_EQ(d.timeouts.greeting, minutes(5));
  EXPECT_EQ(d.timeouts.mail, minutes(5));
  EXPECT_EQ(d.timeouts.rcpt, minutes(5));
  EXPECT_EQ(d.timeouts.data, minutes(2));
  EXPECT_EQ(d.timeouts.data_block, minutes(3));
  EXPECT_EQ(d.timeouts.data_end, minutes(10));
  EXPECT_EQ(d.tls, TlsPolicy::opportunistic);
  EXPECT_TRUE(d.chunking);
  EXPECT_EQ(d.idle_timeout, seconds(30));
  EXPECT_FALSE(d.route.has_value());
  EXPECT_EQ(d.mx_port, 25);
  // threads = 0 means one shard per core, never zero shards.
  EXPECT_GE(c.shard_count(), 1u);
}

TEST(Config, CommentsOnlyFileIsDefaults) {
  Config c = load_ok("# nothing configured yet\n\n");
  EXPECT_EQ(c.http_listen, "127.0.0.1:8025");
  EXPECT_EQ(c.defaults.max_connections, 20u);
}

// The README example, with every value changed from its default so a key that is silently
// ignored shows up as a mismatch.
constexpr std::string_view kFullExample = R"toml([server]
http_listen = "127.0.0.1:9025"
threads = 3                    # 0 = one shard per core
spool_dir = "/var/lib/ringpost/spool"
hostname = "mta.ringpost.test"  # EHLO name, Message-ID domain
max_request_bytes = 2097152

[api]
max_message_bytes = 1048576
max_recipients_per_message = 20
max_batch_messages = 30

[dns]
servers = ["127.0.0.1:5353", "[::1]:53"]

[defaults]
max_connections = 7            # per destination domain
max_msgs_per_connection = 250
retry = ["30s","2m","1h30m"]   # the last delay repeats
max_age = "2d"                 # then the recipient expires
connect_timeout = "10s"
command_timeout = "90"
idle_timeout = "250ms"
mx_port = 2525

[domains."example.test"]       # any [defaults] key, plus a static route
route = "127.0.0.1:2526"
)toml";

TEST(Config, EveryKeyOfTheReadmeExampleParses) {
  Config c = load_ok(kFullExample);
  EXPECT_EQ(c.http_listen, "127.0.0.1:9025");
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.shard_count(), 3u);
  EXPECT_EQ(c.spool_dir, "/var/lib/ringpost/spool");
  EXPECT_EQ(c.hostname, "mta.ringpost.test");
  EXPECT_EQ(c.max_request_bytes, 2097152u);
  EXPECT_EQ(c.api.max_message_bytes, 1048576u);
  EXPECT_EQ(c.api.max_recipients, 20u);
  EXPECT_EQ(c.api.max_batch, 30u);

  ASSERT_EQ(c.dns.servers.size(), 2u);
  EXPECT_EQ(c.dns.servers[0].host, "127.0.0.1");
  EXPECT_EQ(c.dns.servers[0].port, 5353);
  EXPECT_EQ(c.dns.servers[1].host, "::1");
  EXPECT_EQ(c.dns.servers[1].port, 53);

  const DeliveryPolicy& d = c.defaults;
  EXPECT_EQ(d.max_connections, 7u);
  EXPECT_EQ(d.max_msgs_per_connection, 250u);
  EXPECT_EQ(d.retry, ms({seconds(30), minutes(2), minutes(90)}));
  EXPECT_EQ(d.max_age, hours(48));
  EXPECT_EQ(d.timeouts.connect, seconds(10));
  EXPECT_EQ(d.timeouts.command, seconds(90));
  EXPECT_EQ(d.idle_timeout, milliseconds(250));
  EXPECT_EQ(d.mx_port, 2525);
  EXPECT_FALSE(d.route.has_value());

  ASSERT_EQ(c.domains.size(), 1u);
  ASSERT_TRUE(c.domains.count("example.test"));
  const DeliveryPolicy& e = c.policy_for("example.test");
  ASSERT_TRUE(e.route.has_value());
  EXPECT_EQ(e.route->host, "127.0.0.1");
  EXPECT_EQ(e.route->port, 2526);
  // Everything the section does not name comes from [defaults], not from the built-ins.
  EXPECT_EQ(e.max_connections, 7u);
  EXPECT_EQ(e.retry, ms({seconds(30), minutes(2), minutes(90)}));
}

TEST(Config, DomainSectionInheritsDefaultsAndOverridesOnlyWhatItNames) {
  // The domain section comes first in the file: inheritance must not depend on order.
  Config c = load_ok(R"toml([domains."slow.test"]
max_connections = 2
idle_timeout = "5s"

[domains."Mixed.Case.TEST"]
route = "10.0.0.1:25"

[defaults]
max_connections = 50
max_msgs_per_connection = 10
retry = ["1m"]
)toml");
  ASSERT_EQ(c.domains.size(), 2u);

  const DeliveryPolicy& slow = c.policy_for("slow.test");
  EXPECT_EQ(slow.max_connections, 2u);                 // overridden
  EXPECT_EQ(slow.idle_timeout, seconds(5));            // overridden
  EXPECT_EQ(slow.max_msgs_per_connection, 10u);        // from [defaults]
  EXPECT_EQ(slow.retry, ms({minutes(1)}));             // from [defaults]
  EXPECT_EQ(slow.max_age, hours(120));                 // built-in, since [defaults] does not name it
  EXPECT_FALSE(slow.route.has_value());

  // Domain keys are stored lower-case, the form domain_of() produces.
  EXPECT_EQ(c.domains.count("Mixed.Case.TEST"), 0u);
  const DeliveryPolicy& mixed = c.policy_for("mixed.case.test");
  ASSERT_TRUE(mixed.route.has_value());
  EXPECT_EQ(mixed.route->host, "10.0.0.1");
  EXPECT_EQ(mixed.max_connections, 50u);

  // A domain without a section gets [defaults] itself.
  const DeliveryPolicy& other = c.policy_for("other.test");
  EXPECT_EQ(&other, &c.defaults);
  EXPECT_EQ(other.max_connections, 50u);
  // The defaults are not changed by what a domain overrides.
  EXPECT_EQ(c.defaults.idle_timeout, seconds(30));
}

// ---- errors: source name, line, dotted key ----

// SIGTERM's drain bound (docs/operating.md): 30 s unless set; a bad value names line and key.
TEST(Config, DrainTimeoutDefaultAndOverride) {
  EXPECT_EQ(load_ok("").drain_timeout, milliseconds(30000));
  EXPECT_EQ(load_ok("[server]\ndrain_timeout = \"90s\"\n").drain_timeout, milliseconds(90000));
  EXPECT_EQ(load_ok("[server]\ndrain_timeout = \"0s\"\n").drain_timeout, milliseconds(0));
  std::string err = load_error("[server]\nthreads = 1\ndrain_timeout = \"soon\"\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'server.drain_timeout'")) << err;
  err = load_error("[server]\ndrain_timeout = 30\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:2: key 'server.drain_timeout'")) << err;
}

TEST(Config, SpoolWebhookHoldDefaultAndOverride) {
  EXPECT_EQ(load_ok("").spool.webhook_hold, milliseconds(24 * 3600 * 1000));
  EXPECT_EQ(load_ok("[spool]\nwebhook_hold = \"2h\"\n").spool.webhook_hold, milliseconds(2 * 3600 * 1000));
  const std::string err = load_error("[spool]\nsegment_bytes = 65536\nwebhook_hold = \"later\"\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'spool.webhook_hold'")) << err;
}

TEST(ConfigErrors, BadRetryItemNamesLineAndKey) {
  std::string err = load_error(R"toml([server]
threads = 2

[defaults]
max_connections = 5
# the next line has a bad unit
retry = ["5m", "5x"]
)toml");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:7: key 'defaults.retry'"));
  EXPECT_TRUE(contains(err, "5x"));
}

TEST(ConfigErrors, BadRetryItemInMultiLineArrayNamesTheItemsLine) {
  std::string err = load_error(R"toml([defaults]
retry = [
  "1m",
  "5m",
  "soon",
]
)toml");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:5: key 'defaults.retry'"));
  EXPECT_TRUE(contains(err, "soon"));
}

TEST(ConfigErrors, RetryMustBeANonEmptyArray) {
  EXPECT_TRUE(starts_with(load_error("[defaults]\nretry = []\n"), "ringpost.toml:2: key 'defaults.retry'"));
  EXPECT_TRUE(starts_with(load_error("[defaults]\n\nretry = \"5m\"\n"), "ringpost.toml:3: key 'defaults.retry'"));
  EXPECT_TRUE(starts_with(load_error("[defaults]\nretry = [300]\n"), "ringpost.toml:2: key 'defaults.retry'"));
}

TEST(ConfigErrors, TypoedKeyIsAnErrorOnItsLine) {
  std::string err = load_error(R"toml([defaults]
max_connections = 5
max_conections = 10
)toml");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'defaults.max_conections'"));
  EXPECT_TRUE(contains(err, "unknown key"));
}

TEST(ConfigErrors, TypoedKeyInDomainSectionNamesTheDomain) {
  std::string err = load_error(R"toml([defaults]
max_connections = 5

[domains."example.test"]
route = "127.0.0.1:2526"
max_conections = 10
)toml");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:6: key 'domains.\"example.test\".max_conections'"));
  EXPECT_TRUE(contains(err, "unknown key"));
}

TEST(ConfigErrors, UnknownSectionAndServerKeyAreErrors) {
  std::string err = load_error("[sever]\nthreads = 2\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:1: key 'sever'"));
  EXPECT_TRUE(contains(err, "unknown key"));
  EXPECT_TRUE(starts_with(load_error("[server]\nthreds = 2\n"), "ringpost.toml:2: key 'server.threds'"));
  EXPECT_TRUE(starts_with(load_error("[dns]\nserver = [\"1.1.1.1:53\"]\n"), "ringpost.toml:2: key 'dns.server'"));
}

TEST(ConfigErrors, WrongTypeNamesLineKeyAndExpectation) {
  std::string err = load_error("[server]\nhttp_listen = \"127.0.0.1:8025\"\nthreads = \"four\"\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'server.threads'"));
  EXPECT_TRUE(contains(err, "integer"));

  err = load_error("[server]\nhostname = 42\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:2: key 'server.hostname'"));
  EXPECT_TRUE(contains(err, "string"));

  err = load_error("[defaults]\nmax_age = 3600\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:2: key 'defaults.max_age'"));
  EXPECT_TRUE(contains(err, "duration"));

  err = load_error("domains = 5\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:1: key 'domains'"));
}

TEST(ConfigErrors, OutOfRangeIntegers) {
  EXPECT_TRUE(starts_with(load_error("[defaults]\nmax_connections = 0\n"), "ringpost.toml:2: key 'defaults.max_connections'"));
  EXPECT_TRUE(starts_with(load_error("[defaults]\nmax_connections = -3\n"), "ringpost.toml:2: key 'defaults.max_connections'"));
  EXPECT_TRUE(starts_with(load_error("[defaults]\nmx_port = 65536\n"), "ringpost.toml:2: key 'defaults.mx_port'"));
  EXPECT_TRUE(starts_with(load_error("[server]\nthreads = 1025\n"), "ringpost.toml:2: key 'server.threads'"));
  EXPECT_TRUE(starts_with(load_error("[server]\nmax_request_bytes = 100\n"),
                          "ringpost.toml:2: key 'server.max_request_bytes'"));
}

TEST(Config, ApiLimitsAndTheRequestLimitThatFollowsThem) {
  Config c = load_ok("[api]\nmax_message_bytes = 2097152\nmax_recipients_per_message = 50\nmax_batch_messages = 7\n");
  EXPECT_EQ(c.api.max_message_bytes, 2097152u);
  EXPECT_EQ(c.api.max_recipients, 50u);
  EXPECT_EQ(c.api.max_batch, 7u);
  // Not set: derived, 3/2 of the content limit + 1 MiB, so base64 attachments at the limit fit.
  EXPECT_EQ(c.max_request_bytes, 4194304u);
  // Set: the operator's value stands, in either order of the sections.
  c = load_ok("[api]\nmax_message_bytes = 2097152\n[server]\nmax_request_bytes = 65536\n");
  EXPECT_EQ(c.max_request_bytes, 65536u);
  c = load_ok("[server]\nmax_request_bytes = 65536\n[api]\nmax_batch_messages = 1\n");
  EXPECT_EQ(c.max_request_bytes, 65536u);
  EXPECT_EQ(c.api.max_batch, 1u);
  EXPECT_EQ(c.api.max_message_bytes, 26214400u);
}

TEST(ConfigErrors, ApiLimitsNameLineAndKey) {
  std::string err = load_error("[api]\nmax_batch_messages = 10\nmax_recipients = 5\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'api.max_recipients'")) << err;
  EXPECT_TRUE(contains(err, "unknown key"));
  err = load_error("[api]\nmax_recipients_per_message = 0\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:2: key 'api.max_recipients_per_message'")) << err;
  EXPECT_TRUE(contains(err, "from 1 to 100000"));
  err = load_error("\n[api]\nmax_batch_messages = \"lots\"\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'api.max_batch_messages'")) << err;
  EXPECT_TRUE(contains(err, "integer"));
  // A rendered message must fit one spool record (64 MiB): content at most 40 MiB.
  err = load_error("[api]\nmax_message_bytes = 41943041\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:2: key 'api.max_message_bytes'")) << err;
  EXPECT_TRUE(contains(err, "41943040"));
  EXPECT_TRUE(load_config_string("[api]\nmax_message_bytes = 41943040\n", "x").has_value());
  EXPECT_TRUE(starts_with(load_error("[api]\nmax_message_bytes = 512\n"), "ringpost.toml:2: key 'api.max_message_bytes'"));
  EXPECT_TRUE(starts_with(load_error("api = 5\n"), "ringpost.toml:1: key 'api'"));
}

TEST(ConfigErrors, RouteWithoutPortNamesLineAndKey) {
  std::string err = load_error(R"toml([domains."example.test"]
max_connections = 3
route = "nohost"
)toml");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'domains.\"example.test\".route'"));
  EXPECT_TRUE(contains(err, "nohost"));
}

TEST(ConfigErrors, RouteIsRefusedInDefaults) {
  std::string err = load_error("[defaults]\nmax_connections = 3\nroute = \"127.0.0.1:25\"\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:3: key 'defaults.route'"));
  EXPECT_TRUE(contains(err, "only allowed"));
}

TEST(ConfigErrors, BadListenAddressAndDnsServer) {
  EXPECT_TRUE(starts_with(load_error("[server]\n\nhttp_listen = \"localhost\"\n"), "ringpost.toml:3: key 'server.http_listen'"));
  std::string err = load_error("[dns]\nservers = [\n  \"127.0.0.1:53\",\n  \"127.0.0.1:99999\",\n]\n");
  EXPECT_TRUE(starts_with(err, "ringpost.toml:4: key 'dns.servers'"));
  EXPECT_TRUE(contains(err, "out of range"));
}

TEST(ConfigErrors, TomlSyntaxErrorNamesSourceAndLine) {
  auto cfg = load_config_string("[server]\nthreads = 2\nhostname = = \"x\"\n", "/etc/ringpost/ringpost.toml");
  ASSERT_FALSE(cfg.has_value());
  EXPECT_TRUE(starts_with(cfg.error(), "/etc/ringpost/ringpost.toml:3:"));
}

TEST(ConfigErrors, SourceNameIsTheOneGiven) {
  auto cfg = load_config_string("[defaults]\nmax_conections = 1\n", "conf.d/10-limits.toml");
  ASSERT_FALSE(cfg.has_value());
  EXPECT_TRUE(starts_with(cfg.error(), "conf.d/10-limits.toml:2: key 'defaults.max_conections'"));
}

TEST(ConfigErrors, MissingFileNamesThePath) {
  auto cfg = load_config_file("/nonexistent/ringpost-test/ringpost.toml");
  ASSERT_FALSE(cfg.has_value());
  EXPECT_TRUE(starts_with(cfg.error(), "/nonexistent/ringpost-test/ringpost.toml: cannot open"));
}

// ---- parse_host_port ----

TEST(ParseHostPort, HostAndPort) {
  auto hp = parse_host_port("mx.example.test:2525");
  ASSERT_TRUE(hp) << hp.error();
  EXPECT_EQ(hp->host, "mx.example.test");
  EXPECT_EQ(hp->port, 2525);
}

TEST(ParseHostPort, BracketedIpv6) {
  auto hp = parse_host_port("[::1]:25");
  ASSERT_TRUE(hp) << hp.error();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 25);

  hp = parse_host_port("[2001:db8::5]:65535");
  ASSERT_TRUE(hp) << hp.error();
  EXPECT_EQ(hp->host, "2001:db8::5");
  EXPECT_EQ(hp->port, 65535);
}

TEST(ParseHostPort, PortBoundaries) {
  auto hp = parse_host_port("127.0.0.1:0");  // the demo listens on a kernel-chosen port
  ASSERT_TRUE(hp) << hp.error();
  EXPECT_EQ(hp->port, 0);
  ASSERT_TRUE(parse_host_port("h:65535"));
  EXPECT_EQ(parse_host_port("h:65535")->port, 65535);

  auto bad = parse_host_port("h:65536");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error(), "out of range"));
  EXPECT_FALSE(parse_host_port("h:99999"));
  EXPECT_FALSE(parse_host_port("h:123456"));     // six digits
  EXPECT_FALSE(parse_host_port("[::1]:70000"));
}

TEST(ParseHostPort, MalformedInputsAreRefused) {
  for (std::string_view s : {"", "nohost", "host:", ":25", "host:2x5", "host:-1", "host:+25", "host: 25", "[::1]",
                             "[::1]25", "[::1:25", "::1]:25x"}) {
    auto hp = parse_host_port(s);
    EXPECT_FALSE(hp) << "'" << s << "' parsed as host '" << (hp ? hp->host : "") << "' port " << (hp ? hp->port : 0);
    if (!hp) {
      EXPECT_TRUE(contains(hp.error(), std::string(s)));
    }
  }
}

// An empty route host must fail at start-up with its config line, not later at connect time.
TEST(ParseHostPort, EmptyBracketedHostIsRefused) {
  auto hp = parse_host_port("[]:25");
  EXPECT_FALSE(hp) << "accepted with host '" << (hp ? hp->host : "") << "'";
}

TEST(Config, TlsTimeoutsAndChunkingPerDomain) {
  auto c = load_config_string(R"([defaults]
tls = "off"
data_end_timeout = "20m"
[domains."secure.test"]
tls = "verify"
tls_ca_file = "/tmp/ca.pem"
chunking = false
rcpt_timeout = "7s"
)", "t.toml");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->defaults.tls, TlsPolicy::off);
  EXPECT_EQ(c->defaults.timeouts.data_end, minutes(20));
  const DeliveryPolicy& p = c->policy_for("secure.test");
  EXPECT_EQ(p.tls, TlsPolicy::verify);
  EXPECT_EQ(p.tls_ca_file, "/tmp/ca.pem");
  EXPECT_FALSE(p.chunking);
  EXPECT_EQ(p.timeouts.rcpt, seconds(7));
  EXPECT_EQ(p.timeouts.data_end, minutes(20));  // inherited
}

TEST(Config, BadTlsModeNamesLineAndKey) {
  auto c = load_config_string("[defaults]\n\ntls = \"sometimes\"\n", "t.toml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().rfind("t.toml:3: key 'defaults.tls'", 0), 0u) << c.error();
  auto d = load_config_string("[defaults]\nchunking = \"yes\"\n", "t.toml");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().rfind("t.toml:2: key 'defaults.chunking'", 0), 0u) << d.error();
}

}  // namespace
}  // namespace ringpost::engine

namespace ringpost::engine {
namespace {

// Which rule (if any) the defaults pick for a reply line, as Site::on_reply matches it.
std::string default_rule_for(const std::string& line) {
  static const ResponseRules rules = default_rules();
  const ResponseRule* r = rules.first_match(line);
  if (!r) return "none";
  return r->action == RuleAction::suspend ? "suspend" : "throttle";
}

TEST(DefaultRules, ProviderRateLimitRepliesThrottleAndOrdinary421sFollowTheRetrySchedule) {
  EXPECT_EQ(default_rule_for("421 4.7.28 Our system has detected an unusual rate of unsolicited mail"), "throttle");
  EXPECT_EQ(default_rule_for("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred"), "throttle");
  EXPECT_EQ(default_rule_for("451 4.7.500 Server busy. Please try again later. Rate limit exceeded"), "throttle");
  EXPECT_EQ(default_rule_for("450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents"
                             " additional messages from being delivered; sending rate too high"),
            "throttle");
  // RFC 5321's own 421 wording, and a busy host's: the retry schedule, not a site suspension.
  EXPECT_EQ(default_rule_for("421 4.7.0 Try again later, closing connection"), "none");
  EXPECT_EQ(default_rule_for("421 4.3.2 Service not available, closing transmission channel"), "none");
  EXPECT_EQ(default_rule_for("421 mx.example.test Service temporarily unavailable"), "none");
  // A per-connection message limit is not the site asking to slow down.
  EXPECT_EQ(default_rule_for("421 4.7.0 too many messages on this connection"), "none");
  EXPECT_EQ(default_rule_for("451 4.3.0 temporary local problem"), "none");
  EXPECT_EQ(default_rule_for("550 5.1.1 user unknown"), "none");
}

TEST(Rules, ParsedFromTheFileReplaceTheDefaultsAndBadOnesNameTheKey) {
  auto c = load_config_string("[[rules]]\nmatch = \"^421 \"\naction = \"throttle\"\nmsgs_per_second = \"30/min\"\nfor = \"5m\"\n",
                              "t.toml");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0].action, RuleAction::throttle);
  EXPECT_DOUBLE_EQ(c->rules[0].msgs_per_second, 0.5);
  EXPECT_EQ(c->rules[0].duration, std::chrono::minutes(5));
  auto bad = load_config_string("[[rules]]\nmatch = \"(unclosed\"\naction = \"suspend\"\n", "t.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("t.toml:2"), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("rules[0].match"), std::string::npos) << bad.error();
  auto no_rate = load_config_string("[[rules]]\nmatch = \"x\"\naction = \"throttle\"\n", "t.toml");
  ASSERT_FALSE(no_rate);
  EXPECT_NE(no_rate.error().find("msgs_per_second"), std::string::npos) << no_rate.error();
  auto limits = load_config_string("[defaults]\nmsgs_per_second = \"300/min\"\nconnections_per_second = 2\n"
                                   "max_recipients_per_message = 50\ninitial_connections = 3\n",
                                   "t.toml");
  ASSERT_TRUE(limits) << limits.error();
  EXPECT_DOUBLE_EQ(*limits->defaults.msgs_per_second, 5);
  EXPECT_DOUBLE_EQ(*limits->defaults.connections_per_second, 2);
  EXPECT_EQ(*limits->defaults.max_recipients_per_message, 50u);
  EXPECT_EQ(limits->defaults.initial_connections, 3u);
  auto bad_rate = load_config_string("[defaults]\nmsgs_per_second = \"fast\"\n", "t.toml");
  ASSERT_FALSE(bad_rate);
  EXPECT_NE(bad_rate.error().find("t.toml:2: key 'defaults.msgs_per_second'"), std::string::npos) << bad_rate.error();
}

}  // namespace
}  // namespace ringpost::engine
