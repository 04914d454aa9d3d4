#!/usr/bin/env bash
# A private Postfix instance that queues what it receives and relays it to one SMTP server: the
# "Postfix end to end" case of bench/compare/run.sh. Unlike bench/tls/postfix_sink.sh (which
# discards at RCPT), every message takes Postfix's whole path: smtpd → cleanup (queue file
# written and fsynced, Postfix's durability promise before its 250) → qmgr → smtp client →
# relayhost, with the smtp client's connection cache. The queue lives under DIR, so put DIR on
# a disk, not tmpfs, for the fsyncs to mean what they do in production. The system instance
# (/etc/postfix, /var/spool/postfix) is never read or touched.
#
# Usage (as root):
#   postfix_relay.sh start DIR IP:PORT RELAY_PORT CONCURRENCY
#       write DIR/{etc,queue,data}, `postfix -c DIR/etc start`, wait (at most 20 s) for LISTEN
#       on IP:PORT. Mail to any domain goes to [127.0.0.1]:RELAY_PORT with at most CONCURRENCY
#       parallel deliveries (default_destination_concurrency_limit).
#   postfix_relay.sh stop DIR     stop the instance (bounded waits)
#   postfix_relay.sh cpu DIR      CPU seconds (user + system) of the instance so far
#   postfix_relay.sh queued DIR   messages still in the queue (files under active/incoming/deferred)
# DIR must be new or empty; the caller removes it after stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# stop and cpu are the same job for any private instance whose master pid is in
# DIR/master.pid.ours: bench/tls/postfix_sink.sh already does both.
pf_sink=$here/../tls/postfix_sink.sh
# shellcheck source=SCRIPTDIR/../lib/postfix.sh
. "$here/../lib/postfix.sh"

die() { echo "postfix_relay: $*" >&2; exit 1; }

write_config() {
  local d=$1 ip=$2 port=$3 relay=$4 conc=$5
  pf_write_config "$d" "$ip" "$port" relay.bench.test \
    "Private Postfix relay for bench/compare/run.sh (bench/compare/postfix_relay.sh)."
  # What mail passes through on its way out, and the services those call.
  cat >>"$d/etc/master.cf" <<EOF
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
retry     unix  -       -       n       -       -       error
EOF
  cat >>"$d/etc/main.cf" <<EOF
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
local_recipient_maps =
# Everything goes to the sink, as ringpost's static route does.
relayhost = [127.0.0.1]:$relay
smtp_tls_security_level = none
smtpd_tls_security_level = none
# The settings under test: connection reuse when a destination has a backlog (Postfix's
# default, stated) and the per-destination parallelism ringpost's max_connections matches.
smtp_connection_cache_on_demand = yes
default_destination_concurrency_limit = $conc
smtp_destination_concurrency_limit = $conc
# Room for the injector's sessions (smtp-source -s 64) plus CONCURRENCY smtp clients.
default_process_limit = 300
EOF
}

start() {
  local d=$1 ip=${2%:*} port=${2##*:} relay=$3 conc=$4
  pf_require_root
  command -v postfix >/dev/null || die "postfix is missing: apt-get install postfix"
  pf_make_dirs "$d"
  write_config "$d" "$ip" "$port" "$relay" "$conc"
  pf_check "$d"
  postfix -c "$d/etc" start >"$d/postfix-start.out" 2>&1 || die "postfix start: $(cat "$d/postfix-start.out" "$d/maillog" 2>/dev/null)"
  local pid=""
  for _ in $(seq 200); do
    pid=$( { tr -d ' \n' <"$d/queue/pid/master.pid"; } 2>/dev/null || true)
    # master daemonizes with setsid(): its pid is its process group, which cpu/stop rely on.
    if [ -n "$pid" ] && awk -v p="$(printf '%04X' "$port")" '$2 ~ ":"p"$" && $4 == "0A" {f=1} END {exit !f}' /proc/net/tcp; then
      echo "$pid" >"$d/master.pid.ours"
      return 0
    fi
    sleep 0.1
  done
  die "not listening on $ip:$port after 20 s: $(cat "$d/maillog" 2>/dev/null | tail -5)"
}

queued() {
  find "$1/queue/incoming" "$1/queue/active" "$1/queue/deferred" -type f 2>/dev/null | wc -l
}

case "${1:-}" in
  start) [ $# -eq 5 ] || die "usage: $0 start DIR IP:PORT RELAY_PORT CONCURRENCY"; start "$2" "$3" "$4" "$5" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; "$pf_sink" stop "$2" ;;
  cpu) [ $# -eq 2 ] || die "usage: $0 cpu DIR"; "$pf_sink" cpu "$2" ;;
  queued) [ $# -eq 2 ] || die "usage: $0 queued DIR"; queued "$2" ;;
  *) die "usage: $0 start DIR IP:PORT RELAY_PORT CONCURRENCY | stop DIR | cpu DIR | queued DIR" ;;
esac
