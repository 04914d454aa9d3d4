#!/usr/bin/env bash
# ringpost against real SMTP servers, one connection at a time (issue 20, item 7): per-transaction
# latency and messages/s per connection against Postfix's smtp-sink, a private Postfix, Exim,
# OpenSMTPD, aiosmtpd (the servers the tests start, started the same way) and Haraka from npm.
# A server that answers slowly per transaction caps every connection to it, whatever the
# window; this bench shows which servers do and what ringpost adds.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage (root, from anywhere; builds nothing, runs ./build/engine/ringpost and
./build/tests/interop/interop_mx_serve):
  bash bench/servers/run.sh [--messages N] [--repeat R] [--servers "LIST"] [--baseline BIN] [--quick]

For each server: start it on its own loopback port, then for each ringpost binary (BIN first
when --baseline is given, then ./build/engine/ringpost) start `ringpost serve` with a static
route to it, max_connections = 1 and initial_connections = 1 (so one connection at a time
carries every message; a new one after each 100 messages, ringpost's default
max_msgs_per_connection and OpenSMTPD's per-session limit), submit N messages of 1 KiB in one
HTTP batch (`ringpost bench`), wait for every outcome, and read the delivery log:

  ms/tx     (last delivered - first delivered) / (delivered - 1), on ringpost's clock: the
            time one transaction occupies the connection, submission and connection set-up
            excluded
  msgs/s    1000 / ms/tx: one connection's ceiling against this server
  attempt   mean attempt_ms of the delivery log: hand-over to the connection -> final reply
  conns     connections ringpost opened (GET /v1/stats): N / 100 rounded up when all is well
  far       messages the server itself counted (maildir files; Exim: receptions in its
            mainlog, as it queues all but 10 per connection without delivering them; Haraka:
            its queue hook; aiosmtpd: its event log; smtp-sink: its counter)

  --messages N   per server and binary (default 100; 50 with --quick)
  --repeat R     R cases per server and binary, alternating binaries (default 3; 1 with
                 --quick); the table shows the median of each column
  --servers L    any of: smtp-sink postfix exim opensmtpd aiosmtpd haraka (default: all)
  --baseline BIN a second ringpost binary measured in the same run (before/after a change);
                 the table then shows both and their ratio
  --quick        N = 50, R = 1: a smoke run (about 30 s), too short for figures to quote

Exim and OpenSMTPD come from `bash scripts/fetch-interop-servers.sh` (run it first, as root);
Haraka is installed by bench/servers/haraka.sh into /var/tmp/ringpost-haraka (npm). A server
that cannot start is reported and skipped. Each case is bounded (120 s of waiting for outcomes),
the whole run at 20 min. Output: RINGPOST_SERVERS_OUT (default /var/tmp/ringpost-servers-DATE):
results.tsv, per-case configs, logs and delivery logs.
EOF
}

n=100
repeat=3
servers="smtp-sink postfix exim opensmtpd aiosmtpd haraka"
baseline=""
while [ $# -gt 0 ]; do
  case $1 in
    --messages) n=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --servers) servers=$2; shift 2 ;;
    --baseline) baseline=$2; shift 2 ;;
    --quick) n=50; repeat=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

die() { echo "servers: $*" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix, Exim and OpenSMTPD drop privileges themselves)"
[ -x build/engine/ringpost ] || die "build first: cmake --build build --target ringpost"
[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 2 ] && [ "$n" -le 1000 ] || die "--messages must be 2..1000 (one HTTP batch)"
[[ $repeat =~ ^[0-9]+$ ]] && [ "$repeat" -ge 1 ] && [ "$repeat" -le 20 ] || die "--repeat must be 1..20"

t_start=$(date +%s)
budget_s=1200   # the whole run
case_wait_s=120 # per case: outcomes must all be in by then
out=${RINGPOST_SERVERS_OUT:-/var/tmp/ringpost-servers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
# Spools on disk like a deployment; the servers' own directories are where their harness puts
# them (the interop classes: mkdtemp under /tmp).
work=$(mktemp -d /var/tmp/ringpost-servers-work-XXXXXX)
chmod 755 "$work"
# Private copies: someone else's rebuild of build/ mid-run must not change the binaries.
cp build/engine/ringpost "$work/ringpost-current"
bins=()
labels=()
if [ -n "$baseline" ]; then
  [ -x "$baseline" ] || die "--baseline $baseline: not an executable"
  cp "$baseline" "$work/ringpost-baseline"
  bins+=("$work/ringpost-baseline"); labels+=(baseline)
fi
bins+=("$work/ringpost-current"); labels+=(current)
mx_serve=$root/build/tests/interop/interop_mx_serve
py=/usr/bin/python3  # Debian's, with python3-aiosmtpd (a pyenv shim on PATH has neither)

srv_pid=""   # the server of the current case (a background job of this shell)
rp_pid=""    # the ringpost of the current case
cleanup() {
  # SIGTERM first so each stops its own children (interop_mx_serve stops the whole daemon
  # group, Haraka its worker); only this shell's own jobs, never a reused pid.
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do [ -z "$(jobs -rp)" ] && break; sleep 0.1; done
  for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# interop_mx_serve stops its server when its stdin reaches EOF: its stdin is the read side of a
# fifo whose only writer is this shell's fd 3, so even a SIGKILLed bench leaves no daemon
# behind. Every other background child gets 3>&- so that it does not hold the fifo open.
mkfifo "$work/hold"
exec 3<>"$work/hold"

# shellcheck source=SCRIPTDIR/../lib/ports.sh
. "$root/bench/lib/ports.sh"  # next_port

# LISTEN on ip:port per /proc/net/tcp, without a probe connection (servers count sessions).
wait_listen() {  # ip port what
  local hex
  hex=$(echo "$1" | awk -F. -v p="$2" '{printf "%02X%02X%02X%02X:%04X", $4, $3, $2, $1, p}')
  for _ in $(seq 400); do
    awk -v a="$hex" '$2 == a && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp && return 0
    sleep 0.05
  done
  echo "servers: $3: nothing listens on $1:$2 after 20 s" >&2
  return 1
}

# --- the servers: each start_* sets srv_ip, srv_port, srv_domain, srv_dir and returns 1 (with
# a line on stderr) when the server cannot run here; far_count prints what it counted.

start_mx() {  # postfix|exim|opensmtpd: the interop harness's own configuration (tests/interop)
  local kind=$1 line
  [ -x "$mx_serve" ] || { echo "servers: $kind: build first: cmake --build build --target interop_mx_serve" >&2; return 1; }
  srv_domain=$kind.bench.test
  "$mx_serve" "$kind" "$srv_domain" <"$work/hold" 3>&- >"$out/$kind.serve.out" 2>"$out/$kind.serve.err" &
  srv_pid=$!
  for _ in $(seq 300); do
    line=$(grep -m1 '^ready ' "$out/$kind.serve.out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$line" ]; then
    echo "servers: $kind: did not start: $(tail -3 "$out/$kind.serve.err")" >&2
    return 1
  fi
  read -r _ ep srv_dir <<<"$line"
  srv_ip=${ep%:*}
  srv_port=${ep##*:}
}

start_smtp_sink() {
  next_port
  srv_ip=127.0.0.1 srv_port=$port srv_domain=sink.bench.test srv_dir=$work/smtp-sink
  mkdir -p "$srv_dir"
  # -c: running counts on stdout (the far-side count); -m: sessions at once.
  smtp-sink -u nobody -c -h sink.bench.test -m 64 "$srv_ip:$srv_port" 1024 3>&- >"$srv_dir/counts" 2>"$out/smtp-sink.err" &
  srv_pid=$!
  wait_listen "$srv_ip" "$srv_port" smtp-sink
}

start_aiosmtpd() {
  next_port
  srv_ip=127.0.0.1 srv_port=$port srv_domain=aiosmtpd.bench.test srv_dir=$work/aiosmtpd
  mkdir -p "$srv_dir"
  # The integration tests' server (one JSON line per event, flushed at once).
  "$py" tests/integration/scripted_smtp.py --port "$srv_port" --log "$srv_dir/events.jsonl" --mode accept \
    3>&- >"$out/aiosmtpd.out" 2>&1 &
  srv_pid=$!
  wait_listen "$srv_ip" "$srv_port" aiosmtpd
}

start_haraka() {
  local v
  v=$(bench/servers/haraka.sh install) || return 1
  echo "servers: Haraka $v" >&2
  next_port
  srv_ip=127.0.0.1 srv_port=$port srv_domain=haraka.bench.test srv_dir=$work/haraka
  bench/servers/haraka.sh run "$srv_dir" "$srv_ip" "$srv_port" 3>&- >"$out/haraka.out" 2>&1 &
  srv_pid=$!
  wait_listen "$srv_ip" "$srv_port" haraka
}

far_count() {  # server
  case $1 in
    # smtp_accept_queue_per_connection (10): Exim only queues the rest, and the harness runs
    # no queue runner, so its maildir would say 10.
    exim) grep -c ' <= ' "$srv_dir/log/mainlog" 2>/dev/null || true ;;
    postfix | opensmtpd) find "$srv_dir/mail/inbox/new" "$srv_dir/mail/inbox/cur" -type f 2>/dev/null | wc -l ;;
    smtp-sink) tr '\r' '\n' <"$srv_dir/counts" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -1 ;;
    aiosmtpd) grep -c '"event": "message"' "$srv_dir/events.jsonl" || true ;;
    haraka) wc -l <"$srv_dir/received" ;;
  esac
}

stop_server() {
  [ -n "$srv_pid" ] || return 0
  kill -TERM "$srv_pid" 2>/dev/null || true
  # Bounded: interop_mx_serve waits for the daemon group, Haraka for its worker.
  for _ in $(seq 150); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=""
}

# --- one case: one ringpost binary against the running server --------------------------------

results=$out/results.tsv
printf 'server\tbinary\trun\tn\tdelivered\tms_per_tx\tmsgs_per_s\tattempt_ms\tconns\tfar\n' >"$results"

case_ringpost() {  # server label bin run
  local server=$1 label=$2 bin=$3 run=$4 name=$1-$2-$4 cdir hport far0 far1 conns row
  cdir=$work/$name
  mkdir -p "$cdir"
  next_port; hport=$port
  cat >"$cdir/ringpost.toml" <<EOF
[server]
http_listen = "127.0.0.1:$hport"
spool_dir = "$cdir/spool"
[log]
level = "warn"
delivery_log = "$cdir/delivery.log"
[domains."$srv_domain"]
route = "$srv_ip:$srv_port"
max_connections = 1
initial_connections = 1
max_msgs_per_connection = 100
tls = "off"
EOF
  far0=$(far_count "$server")
  "$bin" serve --config "$cdir/ringpost.toml" 3>&- >"$out/$name.serve.log" 2>&1 &
  rp_pid=$!
  wait_listen 127.0.0.1 "$hport" "ringpost serve" || return 0
  local bp
  timeout $((case_wait_s + 30)) "$bin" bench --url "http://127.0.0.1:$hport" --messages "$n" --batch "$n" --concurrency 1 \
    --domain "$srv_domain" --server-pid "$rp_pid" --wait "$case_wait_s" --json >"$out/$name.bench.json" \
    2>"$out/$name.bench.err" 3>&- &
  bp=$!
  # A server that died would leave the bench waiting out --wait for outcomes that never come.
  while kill -0 "$bp" 2>/dev/null; do
    if ! kill -0 "$rp_pid" 2>/dev/null; then
      echo "servers: $name: ringpost serve exited during the case (see $out/$name.serve.log)" >&2
      kill -TERM "$bp" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$bp" || echo "servers: $name: ringpost bench failed or timed out (see $out/$name.bench.err)" >&2
  conns=$(curl -s -m 5 "http://127.0.0.1:$hport/v1/stats" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["connections_opened"])' 2>/dev/null || echo "?")
  kill -TERM "$rp_pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$rp_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$rp_pid" 2>/dev/null || true
  wait "$rp_pid" 2>/dev/null || true
  rp_pid=""
  cp "$cdir/delivery.log" "$out/$name.delivery.log" 2>/dev/null || true
  # Delivery happens after the server's 250 in another process for the maildir servers: wait
  # (bounded) for the far side to catch up before counting.
  for _ in $(seq 100); do
    far1=$(far_count "$server")
    [ $((far1 - far0)) -ge "$n" ] && break
    sleep 0.1
  done
  row=$("$py" "$root/bench/servers/summarize.py" "$cdir/delivery.log") || row=$'0\t-\t-\t-'
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$label" "$run" "$n" "$row" "$conns" "$((far1 - far0))" >>"$results"
  echo "servers: $name: $(tail -1 "$results" | cut -f5-)" >&2
}

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); cores: $(nproc); kernel: $(uname -r);" \
  "load: $(cut -d' ' -f1-3 /proc/loadavg); N: $n per case, $repeat case(s) per server and binary, 1 KiB, one connection"
for server in $servers; do
  if [ $(($(date +%s) - t_start)) -gt $((budget_s - case_wait_s)) ]; then
    echo "servers: time budget spent; skipping $server" >&2
    continue
  fi
  case $server in
    postfix | exim | opensmtpd) start_mx "$server" || { stop_server; continue; } ;;
    smtp-sink) start_smtp_sink || { stop_server; continue; } ;;
    aiosmtpd) start_aiosmtpd || { stop_server; continue; } ;;
    haraka) start_haraka || { stop_server; continue; } ;;
    *) die "unknown server $server (smtp-sink postfix exim opensmtpd aiosmtpd haraka)" ;;
  esac
  # Alternating, so drift in the machine's load (other jobs share these 2 cores) hits both.
  for r in $(seq "$repeat"); do
    for i in "${!bins[@]}"; do
      if [ $(($(date +%s) - t_start)) -gt $((budget_s - case_wait_s)) ]; then
        echo "servers: time budget spent; skipping $server ${labels[$i]} run $r" >&2
        continue
      fi
      case_ringpost "$server" "${labels[$i]}" "${bins[$i]}" "$r"
    done
  done
  stop_server
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg); total $(($(date +%s) - t_start)) s"
"$py" "$root/bench/servers/summarize.py" --table "$results"
echo "results: $out"
