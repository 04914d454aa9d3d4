#!/usr/bin/env bash
# Is `ringpost sink` ever the bottleneck? The same smtp-source load (`-s 64 -d -l 1024 -m N`,
# Postfix's own test client) against `ringpost sink` and against Postfix's `smtp-sink`, in the
# same run, alternating, R rounds. For each: msgs/s, the sink's CPU seconds, how busy it was
# (CPU / elapsed: far below 100 % = the client is the limit), and its capacity (messages per
# CPU second: the rate it would reach with a whole core to itself). The ringpost sink's count
# is checked against N (the far side: every message smtp-source sent arrived).
# Usage (root): bench/sink/vs_smtp_sink.sh [N=100000] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
rounds=${2:-2}
bin=./build/engine/ringpost
[ -x "$bin" ] || { echo "build first: cmake --build build" >&2; exit 1; }
hz=$(getconf CLK_TCK)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r);" \
  "load: $(cut -d' ' -f1-3 /proc/loadavg); smtp-source -s 64 -d -l 1024 -m $n"
printf '%-5s %-14s %9s %8s %8s %7s %16s\n' round sink msgs/s elapsed cpu_s busy "msgs/cpu-second"
for r in $(seq "$rounds"); do
  for which in ringpost smtp-sink; do
    port=$((20000 + RANDOM % 20000))
    if [ "$which" = ringpost ]; then
      "$bin" sink --listen "127.0.0.1:$port" --messages "$n" --duration 120 --json --quiet >/tmp/vs_smtp_sink.$$.json &
    else
      smtp-sink -u nobody "127.0.0.1:$port" 1024 &
    fi
    pid=$!
    sleep 0.3
    t0=$(date +%s.%N)
    smtp-source -s 64 -d -l 1024 -m "$n" -f a@src.bench.test -t b@bench.test "127.0.0.1:$port"
    t1=$(date +%s.%N)
    if [ "$which" = ringpost ]; then
      wait "$pid"
      cpu=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["cpu_user_s"]+d["cpu_sys_s"]); assert d["messages"]==int(sys.argv[2]), d' \
        /tmp/vs_smtp_sink.$$.json "$n")
      rm -f /tmp/vs_smtp_sink.$$.json
    else
      cpu=$(awk -v hz="$hz" '{sub(/^.*\) /, ""); print ($12 + $13) / hz}' "/proc/$pid/stat")
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    fi
    awk -v r="$r" -v w="$which" -v n="$n" -v t0="$t0" -v t1="$t1" -v c="$cpu" 'BEGIN {
      e = t1 - t0; printf "%-5s %-14s %9.0f %7.2fs %8.2f %6.0f%% %16.0f\n", r, w, n / e, e, c, 100 * c / e, (c > 0 ? n / c : 0) }'
  done
done
