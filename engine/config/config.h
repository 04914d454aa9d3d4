// ringpost's configuration: embedded defaults, overridden by a TOML file. Read once at start-up
// on the main thread, then copied read-only into every shard. A bad file is reported with the
// file name, line and key so an operator can fix it without guessing.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "dkim/sign_entry.h"
#include "engine/api/submit_request.h"
#include "engine/security/network_policy.h"

namespace re2 {
class RE2;
}

namespace ringpost::engine {

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// How a destination's connections use STARTTLS. verify = required + certificate chain and host
// name checked against the system CAs or tls_ca_file.
enum class TlsPolicy : uint8_t { off, opportunistic, required, verify };

// RFC 5321 §4.5.3.2 timeouts, per phase of the SMTP dialogue.
struct SmtpTimeouts {
  std::chrono::milliseconds connect = std::chrono::seconds(30);
  std::chrono::milliseconds greeting = std::chrono::minutes(5);
  std::chrono::milliseconds command = std::chrono::minutes(5);  // EHLO, STARTTLS, RSET, QUIT, TLS handshake
  std::chrono::milliseconds mail = std::chrono::minutes(5);
  std::chrono::milliseconds rcpt = std::chrono::minutes(5);
  std::chrono::milliseconds data = std::chrono::minutes(2);        // DATA → 354 ("DATA initiation")
  std::chrono::milliseconds data_block = std::chrono::minutes(3);  // each write of the body
  std::chrono::milliseconds data_end = std::chrono::minutes(10);   // final "." or BDAT LAST → reply
};

struct DeliveryPolicy {
  uint32_t max_connections = 20;
  uint32_t max_msgs_per_connection = 100;
  std::vector<std::chrono::milliseconds> retry{std::chrono::minutes(1),  std::chrono::minutes(5),
                                               std::chrono::minutes(15), std::chrono::minutes(30),
                                               std::chrono::hours(1),    std::chrono::hours(2),
                                               std::chrono::hours(4)};
  std::chrono::milliseconds max_age = std::chrono::hours(24 * 5);
  SmtpTimeouts timeouts;
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
  // A site with nothing queued, no connection and no rule in force for this long is forgotten
  // (with its routes), so state stays bounded by the destinations in use, not every one ever seen.
  std::chrono::milliseconds site_idle_evict = std::chrono::minutes(10);
  TlsPolicy tls = TlsPolicy::opportunistic;
  std::string tls_ca_file;  // empty = the system's default CA paths
  bool chunking = true;     // use BDAT when the server offers CHUNKING
  std::optional<HostPort> route;  // static route; without it the domain is routed by MX lookup
  uint16_t mx_port = 25;
  // Traffic shaping (docs/shaping.md). Unset = unlimited.
  std::optional<double> msgs_per_second;         // "300/min" in the file
  std::optional<double> connections_per_second;  // new connections opened per second
  std::optional<uint32_t> max_recipients_per_message;  // envelopes beyond it are split
  uint32_t initial_connections = 5;  // slow start: the window a new destination begins with
};

// An adaptive back-off rule: a reply matching `match` makes the site that answered suspend
// deliveries for `duration`, or throttle to `msgs_per_second` for `duration`.
enum class RuleAction : uint8_t { suspend, throttle };
struct ResponseRule {
  std::string match;  // RE2 syntax, case-insensitive, searched for in "<code> <enhanced> <text>"
  std::shared_ptr<const re2::RE2> regex;  // compiled by compile_rule_pattern
  RuleAction action = RuleAction::suspend;
  std::chrono::milliseconds duration = std::chrono::minutes(10);
  double msgs_per_second = 1;  // throttle only
};
// The rules used when the file has no [[rules]]: common providers' rate-limit replies.
std::vector<ResponseRule> default_rules();

// Rules see only this much of "<code> <enhanced> <text>": a server may send kilobytes of reply
// text, and every failing reply is matched against every rule on the shard's thread.
inline constexpr std::size_t kRuleMatchBytes = 512;
// RE2 (linear time in the text, no recursion: a crafted reply cannot burn CPU or the stack),
// case-insensitive, bytes (Latin-1: `.` matches any byte but \n, so a reply that is not UTF-8
// is still searched). The error is RE2's, e.g. for a backreference or a lookaround.
tl::expected<std::shared_ptr<const re2::RE2>, std::string> compile_rule_pattern(std::string_view pattern);

// The rules in force, in file order, plus one RE2::Set over all their patterns, so a reply is
// scanned once whatever the number of rules (a hostile 4 KiB reply against the two defaults:
// 1.7 µs rule by rule, under 1 µs in one pass; bench/micro BM_RulesMatch). Immutable; shared
// read-only by every shard (RE2 objects are safe to match from several threads).
class ResponseRules {
 public:
  ResponseRules() = default;
  // Implicit: a Config's rules are assigned from a list (default_rules(), [[rules]]).
  ResponseRules(std::vector<ResponseRule> rules);  // NOLINT(google-explicit-constructor)

  // The first rule, in order, whose pattern occurs in the first kRuleMatchBytes of `line`;
  // nullptr when none does.
  const ResponseRule* first_match(std::string_view line) const;
  // The same for a reply: "<code> <enhanced> <text>" is formatted into a kRuleMatchBytes buffer
  // on the stack (no allocation; the rest of a long text is never copied).
  const ResponseRule* first_match(int code, std::string_view enhanced, std::string_view text) const;

  std::size_t size() const { return rules_.size(); }
  bool empty() const { return rules_.empty(); }
  const ResponseRule& operator[](std::size_t i) const { return rules_[i]; }
  std::vector<ResponseRule>::const_iterator begin() const { return rules_.begin(); }
  std::vector<ResponseRule>::const_iterator end() const { return rules_.end(); }

 private:
  struct Set;
  const ResponseRule* first_match_one_by_one(std::string_view window) const;

  std::vector<ResponseRule> rules_;
  std::shared_ptr<const Set> set_;  // null: no rules, or no set could be built (then rule by rule)
};

struct DnsConfig {
  std::vector<HostPort> servers;  // empty = the system resolver (/etc/resolv.conf)
  std::chrono::milliseconds timeout = std::chrono::seconds(2);  // per try (c-ares doubles it each round)
  uint32_t attempts = 3;
  std::chrono::milliseconds min_ttl = std::chrono::seconds(60);   // clamp for cached answers
  std::chrono::milliseconds max_ttl = std::chrono::hours(1);
  std::chrono::milliseconds negative_ttl = std::chrono::seconds(30);  // NXDOMAIN / null MX / no data
  bool prefer_ipv6 = false;       // order of a host's addresses: IPv4 first unless set
  // Domains looked up at once per shard; more wait their turn (in order). c-ares sends every
  // query at once, and a burst of 100,000 new domains lost most answers to the socket's
  // receive buffer, each lost one then cached as a failure for min_ttl (bench/soak).
  uint32_t max_lookups_in_flight = 256;
};

// [spool]: docs/spool.md.
struct SpoolConfig {
  uint64_t segment_bytes = 64u << 20;  // a new segment file is started past this size
  std::chrono::milliseconds status_retention = std::chrono::hours(24 * 7);  // finished messages' status
  // A finished segment is kept (not reclaimed) until every [[webhooks]] dispatcher has taken
  // its events, for at most this long: the feed a restart rebuilds reaches back only as far
  // as the spool does (docs/spool.md).
  std::chrono::milliseconds webhook_hold = std::chrono::hours(24);
};

// [[keys]]: an API key. The token itself is never stored: only its SHA-256.
struct ApiKey {
  enum class Role : uint8_t { submit, admin };
  std::string name;
  std::string sha256_hex;  // lower-case hex of SHA-256(token)
  // Sender domains this key may use in `from`: "example.test", "*.agents.example.test"
  // (sub-domains only); empty = any.
  std::vector<std::string> allowed_from;
  std::optional<double> rate;  // requests per second; unset = unlimited
  uint32_t burst = 0;          // bucket size; 0 = max(1, rate)
  Role role = Role::submit;
};

// [[webhooks]]: where events are POSTed, signed with `secret` (docs/api.md "Webhooks").
struct WebhookConfig {
  std::string name;
  std::string url;   // http://host:port/path (plain HTTP: receivers on the same host or network)
  std::string host;  // from url
  uint16_t port = 80;
  std::string path = "/";
  std::string secret;
  std::vector<std::string> events;  // types to send; empty = all
  uint32_t batch = 100;             // events per POST at most
};

// The request body a message of `max_message_bytes` content needs: base64 is 4/3 of the
// bytes, a client's CRLF every 76 columns is 4 more octets when JSON-escaped (80/76), so 3/2
// covers attachments with room to spare; 1 MiB more for the JSON around them.
constexpr std::size_t request_bytes_for(std::size_t max_message_bytes) {
  return max_message_bytes / 2 * 3 + (std::size_t{1} << 20);
}

// [log]: human logs (spdlog) and the delivery log (docs/delivery-log.md).
struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string delivery_log;    // a file of JSON lines; empty = no delivery log
  uint64_t delivery_log_max_bytes = 100u << 20;  // rotate past this size (0 = never; logrotate + SIGUSR1)
  uint32_t delivery_log_keep = 5;                // rotated files kept: path.1 … path.N
};

// [limits]: bounds on what clients can make the server keep or spend (docs/security.md).
// Each one that bites is counted in ringpost_limit_hits_total{limit="..."} (docs/metrics.md).
struct LimitsConfig {
  // Messages kept for GET /v1/messages/{id} and their estimated bytes; past either, the oldest
  // message whose recipients are all final is evicted (queued ones are never dropped).
  std::size_t status_max_messages = 2'000'000;
  uint64_t status_max_bytes = uint64_t{2} << 30;
  // Idempotency-Key answers kept; past either, the oldest is evicted.
  std::size_t idempotency_max_keys = 1'000'000;
  uint64_t idempotency_max_bytes = uint64_t{512} << 20;
  // SMTP reply text kept per attempt in status, history and events; longer is cut with "...[truncated]".
  std::size_t stored_reply_bytes = 512;
  // Events kept for GET /v1/events; a cursor older than the oldest kept gets 410 cursor_expired.
  std::size_t event_feed_max = 200'000;
  // Failed authentications per source address per minute before 429 (0 = no throttle).
  uint32_t auth_failures_per_minute = 20;
  // Source addresses the throttle remembers at most.
  std::size_t auth_throttle_max_sources = 10'000;
};

// [delivery]: where delivery may connect (docs/security.md "Destinations").
struct DeliveryNetworkConfig {
  // Resolved addresses in these ranges are never connected to (static routes are exempt).
  std::vector<Cidr> blocked_networks = default_blocked_cidrs();
};

struct Config {
  std::string http_listen = "127.0.0.1:8025";
  uint32_t threads = 0;  // 0 = one shard per core
  // DKIM signing workers (started only when a DKIM key is configured); 0 = one per core.
  uint32_t signing_threads = 0;
  // Work handed to the signing workers and not yet signed (docs/dkim.md "Backpressure"): at
  // either bound, further submit requests wait unread until it falls below (the queue may pass
  // a bound by the one request admitted under it).
  uint64_t signing_queue_messages = 10000;
  uint64_t signing_queue_bytes = 256ull << 20;
  std::string spool_dir = "./var/spool";
  std::string hostname = "mta.example.test";
  // Unless the file sets it: request_bytes_for(api.max_message_bytes), so a message at the
  // content limit still fits after base64 and JSON (docs/api.md "Limits").
  std::size_t max_request_bytes = request_bytes_for(api::kMaxMessageBytes);
  // [api]: per-message and per-batch limits of the submit API.
  api::SubmitLimits api;
  // A request not complete this long after its first byte gets 408 and the connection is
  // closed: slow-loris clients cannot hold connections open with a trickle of header bytes.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(10);
  // HTTP connection bounds (docs/security.md "Connections"). header_timeout: the request line
  // and headers must be in this long after a request's first byte (408 header_timeout and
  // close); request_timeout above still bounds the whole request, body included, so a file that
  // sets only request_timeout keeps its meaning. idle_timeout: a keep-alive connection with no
  // request under way (no byte of one received, nothing being processed or sent) is closed after
  // this long.
  std::chrono::milliseconds header_timeout = std::chrono::seconds(10);
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Responses waiting to be sent on one connection: over this, nothing more is read from it
  // (and no further pipelined request is parsed) until the client reads.
  std::size_t max_output_bytes = 1u << 20;
  // Open HTTP connections: one more is accepted, answered 503 too_many_connections and closed.
  std::size_t max_connections = 10'000;
  // SIGTERM/SIGINT: how long the shards may finish SMTP transactions in flight before the rest
  // are cut (their mail stays queued in the spool). docs/operating.md.
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
  // GET /metrics: how many sites get their own `site` label; later ones count as "other"
  // (docs/metrics.md). Bounds the number of series a scraper stores.
  std::size_t metrics_top_sites = 50;
  DnsConfig dns;
  LimitsConfig limits;
  DeliveryNetworkConfig delivery;
  SpoolConfig spool;
  LogConfig log;
  DeliveryPolicy defaults;
  std::map<std::string, DeliveryPolicy> domains;  // key: lower-case domain
  // [dkim."example.test"] / [[dkim."example.test"]]: keys loaded and checked at load time, in
  // file order (several for one domain = several signatures). docs/dkim.md.
  std::vector<dkim::SignEntry> dkim;
  // Refuse (422 dkim_required) a message whose From domain has no DKIM entry, instead of
  // sending it unsigned.
  bool require_dkim = false;
  ResponseRules rules = default_rules();
  // Bearer token for the admin API (/v1/domains...); empty = the admin API is disabled.
  std::string admin_token;
  // Without [[keys]] the API is open (a development setup); with any, every /v1/ call needs
  // one (docs/api.md "Keys").
  std::vector<ApiKey> keys;
  std::vector<WebhookConfig> webhooks;
  std::string source;  // the file it was loaded from, for SIGHUP

  // The policy for a domain: its own section if it has one, else the defaults.
  const DeliveryPolicy& policy_for(const std::string& domain) const;
  uint32_t shard_count() const;
  uint32_t signing_thread_count() const;
};

// Parses "host:port", "[v6]:port". Errors describe what is wrong with the text.
tl::expected<HostPort, std::string> parse_host_port(std::string_view text);

// spdlog's level names: trace, debug, info, warn, error, critical, off.
bool is_log_level(std::string_view level);

tl::expected<Config, std::string> load_config_file(const std::string& path);
tl::expected<Config, std::string> load_config_string(std::string_view toml, const std::string& source_name);

}  // namespace ringpost::engine
