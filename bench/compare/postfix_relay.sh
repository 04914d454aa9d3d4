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

die() { echo "postfix_relay: $*" >&2; exit 1; }

write_config() {
  local d=$1 ip=$2 port=$3 relay=$4 conc=$5
  # The services mail passes through, and the ones they call. chroot n: a chrooted service
  # would need copies of /etc files inside the queue directory.
  cat >"$d/etc/master.cf" <<EOF
$ip:$port inet n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  cat >"$d/etc/main.cf" <<EOF
# Private Postfix relay for bench/compare/run.sh (bench/compare/postfix_relay.sh).
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Everything goes to the sink, as ringpost's static route does.
relayhost = [127.0.0.1]:$relay
smtp_tls_security_level = none
smtpd_tls_security_level = none
# The settings under test: connection reuse when a destination has a backlog (Postfix's
# default, stated) and the per-destination parallelism ringpost's max_connections matches.
smtp_connection_cache_on_demand = yes
default_destination_concurrency_limit = $conc
smtp_destination_concurrency_limit = $conc
# Room for the injector's sessions (smtp-source -s 64) plus CONCURRENCY smtp clients; the
# default per-client connection limit (50) would refuse smtp-source's 64 sessions.
default_process_limit = 300
smtpd_client_connection_count_limit = 0
message_size_limit = 52428800
maillog_file = $d/maillog
maillog_file_prefixes = $d
EOF
}

start() {
  local d=$1 ip=${2%:*} port=${2##*:} relay=$3 conc=$4
  [ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's master drops to mail_owner itself)"
  command -v postfix >/dev/null || die "postfix is missing: apt-get install postfix"
  mkdir -p "$d"/etc "$d"/queue "$d"/data
  chmod 755 "$d"  # mktemp -d makes it 0700; the daemons run as mail_owner
  chown postfix: "$d/data"
  write_config "$d" "$ip" "$port" "$relay" "$conc"
  postfix -c "$d/etc" check >"$d/postfix-check.out" 2>&1 || die "postfix check: $(cat "$d/postfix-check.out")"
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
