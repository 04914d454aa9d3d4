#!/usr/bin/env bash
# The suites that exercise memory-lifetime-heavy engine code, built and run under
# AddressSanitizer + UBSan (CMakePresets.json "asan", in ./build-asan). Called by .ci/run after
# the main test command; expects its packages (scripts/install-deps.sh all) to be installed.
#
#   asan.sh [TARGET...]   default: the suites listed below
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
# The resolver against a real DNS server (issue 20: a Lookup freed under c-ares); sites,
# connections and shards over the in-memory transport, where every completion's lifetime rule
# (a connection outlives its pending operations) is exercised without sockets.
[ ${#targets[@]} -gt 0 ] || targets=(mx_resolver_tests delivery_unit_tests)
cmake --preset asan >/dev/null
cmake --build build-asan --target "${targets[@]}"
# Leaks are reported too; a failure of any kind fails the run.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
  bin=$(find build-asan -type f -name "$t" -perm -u+x | head -1)
  [ -n "$bin" ] || { echo "asan: no binary for $t" >&2; status=1; continue; }
  echo "asan: $t"
  "$bin" || status=1
done
exit $status
