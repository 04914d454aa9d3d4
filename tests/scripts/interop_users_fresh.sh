#!/usr/bin/env bash
# Guard for issue 17: the user/group creation of scripts/fetch-interop-servers.sh must work
# where none of the names exist yet. On a machine that already ran it the real /etc has them,
# so the creation would never run; here it runs against a throw-away root (useradd/groupadd
# --prefix) whose passwd/group hold only the base system's entries.
set -euo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (useradd --prefix)"; exit 77; }

SYSROOT=$(mktemp -d)
trap 'rm -rf "$SYSROOT"' EXIT
mkdir -p "$SYSROOT/etc"
names='^(Debian-exim|opensmtpd|opensmtpq):'
for db in passwd group shadow gshadow; do
  if [ -f "/etc/$db" ]; then grep -vE "$names" "/etc/$db" > "$SYSROOT/etc/$db" || true; else : > "$SYSROOT/etc/$db"; fi
done
chmod 0640 "$SYSROOT/etc/shadow" "$SYSROOT/etc/gshadow"
# useradd reads its defaults from the prefix too.
[ -f /etc/login.defs ] && cp /etc/login.defs "$SYSROOT/etc/"
mkdir -p "$SYSROOT/etc/default"; [ -f /etc/default/useradd ] && cp /etc/default/useradd "$SYSROOT/etc/default/"

etc_before=$(md5sum /etc/passwd /etc/group)
RINGPOST_INTEROP_SYSROOT="$SYSROOT" bash "$ROOT_DIR/scripts/fetch-interop-servers.sh" --users-only

fail=0
for n in Debian-exim opensmtpd opensmtpq; do
  grep -q "^$n:" "$SYSROOT/etc/group" || { echo "FAIL: group $n not created"; fail=1; }
  line=$(grep "^$n:" "$SYSROOT/etc/passwd" || true)
  [ -n "$line" ] || { echo "FAIL: user $n not created"; fail=1; continue; }
  uid=$(cut -d: -f3 <<<"$line"); gid=$(cut -d: -f4 <<<"$line")
  # A system user: uid below UID_MIN, primary group its own.
  [ "$uid" -lt 1000 ] || { echo "FAIL: $n uid $uid is not a system uid"; fail=1; }
  [ "$(grep "^$n:" "$SYSROOT/etc/group" | cut -d: -f3)" = "$gid" ] || { echo "FAIL: $n primary group is not $n"; fail=1; }
done
# The real /etc was not touched by the prefixed run.
[ "$etc_before" = "$(md5sum /etc/passwd /etc/group)" ] || { echo "FAIL: the prefixed run changed /etc"; fail=1; }
# Idempotent: a second run finds them and changes nothing.
before=$(md5sum "$SYSROOT/etc/passwd" "$SYSROOT/etc/group")
RINGPOST_INTEROP_SYSROOT="$SYSROOT" bash "$ROOT_DIR/scripts/fetch-interop-servers.sh" --users-only
[ "$before" = "$(md5sum "$SYSROOT/etc/passwd" "$SYSROOT/etc/group")" ] || { echo "FAIL: second run changed the files"; fail=1; }
[ $fail -eq 0 ] && echo "PASS: users and groups created from nothing"
exit $fail
