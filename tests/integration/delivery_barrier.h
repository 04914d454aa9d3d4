// An ordering barrier for "this must NOT be delivered (again)" checks against the real server,
// in place of a sleep before counting what the sink has. No fake clock reaches a separate
// `ringpost serve` process, but the delivery path is ordered, and that is what the barrier uses:
//
//  * Everything for one domain travels the same FIFO path to its site: front -> the domain's
//    shard inbox -> routing (a static route resolves at once; a pending lookup keeps its
//    waiters in order) -> the site's shard inbox -> Site::queue_ (a deque, pushed at the back).
//    So a sentinel submitted to the same domain reaches the site after anything ringpost had
//    already queued for it (a duplicate accepted before the sentinel's request, or re-queued
//    by recovery before the server listened).
//  * FIFO does not hold after that: a delivery without its body in memory (recovered, or back
//    from a retry) is read from the spool first (Site::start_load) and the sentinel, whose body
//    is in memory, goes ahead of it; with several connections, transactions also finish in any
//    order. So the sentinel's delivery alone proves only that the duplicate reached the site.
//    The barrier then waits until the site has nothing queued, loading or in flight
//    (GET /v1/domains/<domain>: queued == 0 && in_flight == 0): by then every delivery that
//    was there has had its SMTP transaction answered, and the sink wrote it before its 250.
//
// Not covered (no barrier can order them, only a window): a wrongful retry waiting on a timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

namespace ringpost::it {

// The admin token the barrier's /v1/domains query sends: put barrier_admin_toml() into the
// server's ServerConfig::server_toml.
inline constexpr const char* kBarrierAdminToken = "delivery-barrier-admin-token";
inline std::string barrier_admin_toml() { return std::string("admin_token = \"") + kBarrierAdminToken + "\"\n"; }

// Submits one sentinel message to sentinel-<n>@`domain`, waits (bounded) until it is delivered,
// then until the domain's site is idle. The sink then holds one message more than before:
// callers count the sentinel in.
::testing::AssertionResult settle_site(uint16_t http_port, const std::string& domain,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace ringpost::it
