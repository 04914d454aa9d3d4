#!/usr/bin/env bash
# End-to-end delivery rate of `ringpost demo` (HTTP submit + spool fsync + pooled SMTP) as a
# ratio to Postfix's smtp-source blasting the same kind of sink, measured in the same run
# (the machine is noisy, so only same-run ratios mean anything).
# Usage: bench/compare_smtp_source.sh [messages] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
rounds=${2:-3}
bin=./build/engine/ringpost
port=$((20000 + RANDOM % 20000))
user_opt=(); [ "$(id -u)" -eq 0 ] && user_opt=(-u nobody)
smtp-sink "${user_opt[@]}" 127.0.0.1:$port 1024 & sink=$!
trap 'kill $sink 2>/dev/null || true' EXIT
sleep 0.3
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r)"
for r in $(seq "$rounds"); do
  t0=$(date +%s.%N)
  smtp-source -s 16 -d -l 1024 -m "$n" -f a@bench.test -t b@demo.test 127.0.0.1:$port
  t1=$(date +%s.%N)
  src=$(echo "$n / ($t1 - $t0)" | bc -l)
  rp=$($bin demo --messages "$n" | sed -n 's/.*: \([0-9]*\) msgs\/s.*/\1/p')
  printf 'round %d: smtp-source %.0f msgs/s, ringpost demo %d msgs/s, ratio %.2f\n' "$r" "$src" "$rp" "$(echo "$rp / $src" | bc -l)"
done
