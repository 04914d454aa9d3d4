#!/usr/bin/env bash
# Durable spool benchmarks, each beside a limit measured in the same run (the machine is shared
# and noisy: only same-run ratios mean anything):
#   1. acceptance msgs/s and MB/s into the spool (HTTP batches of 1,000 x 1 KiB, 8 connections),
#      routed to a closed port and to smtp-sink, with the server's fdatasync count and messages
#      per fdatasync, next to spool_fsync_rate (write + fdatasync rounds/s in the same directory);
#   2. RSS and spool bytes per queued message at 1M (and 10M with --big);
#   3. recovery time per million queued messages (SIGTERM, restart, until /v1/stats counts all).
# Runs as root (smtp-sink -u nobody; perf for the fdatasync count, skipped if perf is missing).
# Builds spool_fsync_rate if missing; uses BUILD/engine/ringpost as it is (builds no engine).
# Usage: bench/spool/run.sh [build-dir] [--big] [more options of spool_bench.py, see --help]
# Env: RINGPOST_BENCH_DIR (parent of the work dir, default /var/tmp), RINGPOST_BENCH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build=$1; shift; fi
[ -x "$build/engine/ringpost" ] || { echo "no $build/engine/ringpost; build it: cmake --build $build" >&2; exit 1; }
if [ ! -x "$build/bench/spool/spool_fsync_rate" ]; then
  cmake --build "$build" --target spool_fsync_rate >/dev/null
fi
exec /usr/bin/python3 bench/spool/spool_bench.py --build "$build" "$@"
