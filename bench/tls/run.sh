#!/usr/bin/env bash
# What STARTTLS costs ringpost, as ratios measured in one run against one sink: a private
# Postfix smtpd that offers STARTTLS and discards everything (bench/tls/postfix_sink.sh;
# smtp-sink cannot do TLS). Per round, in this order, N messages each:
#   a  smtp-source -s 16 -d -l 1024   plain SMTP, no queue: the baseline (it cannot do TLS)
#   b  ringpost demo, tls = "off"      HTTP submit + spool fsync + pooled SMTP
#   c  ringpost demo, tls = "opportunistic"   the same with STARTTLS on every connection
# and prints msgs/s, messages per connection and the ratios b/a, c/a, c/b. Connections,
# STARTTLS handshakes, resumed sessions and messages are counted on the far side, from the
# sink's log. The machine is shared and noisy: only same-run ratios mean anything.
# Usage (as root, from anywhere; builds nothing, expects ./build): bench/tls/run.sh [N] [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
n=${1:-5000}
rounds=${2:-2}
bin=$root/build/engine/ringpost
sink_sh=$root/bench/tls/postfix_sink.sh

die() { echo "bench/tls/run.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root: the Postfix sink starts its own master"
[ -x "$bin" ] || die "$bin is missing: build first (cmake -S . -B build -G Ninja && ninja -C build ringpost)"
command -v smtp-source >/dev/null || die "smtp-source is missing: apt-get install postfix"

# A loopback port nothing holds (any state) right now.
free_port() {
  local p hex
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    hex=$(printf ':%04X' "$p")
    awk -v h="$hex" 'NR > 1 && substr($2, 9) == h {found = 1} END {exit found}' /proc/net/tcp && { echo "$p"; return; }
  done
  die "no free port found"
}

# The sink's queue on tmpfs (its file operations cost no disk I/O: the sink is not what is
# measured); ringpost's spool on the project's disk, as in bench/compare_smtp_source.sh, since
# its fsyncs are part of what is measured.
shm=/dev/shm; [ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
sink_dir=$(mktemp -d "$shm/ringpost-tls-sink.XXXXXX")
mkdir -p "$root/var"
work=$(mktemp -d "$root/var/bench-tls.XXXXXX")
cleanup() {
  "$sink_sh" stop "$sink_dir" || true
  if [ "${RINGPOST_BENCH_KEEP:-}" = 1 ]; then
    echo "kept: $sink_dir (sink log: maillog) $work (demo outputs)"
  else
    rm -rf "$sink_dir" "$work"
  fi
}
trap cleanup EXIT

# Written out in full so that the settings printed are the settings used.
for mode in off opportunistic; do
  cat >"$work/$mode.toml" <<EOF
[defaults]
tls = "$mode"
max_connections = 20
max_msgs_per_connection = 100
chunking = true
EOF
done

port=$(free_port)
"$sink_sh" start "$sink_dir" "127.0.0.1:$port"

# sink_count KEY: one counter from the sink's log.
sink_count() { "$sink_sh" stats "$sink_dir" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# Wait (at most 30 s) until the sink has logged `want` discarded messages: its log is written
# by postlogd, after the 250s the client already has.
wait_discarded() {
  local want=$1
  for _ in $(seq 300); do
    [ "$(sink_count discarded)" -ge "$want" ] && return 0
    sleep 0.1
  done
  die "the sink logged $(sink_count discarded) of $want discarded messages after 30 s; log: $sink_dir/maillog"
}

openssl_version=$(openssl version | cut -d' ' -f1-2)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ringpost: $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'), $bin; Postfix $(postconf -h -d mail_version); $openssl_version"
echo "sink: Postfix smtpd on 127.0.0.1:$port, every recipient DISCARDed, STARTTLS offered (RSA 2048 self-signed, tickets from tlsmgr), queue on $shm"
echo "messages: $n per case; rounds: $rounds"
echo "a: smtp-source -s 16 -d -l 1024 -m $n (plain; smtp-source has no TLS, no PIPELINING)"
echo "b, c: ringpost demo --messages $n --route 127.0.0.1:$port --config FILE, FILE ="
sed 's/^/     /' "$work/off.toml"
echo "     (c: tls = \"opportunistic\"; the sink's certificate is not verified)"
echo

# Sets client_cpu_s to the CPU seconds (user + system) used so far by this shell's finished
# children, the clients: the second line of bash's `times`, which includes everything those
# children waited for. Not called in $(...): a subshell's `times` knows only its own children.
client_cpu() {
  times >"$work/times"
  client_cpu_s=$(awk 'NR == 2 {for (i = 1; i <= 2; i++) {split($i, m, /[ms]/); t += m[1] * 60 + m[2]} printf "%.3f", t}' "$work/times")
}
# run_case NAME: runs one client, sets rate (msgs/s), conns, mpc (messages per connection, far
# side), tls and resumed (handshakes on those connections), cpu ("client/sink" CPU seconds).
run_case() {
  local name=$1 c0 t0 r0 d0 out u0 s0
  c0=$(sink_count connections); t0=$(sink_count tls); r0=$(sink_count resumed); d0=$(sink_count discarded)
  client_cpu; u0=$client_cpu_s; s0=$("$sink_sh" cpu "$sink_dir")
  if [ "$name" = source ]; then
    local s e
    s=$(date +%s.%N)
    timeout 600 smtp-source -s 16 -d -l 1024 -m "$n" -f a@bench.test -t b@demo.test "127.0.0.1:$port"
    e=$(date +%s.%N)
    rate=$(awk -v n="$n" -v s="$s" -v e="$e" 'BEGIN {printf "%.0f", n / (e - s)}')
  else
    # Its own cwd: the demo replaces ./var/demo-spool, and another demo may be running in $root.
    out=$(cd "$work" && timeout 600 "$bin" demo --messages "$n" --route "127.0.0.1:$port" --config "$work/$name.toml" 2>&1) ||
      die "ringpost demo ($name) failed:"$'\n'"$out"
    echo "$out" >>"$work/demo-$name.out"
    rate=$(echo "$out" | sed -n 's/.*: \([0-9]*\) msgs\/s.*/\1/p')
    shards=$(echo "$out" | sed -n 's/^ringpost demo: \([0-9]*\) shards.*/\1/p')
  fi
  wait_discarded $((d0 + n))
  conns=$(($(sink_count connections) - c0)); tls=$(($(sink_count tls) - t0)); resumed=$(($(sink_count resumed) - r0))
  mpc=$(awk -v n="$n" -v c="$conns" 'BEGIN {printf "%.1f", c ? n / c : 0}')
  client_cpu
  cpu=$(awk -v u0="$u0" -v u1="$client_cpu_s" -v s0="$s0" -v s1="$("$sink_sh" cpu "$sink_dir")" 'BEGIN {printf "%.2f/%.2f", u1 - u0, s1 - s0}')
}

ratio() { awk -v x="$1" -v y="$2" 'BEGIN {printf "%.2f", y ? x / y : 0}'; }
sum_a=0; sum_b=0; sum_c=0
row() { printf '%-5s %-30s %8s %10s %6s %17s %16s  %s\n' "$@"; }
row round case msgs/s msgs/conn conns STARTTLS/resumed "cpu s client/sink" ratios
for r in $(seq "$rounds"); do
  run_case source; a=$rate
  row "$r" "a smtp-source (plain)" "$a" "$mpc" "$conns" - "$cpu" ""
  run_case off; b=$rate
  row "$r" "b ringpost tls=off" "$b" "$mpc" "$conns" "$tls/$resumed" "$cpu" "b/a $(ratio "$b" "$a")"
  [ "$tls" -eq 0 ] || die "tls = \"off\" but the sink logged $tls TLS handshakes"
  run_case opportunistic; c=$rate
  row "$r" "c ringpost tls=opportunistic" "$c" "$mpc" "$conns" "$tls/$resumed" "$cpu" \
    "c/a $(ratio "$c" "$a")  c/b $(ratio "$c" "$b")"
  [ "$tls" -eq "$conns" ] || echo "      note: $tls STARTTLS handshakes on $conns connections"
  sum_a=$((sum_a + a)); sum_b=$((sum_b + b)); sum_c=$((sum_c + c))
done
echo
echo "ringpost shards: ${shards:-?}; load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'mean over %d rounds: a %d, b %d, c %d msgs/s; b/a %s, c/a %s, c/b %s\n' "$rounds" \
  $((sum_a / rounds)) $((sum_b / rounds)) $((sum_c / rounds)) \
  "$(ratio "$sum_b" "$sum_a")" "$(ratio "$sum_c" "$sum_a")" "$(ratio "$sum_c" "$sum_b")"
