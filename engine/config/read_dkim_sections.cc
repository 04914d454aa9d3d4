// [dkim."domain"]: signing keys, read and checked at load so a bad key stops start-up.
#include "engine/config/toml_reader.h"

#include <filesystem>

namespace ringpost::engine::config_detail {

// One [dkim."domain"] table (or one element of [[dkim."domain"]]). The key file is read and
// checked here, so a bad key stops start-up (or a SIGHUP reload) instead of a message.
tl::expected<dkim::SignEntry, std::string> Reader::read_dkim_entry(const toml::table& t, const std::string& prefix,
                                                           const std::string& domain) const {
  if (auto r = check_known(t, prefix, {"selector", "key_file", "algorithm", "canonicalization", "headers",
                                       "oversign", "subdomains"});
      !r)
    return tl::make_unexpected(r.error());
  dkim::SignEntry e;
  e.domain = domain;
  e.origin = fmt::format("{}:{}", source_, t.source().begin.line);
  for (std::string_view required : {"selector", "key_file"})
    if (!t.get(required))
      return tl::make_unexpected(fmt::format("{}: required in every DKIM entry", where_table(t, join(prefix, required))));
  if (auto r = read_string(t, prefix, "selector", e.selector); !r) return tl::make_unexpected(r.error());
  if (!dkim::is_dns_name(e.selector))
    return tl::make_unexpected(fmt::format("{}: '{}' is not a DNS label such as \"s2024\"",
                                           where(*t.get("selector"), join(prefix, "selector")), e.selector));
  std::optional<dkim::Algorithm> algorithm;
  if (const toml::node* n = t.get("algorithm")) {
    auto v = n->value<std::string>();
    auto a = v ? dkim::parse_algorithm(*v) : tl::make_unexpected(std::string("expected a string"));
    if (!a) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, "algorithm")), a.error()));
    algorithm = *a;
  }
  if (const toml::node* n = t.get("canonicalization")) {
    auto v = n->value<std::string>();
    auto c = v ? dkim::parse_canonicalization(*v) : tl::make_unexpected(std::string("expected a string"));
    if (!c) return tl::make_unexpected(fmt::format("{}: {}", where(*n, join(prefix, "canonicalization")), c.error()));
    e.canon = *c;
  }
  e.headers = dkim::default_signed_headers();
  if (const toml::node* n = t.get("headers")) {
    auto names = read_header_names(*n, join(prefix, "headers"), false);
    if (!names) return tl::make_unexpected(names.error());
    if (!contains_name(*names, "From"))
      return tl::make_unexpected(fmt::format("{}: must include \"From\" (RFC 6376 §5.4)", where(*n, join(prefix, "headers"))));
    e.headers = std::move(*names);
  }
  // Default over-signing covers only what is signed; an explicit list must be a subset.
  for (const std::string& name : dkim::default_oversigned_headers())
    if (contains_name(e.headers, name)) e.oversign.push_back(name);
  if (const toml::node* n = t.get("oversign")) {
    auto names = read_header_names(*n, join(prefix, "oversign"), true);
    if (!names) return tl::make_unexpected(names.error());
    for (const std::string& name : *names)
      if (!contains_name(e.headers, name))
        return tl::make_unexpected(fmt::format("{}: '{}' is not in headers; only signed fields can be over-signed",
                                               where(*n, join(prefix, "oversign")), name));
    e.oversign = std::move(*names);
  }
  if (auto r = read_bool(t, prefix, "subdomains", e.subdomains); !r) return tl::make_unexpected(r.error());

  const toml::node* kf = t.get("key_file");
  std::string key_file;
  if (auto r = read_string(t, prefix, "key_file", key_file); !r) return tl::make_unexpected(r.error());
  // Relative to the config file's directory, so a config and its keys can move together.
  std::filesystem::path path(key_file);
  if (path.is_relative()) path = std::filesystem::path(source_).parent_path() / path;
  auto key = dkim::load_signing_key(path.string());
  if (!key) return tl::make_unexpected(fmt::format("{}: {}", where(*kf, join(prefix, "key_file")), key.error()));
  if (algorithm && *algorithm != key->algorithm)
    return tl::make_unexpected(fmt::format("{}: {} holds an {} key, but algorithm is \"{}\"", where(*kf, join(prefix, "key_file")),
                                           path.string(), key->algorithm == dkim::Algorithm::rsa_sha256 ? "RSA" : "Ed25519",
                                           dkim::to_string(*algorithm)));
  e.key = std::make_shared<const dkim::SigningKey>(std::move(*key));
  return e;
}

// [dkim."example.test"] (one signature) or [[dkim."example.test"]] (one per element: dual
// signing, key rotation). Domains are lower-cased; a selector appears once per domain.
tl::expected<void, std::string> Reader::read_dkim(const toml::node& root_node, std::vector<dkim::SignEntry>& out) const {
  const toml::table* domains = root_node.as_table();
  if (!domains)
    return tl::make_unexpected(fmt::format(
        "{}: expected [dkim.\"example.test\"] or [[dkim.\"example.test\"]] sections, one per signing domain",
        where(root_node, "dkim")));
  for (auto&& [name, node] : *domains) {
    const std::string key = fmt::format("dkim.\"{}\"", name.str());
    std::string domain = ascii_lower(name.str());
    if (domain.ends_with('.')) domain.pop_back();
    if (!dkim::is_dns_name(domain))
      return tl::make_unexpected(fmt::format("{}: '{}' is not a domain name", where(node, key), name.str()));
    std::vector<const toml::table*> tables;
    std::vector<std::string> prefixes;
    if (const toml::table* t = node.as_table()) {
      tables.push_back(t);
      prefixes.push_back(key);
    } else if (const toml::array* arr = node.as_array(); arr && !arr->empty() && arr->is_array_of_tables()) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        tables.push_back(arr->get(i)->as_table());
        prefixes.push_back(fmt::format("{}[{}]", key, i));
      }
    } else {
      return tl::make_unexpected(fmt::format("{}: expected a table ([{}]) or an array of tables ([[{}]])",
                                             where(node, key), key, key));
    }
    for (std::size_t i = 0; i < tables.size(); ++i) {
      auto e = read_dkim_entry(*tables[i], prefixes[i], domain);
      if (!e) return tl::make_unexpected(e.error());
      for (const dkim::SignEntry& prev : out)
        if (prev.domain == e->domain && ascii_lower(prev.selector) == ascii_lower(e->selector))
          return tl::make_unexpected(fmt::format("{}: selector '{}' is already configured for {} at {}",
                                                 where(*tables[i]->get("selector"), join(prefixes[i], "selector")),
                                                 e->selector, domain, prev.origin));
      out.push_back(std::move(*e));
    }
  }
  return {};
}

}  // namespace ringpost::engine::config_detail
