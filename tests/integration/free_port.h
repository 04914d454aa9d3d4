// Loopback port helpers for integration tests: pick ports nobody is using, and ask the
// kernel (not the server) whether something is listening or connected on a port.
// Thread-agnostic; a picked port is only *likely* to stay free (another process could
// take it between our close() and the server's bind()), which is acceptable on a test box.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include <tl/expected.hpp>

namespace ringpost::it {

// Binds `count` sockets to 127.0.0.1:0 at the same time (so the kernel cannot hand out the
// same port twice), records the ports, then closes them all.
tl::expected<std::vector<uint16_t>, std::error_code> pick_free_ports(int count);
tl::expected<uint16_t, std::error_code> pick_free_port();

// Reads /proc/net/tcp{,6}. Asking the kernel instead of connecting matters for smtp-sink:
// a probe connection would be counted as an SMTP session by the far side.
bool port_is_listening(uint16_t port);
// TCP connections in ESTABLISHED state whose local port is `port` (the server side).
int established_connections_to(uint16_t port);
// The same, for one local address only ("127.0.0.2", "::1"; an IPv4 address also matches its
// IPv4-mapped form in /proc/net/tcp6). An address that does not parse matches nothing.
bool port_is_listening(uint16_t port, std::string_view ip);
int established_connections_to(uint16_t port, std::string_view ip);

}  // namespace ringpost::it
