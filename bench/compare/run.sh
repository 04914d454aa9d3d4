#!/usr/bin/env bash
# ringpost end to end against Postfix end to end and against the wire limit, in one run, on one
# machine, into the same sink (`ringpost sink`), for 1 KiB and 10 KiB messages (issue 11):
#   wire      smtp-source -s 64 -d -l SIZE -m N → sink: the fastest a plain SMTP client gets
#             through this sink here, with no queue at all
#   postfix   smtp-source -s 64 -d → a private Postfix (bench/compare/postfix_relay.sh: queue on
#             disk with Postfix's own fsyncs, relayhost = the sink, connection cache on demand),
#             default_destination_concurrency_limit 20 and 64
#   ringpost  `ringpost bench` (HTTP batches of 100 on 4 connections) → `ringpost serve` (spool
#             on disk, fdatasync before each 202, route = the sink), max_connections 20 and 64
# Each case gets a fresh sink that stops once it has counted all N messages; msgs/s is N / (the
# sink's last message − the first injection), both on the wall clock of this machine. CPU per
# message comes from /proc (the MTA: Postfix's process group / ringpost's pid; the sink from its
# own getrusage; the injector from bash `times`). The sink's per-interval counts become one SVG
# per size (delivered msgs/s over time, a line per case).
#
# Usage: `bash bench/compare/run.sh --help` (the usage() text below).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage (root, from anywhere; builds nothing, runs ./build/engine/ringpost):
  bash bench/compare/run.sh [--quick] [N_POSTFIX] [N_FAST]
  bash bench/compare/run.sh --help

ringpost end to end vs Postfix end to end vs the wire limit (smtp-source), each case into a
fresh `ringpost sink`, on this machine.

  (default)  the full run: 1 KiB and 10 KiB messages; cases wire, postfix c=20, postfix c=64,
             ringpost c=20, ringpost c=64; N_POSTFIX=20000, N_FAST=50000; each case at most
             180 s, none started after 9 min (6-8 min on 2 cores, bounded at 9.5 min).
  --quick    a smoke run of about one minute: 1 KiB and 10 KiB; cases wire, postfix c=20 and
             ringpost c=20 only; N_POSTFIX=2000, N_FAST=10000; each case at most 30 s, none
             started after 60 s (bounded at 1.5 min). Too short for figures worth quoting.
  N_POSTFIX  messages for the Postfix cases (they run at ~0.5-2k msgs/s here)
  N_FAST     messages for the wire and ringpost cases (10-25k msgs/s; fewer would make the
             full run's cases too short to measure)

Needs root (Postfix's master, smtp-source's sink user), Postfix (smtp-source, postfix) and a
build (cmake --build build); gnuplot-nox is installed for the SVGs when missing.
Output: a table on stdout; every JSON, series and SVG in RINGPOST_COMPARE_OUT (default
/var/tmp/ringpost-compare-DATE). Exit status 1 when a case did not deliver all N messages.
EOF
}

# Options first: --help must answer without root, Postfix or a build.
quick=0
positional=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --quick) quick=1 ;;
    -*) echo "compare: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
[ "${#positional[@]}" -le 2 ] || { echo "compare: at most two numbers, N_POSTFIX N_FAST" >&2; usage >&2; exit 2; }
for n in ${positional[@]+"${positional[@]}"}; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "compare: '$n' is not a message count" >&2; usage >&2; exit 2; }
done

cd "$(dirname "$0")/../.."
root=$(pwd)
sizes=(1024 10240)
if [ "$quick" -eq 1 ]; then
  n_postfix=${positional[0]:-2000}
  n_fast=${positional[1]:-10000}
  cases=(wire "postfix 20" "ringpost 20")
  budget_s=90  # no case starts after budget_s - 30
  case_max_s=30
else
  n_postfix=${positional[0]:-20000}
  n_fast=${positional[1]:-50000}
  cases=(wire "postfix 20" "postfix 64" "ringpost 20" "ringpost 64")
  budget_s=570
  case_max_s=180
fi
t_start=$(date +%s)

die() { echo "compare: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (Postfix's master and smtp-source's sink user)"
[ -x build/engine/ringpost ] || die "build first: cmake --build build"
command -v smtp-source >/dev/null && command -v postfix >/dev/null || die "needs Postfix: apt-get install postfix"
if ! command -v gnuplot >/dev/null; then
  echo "compare: installing gnuplot-nox for the SVGs" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
    echo "compare: gnuplot unavailable; no SVGs" >&2
fi

out=${RINGPOST_COMPARE_OUT:-/var/tmp/ringpost-compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
# Spools and Postfix queues: on disk (/var/tmp), so both MTAs pay for real fsyncs.
work=$(mktemp -d /var/tmp/ringpost-compare-work-XXXXXX)
chmod 755 "$work"  # Postfix's daemons (mail_owner) must get through to their directories
# A private copy: a rebuild of build/ by someone else mid-run must not change the binary.
cp build/engine/ringpost "$work/ringpost"
bin=$work/ringpost
relay=$root/bench/compare/postfix_relay.sh

postfix_dirs=()  # instances to stop on exit
cleanup() {
  # Only this shell's own background jobs still running (sinks, servers): never a pid that
  # exited and may have been reused.
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  for d in "${postfix_dirs[@]}"; do "$relay" stop "$d" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port_base=$((20000 + RANDOM % 20000))
port_i=0
# Sets $port to the next port no socket uses yet (other tests run on this machine too). Not
# called as $(next_port): a subshell would lose the increment.
next_port() {
  while :; do
    port_i=$((port_i + 1))
    port=$((port_base + port_i))
    awk -v s="$(printf ':%04X' "$port")" 'substr($2, length($2) - 4) == s {f = 1} END {exit f}' /proc/net/tcp && break
  done
}

# LISTEN on 127.0.0.1:$1 per /proc/net/tcp: no probe connection, which the sink would count.
wait_listen() {
  local hex
  hex=$(printf '0100007F:%04X' "$1")
  for _ in $(seq 200); do
    awk -v a="$hex" '$2 == a && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp && return 0
    sleep 0.05
  done
  die "nothing listens on 127.0.0.1:$1"
}

proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz}' "/proc/$1/stat"; }
jget() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
now_ms() { date +%s%3N; }
# Children's user + system seconds from bash `times` (its second line), for the injector.
child_cpu() { tail -1 | awk '{gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4}'; }

# The time left for one case: what remains of the budget, at most case_max_s.
case_bound() {
  local left=$((budget_s - ($(date +%s) - t_start)))
  [ "$left" -gt "$case_max_s" ] && left=$case_max_s
  echo "$left"
}

sink_pid=""
start_sink() {  # name messages port bound
  "$bin" sink --listen "127.0.0.1:$3" --messages "$2" --duration "$4" --interval 200 --series "$out/$1.tsv" \
    --json --quiet >"$out/$1.sink.json" 2>"$out/$1.sink.err" &
  sink_pid=$!
  wait_listen "$3"
}

results=$out/results.tsv
printf 'size\tcase\tn\tmessages\tseconds\tmta_cpu_s\tinjector_cpu_s\tsink_cpu_s\tconnections\tbytes_per_msg\n' >"$results"

# Appends the case's row and its plot data (seconds since the first injection, msgs/s).
record() {  # name size case n t0_ms mta_cpu injector_cpu
  local name=$1 sj=$out/$1.sink.json msgs last secs sink_cpu conns bytes
  msgs=$(jget "$sj" messages)
  last=$(jget "$sj" last_message_unix_ms)
  secs=$(awk -v a="$last" -v b="$5" 'BEGIN {printf "%.3f", (a - b) / 1000}')
  sink_cpu=$(awk -v u="$(jget "$sj" cpu_user_s)" -v s="$(jget "$sj" cpu_sys_s)" 'BEGIN {printf "%.3f", u + s}')
  conns=$(jget "$sj" connections)
  bytes=$(awk -v b="$(jget "$sj" message_bytes)" -v m="$msgs" 'BEGIN {printf "%.0f", m ? b / m : 0}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$3" "$4" "$msgs" "$secs" "$6" "$7" "$sink_cpu" "$conns" "$bytes" >>"$results"
  # Intervals that ended before the first injection (the sink starts first) are left out.
  awk -v t0="$5" '!/^#/ && $2 >= t0 {printf "%.3f\t%s\n", ($2 - t0) / 1000, $5}' "$out/$name.tsv" >"$out/$name.dat"
  echo "compare: $name: $msgs/$4 messages in $secs s" >&2
}

case_wire() {  # size
  local size=$1 name=wire-$1 t0 inj
  next_port
  start_sink "$name" "$n_fast" "$port" "$(case_bound)"
  t0=$(now_ms)
  inj=$( (smtp-source -s 64 -d -l "$size" -m "$n_fast" -f a@src.bench.test -t b@bench.test "127.0.0.1:$port" \
    >"$out/$name.source.log" 2>&1 || true; times) | child_cpu)
  wait "$sink_pid" || true
  record "$name" "$size" wire "$n_fast" "$t0" - "$inj"
}

case_postfix() {  # concurrency size
  local conc=$1 size=$2 name=postfix$1-$2 sport pport dir t0 inj cpu0 cpu1
  next_port; sport=$port
  next_port; pport=$port
  dir=$work/$name
  start_sink "$name" "$n_postfix" "$sport" "$(case_bound)"
  postfix_dirs+=("$dir")
  "$relay" start "$dir" "127.0.0.1:$pport" "$sport" "$conc"
  cpu0=$("$relay" cpu "$dir")
  t0=$(now_ms)
  inj=$( (smtp-source -s 64 -d -l "$size" -m "$n_postfix" -f a@src.bench.test -t b@bench.test "127.0.0.1:$pport" \
    >"$out/$name.source.log" 2>&1 || true; times) | child_cpu)
  wait "$sink_pid" || true
  cpu1=$("$relay" cpu "$dir")
  cp "$dir/maillog" "$out/$name.maillog" 2>/dev/null || true
  "$relay" stop "$dir"
  record "$name" "$size" "postfix c=$conc" "$n_postfix" "$t0" "$(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN {printf "%.3f", a - b}')" "$inj"
}

case_ringpost() {  # max_connections size
  local conc=$1 size=$2 name=ringpost$1-$2 sport hport rp t0 inj cpu0 cpu1
  next_port; sport=$port
  next_port; hport=$port
  mkdir -p "$work/$name"
  cat >"$work/$name/ringpost.toml" <<EOF
[server]
http_listen = "127.0.0.1:$hport"
spool_dir = "$work/$name/spool"
[domains."bench.test"]
route = "127.0.0.1:$sport"
max_connections = $conc
tls = "off"
EOF
  start_sink "$name" "$n_fast" "$sport" "$(case_bound)"
  "$bin" serve --config "$work/$name/ringpost.toml" >"$out/$name.serve.log" 2>&1 &
  rp=$!
  wait_listen "$hport"
  cpu0=$(proc_cpu "$rp")
  t0=$(now_ms)
  inj=$( ("$bin" bench --url "http://127.0.0.1:$hport" --messages "$n_fast" --batch 100 --concurrency 4 --size "$size" \
    --domain bench.test --server-pid "$rp" --wait "$(case_bound)" --json >"$out/$name.bench.json" 2>"$out/$name.bench.err" ||
    true; times) | child_cpu)
  wait "$sink_pid" || true
  cpu1=$(proc_cpu "$rp")
  kill -TERM "$rp"
  wait "$rp" || true
  record "$name" "$size" "ringpost c=$conc" "$n_fast" "$t0" "$(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN {printf "%.3f", a - b}')" "$inj"
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r);" \
  "postfix $(postconf -d -h mail_version 2>/dev/null); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "N: postfix cases $n_postfix, wire and ringpost cases $n_fast; sink: ringpost sink (PIPELINING, CHUNKING, 8BITMIME, no TLS)"
if [ "$quick" -eq 1 ]; then
  echo "mode: --quick (cases: ${cases[*]}; at most $case_max_s s each): a smoke run, not figures to quote"
fi
for size in "${sizes[@]}"; do
  for c in "${cases[@]}"; do
    if [ $(($(date +%s) - t_start)) -gt $((budget_s - 30)) ]; then
      echo "compare: time budget spent; skipping $c at $size bytes" >&2
      continue
    fi
    # "postfix 20" → case_postfix 20 SIZE
    # shellcheck disable=SC2086
    case_$c "$size"
  done
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - t_start)) s"
python3 "$root/bench/compare/report.py" "$results"
if command -v gnuplot >/dev/null; then
  for size in "${sizes[@]}"; do
    files=$(ls "$out"/*-"$size".dat 2>/dev/null | tr '\n' ' ')
    [ -n "$files" ] || continue
    gnuplot -e "files='$files'; size='$size'; out='$out/delivered-$size.svg'" "$root/bench/compare/plot.gp"
    echo "plot: $out/delivered-$size.svg"
  done
fi
echo "results: $out"
