# shellcheck shell=bash
# The set-up every private Postfix instance of the benchmarks shares (bench/tls/postfix_sink.sh,
# bench/compare/postfix_relay.sh): the directory layout under DIR, the master.cf services and
# main.cf settings both need, and the config check. Sourced, not run; the caller defines
# die MESSAGE (prints its own prefix, exits 1) and writes its own settings after pf_write_config.
# Everything lives under DIR: the system instance (/etc/postfix, /var/spool/postfix) is never
# read or touched.

pf_require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's master drops to mail_owner itself)"
}

# pf_make_dirs DIR [SUBDIR...]: DIR/{etc,queue,data} plus the caller's SUBDIRs.
pf_make_dirs() {
  local d=$1 sub
  shift
  mkdir -p "$d"/etc "$d"/queue "$d"/data
  for sub in "$@"; do mkdir -p "$d/$sub"; done
  # mktemp -d makes DIR 0700; Postfix's daemons run as mail_owner and must get through it.
  chmod 755 "$d"
  chown postfix: "$d/data"
}

# pf_write_config DIR IP PORT MYHOSTNAME TITLE: a new DIR/etc/master.cf and DIR/etc/main.cf
# with what both instances need; the caller appends its own services and settings (`cat >>`).
pf_write_config() {
  local d=$1 ip=$2 port=$3 host=$4 title=$5
  # smtpd on ip:port only, and the services it and anything reaching the queue talk to.
  # chroot n: a chrooted service would need copies of /etc files inside the queue directory.
  cat >"$d/etc/master.cf" <<EOF
$ip:$port inet n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
proxymap  unix  -       -       n       -       -       proxymap
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  cat >"$d/etc/main.cf" <<EOF
# $title
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
myhostname = $host
mydomain = bench.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
# Room for every connection a client opens (smtp-source -s, ringpost's max_connections): the
# default per-client limit of 50 would refuse a client with more.
smtpd_client_connection_count_limit = 0
message_size_limit = 52428800
maillog_file = $d/maillog
maillog_file_prefixes = $d
EOF
}

# pf_check DIR: creates the queue layout with Postfix's own owners and modes, and checks the
# config.
pf_check() {
  postfix -c "$1/etc" check >"$1/postfix-check.out" 2>&1 || die "postfix check: $(cat "$1/postfix-check.out")"
}
