#!/usr/bin/env bash
# Issue 17: on a kernel without an io_uring feature ringpost needs, `ringpost serve` (and demo,
# sink) print one line naming the feature and the kernel that has it, and exit non-zero at
# once, never a crash or a hang. An old kernel is simulated with RINGPOST_KERNEL_PROBE_FAIL.
# Usage: kernel_probe.sh PATH/TO/ringpost
set -uo pipefail
bin=$1
fail=0
check() {  # feature command...
  local feature=$1; shift
  local out rc lines
  out=$(RINGPOST_KERNEL_PROBE_FAIL="$feature" timeout 20 "$bin" "$@" 2>&1 >/dev/null); rc=$?
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then echo "FAIL [$feature $1]: exit $rc (want 1 at once)"; fail=1; fi
  [ "$lines" -eq 1 ] || { echo "FAIL [$feature $1]: $lines lines on stderr: $out"; fail=1; }
  grep -qF "'$feature'" <<<"$out" || { echo "FAIL [$feature $1]: the feature is not named: $out"; fail=1; }
  grep -qE 'Linux [0-9]+\.[0-9]+ or later' <<<"$out" || { echo "FAIL [$feature $1]: no minimum kernel named: $out"; fail=1; }
  echo "ok [$feature $1]: $out"
}
spool=$(mktemp -d); trap 'rm -rf "$spool"' EXIT
cfg="$spool/ringpost.toml"
printf '[server]\nhttp_listen = "127.0.0.1:0"\nspool_dir = "%s/spool"\n' "$spool" > "$cfg"
check multishot_accept serve --config "$cfg"
check io_uring serve --config "$cfg"
check ext_arg serve --config "$cfg"
check opcode:SEND serve --config "$cfg"
check multishot_accept sink --listen 127.0.0.1:0 --messages 1
check multishot_accept demo --messages 1
# This kernel itself passes: serve starts (and is stopped) instead of refusing.
"$bin" serve --config "$cfg" > "$spool/out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "listening" "$spool/out" && break; sleep 0.1; done
grep -q "listening" "$spool/out" || { echo "FAIL: serve did not start on this kernel: $(cat "$spool/out")"; fail=1; }
kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
[ $fail -eq 0 ] && echo "PASS"
exit $fail
