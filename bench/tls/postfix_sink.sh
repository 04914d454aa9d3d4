#!/usr/bin/env bash
# A private Postfix smtpd on loopback that offers STARTTLS and throws every message away: the
# TLS-capable sink for bench/tls/run.sh (smtp-sink and smtp-source cannot do STARTTLS). Set up
# the way tests/interop/postfix_mx.cc sets up its private instance (tests/interop/README.md says
# why each setting is there); what differs is delivery: there is none. Every recipient gets the
# access action DISCARD, so smtpd answers 250 to everything ("NOQUEUE: discard" at RCPT time)
# and cleanup, which still receives the content, writes a queue file into incoming/ and unlinks
# it at end of data, without an fsync; qmgr and the delivery agents never see a message. Put
# DIR on tmpfs and those file operations cost no disk I/O. The system instance (/etc/postfix,
# /var/spool/postfix) is never read or touched.
#
# Usage (as root):
#   postfix_sink.sh start DIR IP:PORT   write DIR/{etc,queue,data,tls}, start master in the
#                                       background, wait (at most 20 s) for LISTEN on IP:PORT
#   postfix_sink.sh stop DIR            stop master and every child (bounded waits)
#   postfix_sink.sh stats DIR           counts so far, from DIR/maillog (the far side):
#                                       connections=N tls=N resumed=N discarded=N
#   postfix_sink.sh cpu DIR             CPU seconds (user + system) the instance used so far
# DIR must be new or empty; the caller removes it after stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/postfix.sh
. "$here/../lib/postfix.sh"

master=/usr/lib/postfix/sbin/master

die() { echo "postfix_sink: $*" >&2; exit 1; }

# A socket is in LISTEN on ip:port (per /proc/net/tcp, no probe connection: it would show up
# in the counts) and, given a pid ($3), that process holds it (per its fds).
listening() {
  local ip=$1 port=$2 pid=$3 hex inode fd
  # /proc/net/tcp writes 127.0.0.1:25 as 0100007F:0019 (address bytes in host order).
  hex=$(echo "$ip" | awk -F. -v p="$port" '{printf "%02X%02X%02X%02X:%04X", $4, $3, $2, $1, p}')
  while read -r inode; do
    [ -z "$pid" ] && return 0
    for fd in "/proc/$pid/fd/"*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "socket:[$inode]" ] && return 0
    done
  done < <(awk -v a="$hex" '$2 == a && $4 == "0A" {print $10}' /proc/net/tcp)
  return 1
}

# The pids in process group $1, from /proc (no procps needed): the third field after the ")"
# that ends the command name in /proc/PID/stat. Pure bash: a process may vanish mid-loop.
group_pids() {
  local f line fields
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    read -ra fields <<<"${line##*) }"
    [ "${fields[2]}" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
  done
  return 0
}

write_config() {
  local d=$1 ip=$2 port=$3
  pf_write_config "$d" "$ip" "$port" sink.bench.test \
    "Private Postfix instance for bench/tls/run.sh (bench/tls/postfix_sink.sh)."
  # tlsmgr, for the ticket keys that let any smtpd process resume a session another one
  # started. qmgr, bounce and the discard/error transports (pf_write_config) serve anything
  # that would reach the queue; nothing does.
  cat >>"$d/etc/master.cf" <<EOF
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
EOF
  cat >>"$d/etc/main.cf" <<EOF
proxy_interfaces = $ip
local_header_rewrite_clients =
# Nothing is delivered and nothing leaves: every recipient of every client is discarded at
# RCPT time (cleanup drops the message at end of data), anything that still reaches the queue
# (a bounce) is discarded too.
smtpd_recipient_restrictions = check_recipient_access static:DISCARD
default_transport = discard:
relay_transport = discard:
local_transport = discard:
# qmgr hands out a flow token per message it takes in, and it takes in none: with the default
# 1s, cleanup waits out the full delay before each message (measured: 2,000 messages from
# smtp-source -s 16 took 113 s instead of 0.7 s).
in_flow_delay = 0
# Room for every connection a client opens (ringpost: max_connections per shard, smtp-source -s).
default_process_limit = 200
smtpd_forbid_unauth_pipelining = yes
# STARTTLS offered, not required. No session cache database: resumption is by TLS 1.3 /
# RFC 5077 tickets, whose keys tlsmgr hands to every smtpd process. Loglevel 2 is the first
# that says "Reusing old session" for a resumed handshake (what 'stats' counts); it adds ~20
# lines per handshake and nothing per message, so it costs little next to the one line per
# message that DISCARD logs.
smtpd_tls_security_level = may
smtpd_tls_cert_file = $d/tls/cert.pem
smtpd_tls_key_file = $d/tls/key.pem
smtpd_tls_loglevel = 2
smtpd_tls_session_cache_database =
EOF
}

start() {
  local d=$1 ip=${2%:*} port=${2##*:}
  pf_require_root
  [ -x "$master" ] || die "$master is missing: apt-get install postfix"
  # Postfix binds with SO_REUSEPORT (seen: it listened beside a running smtp-sink), so a port
  # someone else listens on would silently split the clients between the two.
  listening "$ip" "$port" "" && die "$ip:$port is already in LISTEN: pick another port"
  pf_make_dirs "$d" tls
  # Throwaway self-signed certificate, as tests/interop/test_certificate.cc makes one.
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/tls/key.pem" -out "$d/tls/cert.pem" \
    -days 7 -subj /CN=sink.bench.test -addext "subjectAltName=DNS:sink.bench.test,IP:$ip" \
    >"$d/tls/openssl.out" 2>&1 || die "openssl req failed: $(cat "$d/tls/openssl.out")"
  chmod 600 "$d/tls/key.pem"
  write_config "$d" "$ip" "$port"
  pf_check "$d"
  # master -d stays in the foreground instead of daemonizing; setsid -f runs it in a session
  # (and process group) of its own, whichever shell runs us, so that stop can reach every child
  # it forks. Its pid comes from the pid file master writes itself.
  setsid -f "$master" -c "$d/etc" -d >"$d/master.out" 2>&1 </dev/null
  local pid=""
  for _ in $(seq 200); do
    [ -n "$pid" ] || pid=$( { tr -d ' \n' <"$d/queue/pid/master.pid"; } 2>/dev/null || true)
    if [ -n "$pid" ]; then
      echo "$pid" >"$d/master.pid.ours"
      kill -0 "$pid" 2>/dev/null || die "master exited: $(cat "$d/master.out" "$d/maillog" 2>/dev/null)"
      listening "$ip" "$port" "$pid" && return 0
    fi
    sleep 0.1
  done
  die "not listening on $ip:$port after 20 s: $(cat "$d/master.out" "$d/maillog" 2>/dev/null)"
}

stop() {
  local d=$1 pid
  pid=$(cat "$d/master.pid.ours" 2>/dev/null) || return 0
  # SIGTERM to master: it terminates its children itself; then whatever is left of the group.
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  for _ in $(seq 100); do [ -n "$(group_pids "$pid")" ] || break; sleep 0.1; done
  rm -f "$d/master.pid.ours"
}

stats() {
  local log=$1/maillog
  [ -f "$log" ] || { echo "connections=0 tls=0 resumed=0 discarded=0"; return; }
  # grep -c prints 0 and exits 1 when nothing matches; that is a count, not an error.
  local conn tls resumed discarded
  conn=$(grep -c 'smtpd\[[0-9]*\]: connect from' "$log" || true)
  tls=$(grep -c 'TLS connection established from' "$log" || true)
  resumed=$(grep -c 'Reusing old session' "$log" || true)
  discarded=$(grep -c 'NOQUEUE: discard: RCPT from' "$log" || true)
  echo "connections=$conn tls=$tls resumed=$resumed discarded=$discarded"
}

# Live processes of the group (utime + stime) plus what master has reaped (cutime + cstime:
# a cleanup process exits after max_use messages, an smtpd after max_use connections). Fields
# 14-17 of /proc/PID/stat. Clock-tick resolution, per process.
cpu() {
  local pg p
  pg=$(cat "$1/master.pid.ours" 2>/dev/null) || die "not running: $1"
  for p in $(group_pids "$pg"); do cat "/proc/$p/stat" 2>/dev/null || true; done |
    awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); t += $12 + $13 + $14 + $15} END {printf "%.3f\n", t / hz}'
}

case "${1:-}" in
  start) [ $# -eq 3 ] || die "usage: $0 start DIR IP:PORT"; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  stats) [ $# -eq 2 ] || die "usage: $0 stats DIR"; stats "$2" ;;
  cpu) [ $# -eq 2 ] || die "usage: $0 cpu DIR"; cpu "$2" ;;
  *) die "usage: $0 start DIR IP:PORT | stop DIR | stats DIR | cpu DIR" ;;
esac
