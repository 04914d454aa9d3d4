#!/usr/bin/env bash
# One measured run for docs/performance.md: a fresh `ringpost sink` and `ringpost serve` (private
# copy of ./build/engine/ringpost, spool on disk under $RINGPOST_PERF_OUT), one `ringpost bench`
# against them, optionally under perf. Prints one line: accepted and delivered msgs/s, the server's
# CPU per message split by thread (front, busiest shard, other shards, the rest: main thread and
# io_uring workers), the machine's busy share over the run (/proc/stat: 2 cores means every other
# process counts too) and the submit latency.
#
# Usage (root, from anywhere; builds nothing):
#   docs/performance/run_one.sh SIZE MESSAGES [CONCURRENCY=4] [BATCH=100] [THREADS=2] [DOMAINS=1] [PERF=none]
#   DOMAINS > 1: d<k>.bench.test routed to 127.0.0.<k+1>: distinct sites, so spread over the shards
#                (domains with the same route share one site and therefore one shard).
#   PERF: none | stat (fdatasync count: io_uring FSYNC submissions, ext4 datasyncs) |
#         flat (perf record -e cpu-clock -F 4000) | dwarf (the same at 700 Hz with DWARF call graphs)
# Output: $RINGPOST_PERF_OUT (default /var/tmp/ringpost-perf): perf-TAG.data, bench-TAG.json,
# threads-TAG.txt (tid and user+sys clock ticks per task, then the whole process; the front is the
# task after the shards), TAG = SIZE-MODE.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
size=$1 n=$2 conc=${3:-4} batch=${4:-100} threads=${5:-2} domains=${6:-1} mode=${7:-none}
out=${RINGPOST_PERF_OUT:-/var/tmp/ringpost-perf}
hport=${RINGPOST_PERF_HTTP_PORT:-38025} sport=${RINGPOST_PERF_SINK_PORT:-38026}
tag=$size-$mode
mkdir -p "$out"
cp "$root/build/engine/ringpost" "$out/ringpost"
bin=$out/ringpost
rm -rf "$out/spool"
{
  printf '[server]\nhttp_listen = "127.0.0.1:%s"\nspool_dir = "%s/spool"\nthreads = %s\n' "$hport" "$out" "$threads"
  if [ "$domains" -eq 1 ]; then
    printf '[domains."bench.test"]\nroute = "127.0.0.1:%s"\nmax_connections = 20\ntls = "off"\n' "$sport"
  else
    for k in $(seq 0 $((domains - 1))); do
      printf '[domains."d%s.bench.test"]\nroute = "127.0.0.%s:%s"\nmax_connections = 20\ntls = "off"\n' "$k" "$((k + 1))" "$sport"
    done
  fi
} > "$out/bench.toml"
"$bin" sink --listen "0.0.0.0:$sport" --quiet --json > "$out/sink-$tag.json" 2>&1 &
sink=$!
"$bin" serve --config "$out/bench.toml" > "$out/serve-$tag.log" 2>&1 &
server=$!
until curl -sf "127.0.0.1:$hport/healthz" > /dev/null; do sleep 0.1; done
perf_pid=
case $mode in
  none) ;;
  stat) perf stat -x, -o "$out/perfstat-$tag.txt" -e io_uring:io_uring_submit_req --filter "opcode == 3" \
          -e ext4:ext4_sync_file_enter --filter "datasync == 1" -p "$server" & perf_pid=$! ;;
  flat) perf record -e cpu-clock -F 4000 -o "$out/perf-$tag.data" -p "$server" 2> "$out/perf-$tag.err" & perf_pid=$! ;;
  dwarf) perf record -e cpu-clock -F 700 --call-graph dwarf,16384 -o "$out/perf-$tag.data" -p "$server" \
           2> "$out/perf-$tag.err" & perf_pid=$! ;;
  *) echo "run_one: PERF is none, stat, flat or dwarf" >&2; exit 2 ;;
esac
sleep 0.5
stat0=$(grep '^cpu ' /proc/stat)
"$bin" bench --url "http://127.0.0.1:$hport" --messages "$n" --batch "$batch" --concurrency "$conc" --size "$size" \
  --domain bench.test --domains "$domains" --server-pid "$server" --json > "$out/bench-$tag.json" 2>/dev/null
stat1=$(grep '^cpu ' /proc/stat)
if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
for t in $(ls "/proc/$server/task" | sort -n); do
  awk -v t="$t" '{sub(/^.*\) /, ""); print t, $12 + $13}' "/proc/$server/task/$t/stat"
done > "$out/threads-$tag.txt"
# The whole process too: threads that already exited (io_uring workers) count there only.
awk '{sub(/^.*\) /, ""); print "process", $12 + $13}' "/proc/$server/stat" >> "$out/threads-$tag.txt"
kill -TERM "$server"; wait "$server" || true
kill -TERM "$sink"; wait "$sink" || true
python3 - "$n" "$(getconf CLK_TCK)" "$threads" "$stat0" "$stat1" "$out/threads-$tag.txt" "$out/bench-$tag.json" <<'PY'
import json, sys
n, hz, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s0 = [int(x) for x in sys.argv[4].split()[1:]]
s1 = [int(x) for x in sys.argv[5].split()[1:]]
d = [b - a for a, b in zip(s0, s1)]
busy = 1 - (d[3] + d[4]) / sum(d)  # idle + iowait
rows = [l.split() for l in open(sys.argv[6])]
ticks = [int(r[1]) for r in rows if r[0] != "process"]
total = next(int(r[1]) for r in rows if r[0] == "process")
shards, front = ticks[1:1 + threads], ticks[1 + threads]  # tasks: main, shards, front, then the rest
rest = total - sum(shards) - front
b = json.load(open(sys.argv[7]))
us = lambda t: t / hz * 1e6 / n
lat = b["submit_latency_ms"]
print(f"acc/s {b['accepted_per_s']:8.0f} deliv/s {b['delivered_per_s']:8.0f} server µs/msg {us(total):5.1f} "
      f"front {us(front):5.1f} busiest shard {us(max(shards)):5.1f} other shards {us(sum(shards) - max(shards)):5.1f} "
      f"rest {us(rest):4.1f} machine busy {100 * busy:3.0f} %  submit p50/p99 ms {lat['p50']:.0f}/{lat['p99']:.0f}")
PY
