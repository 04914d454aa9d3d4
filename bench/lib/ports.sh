# Free loopback ports for the bench scripts, sourced (bench/compare, bench/servers, bench/soak).
# Other benches and tests run on this machine too, so a port is taken only when no TCP or UDP
# socket uses it (/proc/net); the base is random so two runs at once rarely probe the same range.
port_base=$((20000 + RANDOM % 20000))
port_i=0
# Sets $port to the next free port. Not called as $(next_port): a subshell would lose the count.
next_port() {
  while :; do
    port_i=$((port_i + 1))
    port=$((port_base + port_i))
    awk -v s="$(printf ':%04X' "$port")" 'substr($2, length($2) - 4) == s {f = 1} END {exit f}' \
      /proc/net/tcp /proc/net/udp && break
  done
}
