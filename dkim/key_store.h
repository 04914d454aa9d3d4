// Which DKIM entries sign a message, by its From domain. Built once from the config (at start and
// on SIGHUP) and then read-only: the HTTP front holds it through a shared_ptr, and a reload
// swaps in a whole new store, so a message is signed with one consistent set of keys.
// Lookup rule: the From domain's own entries; otherwise, walking up one label at a time, the
// entries of the nearest configured parent that are marked `subdomains`. No Public Suffix List
// is consulted: the operator's configured domain is the organizational domain.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/sign_entry.h"

namespace ringpost::dkim {

class KeyStore {
 public:
  KeyStore() = default;
  // Entries keep their order within a domain (the order signatures are added in).
  explicit KeyStore(std::vector<SignEntry> entries);

  // Empty when the domain (lower case, no trailing dot) has nothing to sign with.
  std::span<const SignEntry> entries_for(std::string_view from_domain) const;

  bool empty() const { return domains_.empty(); }
  std::size_t entry_count() const { return count_; }

 private:
  struct Domain {
    std::vector<SignEntry> all;             // for From = the domain itself
    std::vector<SignEntry> for_subdomains;  // the ones marked `subdomains`, for From below it
  };
  std::map<std::string, Domain, std::less<>> domains_;
  std::size_t count_ = 0;
};

}  // namespace ringpost::dkim
