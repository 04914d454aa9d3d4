// See key_store.h.
#include "dkim/key_store.h"

namespace ringpost::dkim {

KeyStore::KeyStore(std::vector<SignEntry> entries) : count_(entries.size()) {
  for (SignEntry& e : entries) {
    Domain& d = domains_[e.domain];
    if (e.subdomains) d.for_subdomains.push_back(e);
    d.all.push_back(std::move(e));
  }
}

std::span<const SignEntry> KeyStore::entries_for(std::string_view from_domain) const {
  if (auto it = domains_.find(from_domain); it != domains_.end()) return it->second.all;
  // Parents, nearest first: "a.b.example.test" → "b.example.test" → "example.test" → "test".
  for (std::size_t dot = from_domain.find('.'); dot != std::string_view::npos; dot = from_domain.find('.', dot + 1)) {
    auto it = domains_.find(from_domain.substr(dot + 1));
    // The nearest configured parent decides, even when it does not cover subdomains: a
    // deeper operator choice ("b.example.test" without subdomains) is not overridden by a
    // broader one further up.
    if (it != domains_.end()) return it->second.for_subdomains;
  }
  return {};
}

}  // namespace ringpost::dkim
