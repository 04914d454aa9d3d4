#!/usr/bin/env bash
# End-to-end delivery rate of `ringpost demo` (HTTP submit + spool fsync + pooled SMTP) as a
# ratio to Postfix's smtp-source (`-s 16 -d -l 1024`, pure SMTP, no queue) against the same
# smtp-sink, in the same run: the machine is noisy, so only same-run ratios mean anything.
# Variants: the sink offering PIPELINING, and not (smtp-sink -p).
# Usage: bench/compare_smtp_source.sh [messages] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
rounds=${2:-3}
bin=./build/engine/ringpost
user_opt=(); [ "$(id -u)" -eq 0 ] && user_opt=(-u nobody)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r); messages: $n"
for variant in pipelining no-pipelining; do
  port=$((20000 + RANDOM % 20000))
  extra=(); [ "$variant" = no-pipelining ] && extra=(-p)
  smtp-sink "${user_opt[@]}" "${extra[@]}" 127.0.0.1:$port 1024 & sink=$!
  sleep 0.3
  for r in $(seq "$rounds"); do
    t0=$(date +%s.%N)
    smtp-source -s 16 -d -l 1024 -m "$n" -f a@bench.test -t b@demo.test 127.0.0.1:$port
    t1=$(date +%s.%N)
    src=$(echo "$n / ($t1 - $t0)" | bc -l)
    out=$($bin demo --messages "$n" --route 127.0.0.1:$port)
    rp=$(echo "$out" | sed -n 's/.*: \([0-9]*\) msgs\/s.*/\1/p')
    mpc=$(echo "$out" | sed -n 's/.*messages per connection: \([0-9.]*\).*/\1/p')
    printf '%-14s round %d: smtp-source %6.0f msgs/s | ringpost %6d msgs/s, %s msgs/conn | ratio %.2f\n' \
      "$variant" "$r" "$src" "$rp" "$mpc" "$(echo "$rp / $src" | bc -l)"
  done
  kill $sink; wait $sink 2>/dev/null || true
done
