#!/usr/bin/env bash
# Haraka (the Node.js MX, from npm) as a far side for bench/servers/run.sh: accepts any recipient
# of any domain and throws every message away once it has the whole content (a queue hook that
# answers OK), appending one line per message to DIR/received so the bench counts on the far
# side. Installed into a private folder, never globally; the system is not touched beyond
# Debian's nodejs/npm packages when they are missing.
#
# Usage (as root for the apt step only):
#   haraka.sh install          npm install Haraka into $RINGPOST_HARAKA_DIR (default
#                              /var/tmp/ringpost-haraka) unless present; prints its version
#   haraka.sh run DIR IP PORT  write DIR/config + DIR/plugins and exec haraka in the foreground
#                              (the caller runs it in the background and stops it with SIGTERM)
# Haraka's replies are written without TCP_NODELAY (Node's net default), which is the point:
# issue 20 item 7.
set -euo pipefail
hdir=${RINGPOST_HARAKA_DIR:-/var/tmp/ringpost-haraka}
die() { echo "haraka.sh: $*" >&2; exit 1; }

install() {
  if [ -x "$hdir/node_modules/.bin/haraka" ]; then
    node -p "require('$hdir/node_modules/Haraka/package.json').version"
    return 0
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    [ "$(id -u)" -eq 0 ] || die "nodejs/npm missing; as root: apt-get install nodejs npm"
    timeout 300 apt-get install -y -q nodejs npm >/dev/null || die "apt-get install nodejs npm failed"
  fi
  mkdir -p "$hdir"
  # modern-syslog (an optional dependency) wants node-gyp; Haraka runs without it.
  (cd "$hdir" && timeout 600 npm install --no-audit --no-fund Haraka >"$hdir/npm.log" 2>&1) ||
    die "npm install Haraka failed: $(tail -5 "$hdir/npm.log")"
  node -p "require('$hdir/node_modules/Haraka/package.json').version"
}

run() {
  local d=$1 ip=$2 port=$3
  [ -x "$hdir/node_modules/.bin/haraka" ] || die "not installed: $0 install"
  # Haraka's own defaults first (connection.ini's greeting and friends are required), then
  # ours over them.
  [ -d "$d/config" ] || "$hdir/node_modules/.bin/haraka" -i "$d" >/dev/null || die "haraka -i $d failed"
  : >"$d/received"
  # Only our plugin: the defaults (mail_from.is_resolvable, rcpt_to.in_host_list,
  # queue/smtp_forward) would look up DNS and forward.
  echo bench_discard >"$d/config/plugins"
  printf '[main]\nlisten=%s:%s\ninactivity_timeout=60\nnodes=1\n' "$ip" "$port" >"$d/config/smtp.ini"
  echo "mx.haraka.test" >"$d/config/me"
  printf '[main]\nlevel=notice\ntimestamps=false\n' >"$d/config/log.ini"
  cat >"$d/plugins/bench_discard.js" <<EOF
// Accept every recipient; at end of data count the message and drop it.
const fs = require('fs');
exports.hook_rcpt = function (next) { next(OK); };
exports.hook_queue = function (next) {
  fs.appendFileSync('$d/received', '1\n');
  next(OK);
};
EOF
  exec "$hdir/node_modules/.bin/haraka" -c "$d"
}

case ${1:-} in
  install) install ;;
  run) [ $# -eq 4 ] || die "usage: $0 run DIR IP PORT"; run "$2" "$3" "$4" ;;
  *) die "usage: $0 install | run DIR IP PORT" ;;
esac
