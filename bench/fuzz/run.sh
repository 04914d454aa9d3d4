#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in ./build-fuzz and runs each for SECONDS
# on a copy of its seed corpus (tests/data/fuzz/DIR), so the corpus in the repository never
# changes. One line per target: executions, exec/s, coverage at start → end, inputs added, and
# the verdict; any crash, sanitizer report, leak or timeout prints the saved input and its report
# and makes the exit status 1. CI runs it for 30 s per target (.ci/run).
#
# Usage: `bash bench/fuzz/run.sh --help` (the usage() text below).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage (from anywhere):
  bash bench/fuzz/run.sh [SECONDS] [TARGET...]
  bash bench/fuzz/run.sh --list | --help

  SECONDS   how long each target runs (-max_total_time), default 60
  TARGET    a subset of the targets (--list), default all of them

Installs what is missing first (scripts/install-deps.sh: clang and its libFuzzer runtime are in
its tests list), configures ./build-fuzz with CC=clang CXX=clang++ and builds only the fuzz
targets. Environment:
  RINGPOST_FUZZ_OUT       where corpora copies, logs and crash inputs go
                          (default /var/tmp/ringpost-fuzz-DATE)
  RINGPOST_FUZZ_PARALLEL  targets run at a time (default 1)
  RINGPOST_FUZZ_JOBS      build jobs (default: nproc)
Exit status: 0 when every target ran clean, 1 when one crashed, leaked or timed out, 2 on usage.
EOF
}

# target  corpus directory under tests/data/fuzz  dictionary in tests/fuzz ('-' for none)
TARGETS=(
  "smtp_reply_parser_fuzz  reply_parser         -"
  "smtp_session_fuzz       session              -"
  "http_request_parser_fuzz http_request_parser http_request_parser.dict"
  "submit_request_fuzz     submit_request       submit_request.dict"
  "raw_message_fuzz        raw_message          raw_message.dict"
  "dkim_canon_fuzz         dkim_canon           -"
)

seconds=60
chosen=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --list) for t in "${TARGETS[@]}"; do echo "${t%% *}"; done; exit 0 ;;
    -*) echo "fuzz: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *)
      if [[ "$arg" =~ ^[1-9][0-9]*$ ]] && [ ${#chosen[@]} -eq 0 ]; then seconds=$arg; continue; fi
      found=0
      for t in "${TARGETS[@]}"; do [ "${t%% *}" = "$arg" ] && found=1; done
      [ $found -eq 1 ] || { echo "fuzz: no target '$arg' (--list)" >&2; exit 2; }
      chosen+=("$arg")
      ;;
  esac
done
# In the order given on the command line, else in TARGETS' order.
selected=()
if [ ${#chosen[@]} -eq 0 ]; then
  selected=("${TARGETS[@]}")
else
  for c in "${chosen[@]}"; do
    for t in "${TARGETS[@]}"; do [ "${t%% *}" = "$c" ] && selected+=("$t"); done
  done
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${RINGPOST_FUZZ_OUT:-/var/tmp/ringpost-fuzz-$(date +%Y%m%d-%H%M%S)}
parallel=${RINGPOST_FUZZ_PARALLEL:-1}
jobs=${RINGPOST_FUZZ_JOBS:-$(nproc)}
build=$root/build-fuzz

# Idempotent, and silent when everything is there; configuring needs the server's and the tests'
# packages anyway (tests/fuzz is added by tests/CMakeLists.txt).
bash scripts/install-deps.sh

# CMake cannot switch an existing build directory to another compiler; build-fuzz is clang's only.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$build/CMakeCache.txt"; then
  echo "fuzz: $build was configured with another compiler; remove it" >&2
  exit 1
fi
mkdir -p "$build"
generator=()
[ -f "$build/CMakeCache.txt" ] || generator=(-G Ninja)
CC=clang CXX=clang++ cmake -S . -B "$build" "${generator[@]}" -DRINGPOST_BUILD_BENCHMARKS=OFF \
  -DRINGPOST_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
if grep -q "libFuzzer not available" "$build/configure.log"; then
  echo "fuzz: clang cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-dev)" >&2
  exit 1
fi
names=()
for t in "${selected[@]}"; do names+=("${t%% *}"); done
echo "fuzz: building ${names[*]} in $build (-j$jobs)"
cmake --build "$build" -j "$jobs" --target "${names[@]}"

mkdir -p "$out"
echo "fuzz: ${#names[@]} targets × ${seconds} s, $parallel at a time; output in $out"

# Runs one target; its log is $out/NAME.log, its crash inputs $out/NAME.crash/.
fuzz_one() {
  local name=$1 corpus=$2 dict=$3
  local work=$out/$name.corpus crashes=$out/$name.crash/
  rm -rf "$work" "$crashes"
  mkdir -p "$work" "$crashes"
  cp "tests/data/fuzz/$corpus"/* "$work"/
  local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="$crashes")
  [ "$dict" = "-" ] || args+=(-dict="tests/fuzz/$dict")
  local rc=0
  "$build/tests/fuzz/$name" "${args[@]}" "$work" >"$out/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$out/$name.rc"
}

running=0
for t in "${selected[@]}"; do
  read -r name corpus dict <<<"$t"
  fuzz_one "$name" "$corpus" "$dict" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

# The report, from libFuzzer's own lines: "#N INITED cov: C ft: F ..." at the start, the last
# "cov:" line at the end, and -print_final_stats' "stat::" lines.
status=0
printf '%-26s %12s %9s %16s %9s  %s\n' target executions exec/s "cov start→end" "new units" result
for t in "${selected[@]}"; do
  read -r name corpus dict <<<"$t"
  log=$out/$name.log
  rc=$(cat "$out/$name.rc" 2>/dev/null || echo 99)
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs=$(final_stat number_of_executed_units)
  rate=$(final_stat average_exec_per_sec)
  added=$(final_stat new_units_added)
  cov0=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | head -1)
  cov1=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
  artifacts=$(find "$out/$name.crash" -type f 2>/dev/null | sort)
  result=ok
  if [ "$rc" -ne 0 ] || [ -n "$artifacts" ]; then
    result="FAILED (exit $rc)"
    status=1
  fi
  printf '%-26s %12s %9s %16s %9s  %s\n' "$name" "${execs:--}" "${rate:--}" "${cov0:-?}→${cov1:-?}" \
    "${added:--}" "$result"
done
for t in "${selected[@]}"; do
  read -r name corpus dict <<<"$t"
  rc=$(cat "$out/$name.rc" 2>/dev/null || echo 99)
  artifacts=$(find "$out/$name.crash" -type f 2>/dev/null | sort)
  [ "$rc" -ne 0 ] || [ -n "$artifacts" ] || continue
  echo
  echo "== $name: exit $rc; log $out/$name.log"
  # The sanitizer's or our harness's own words, then where libFuzzer saved the input.
  grep -E '^==[0-9]+==ERROR|^SUMMARY:|invariant violated|contract violated|runtime error|^==[0-9]+== ERROR: libFuzzer' \
    "$out/$name.log" | head -8 || true
  grep -A12 -E '^==[0-9]+==ERROR' "$out/$name.log" | grep -E '^ +#[0-9]+ ' | head -10 || true
  for a in $artifacts; do
    echo "crash input: $a ($(stat -c %s "$a") bytes)"
    echo "  reproduce: $build/tests/fuzz/$name $a"
  done
done
exit $status
