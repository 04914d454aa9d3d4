// One SOA query over UDP, straight on the wire (RFC 1035 §4.1): how the harness learns that the
// server is up and serving what publish() last wrote, without going through the resolver that
// the tests are about. Blocking, bounded by its timeout; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace ringpost::testing {

// The serial of `zone`'s SOA as `ip`:`port` answers it now. An error says why not: no answer
// within `timeout`, port closed (ECONNREFUSED from the ICMP reply), a non-NOERROR rcode (knotd
// answers SERVFAIL or REFUSED while a zone is not loaded), or no SOA in the answer.
tl::expected<uint32_t, std::string> query_soa_serial(const std::string& ip, uint16_t port, std::string_view zone,
                                                     std::chrono::milliseconds timeout);

}  // namespace ringpost::testing
