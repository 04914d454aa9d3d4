#!/usr/bin/env bash
# Fetches the interop MX servers that conflict with the installed postfix package (Exim 4 and
# OpenSMTPD are both "mail-transport-agent"s), without installing them: `apt-get download` into
# a cache, `dpkg -x` into a private folder, plus any shared library the system lacks.
#
#   RINGPOST_INTEROP_DIR    private folder (default /opt/ringpost-interop)
#   RINGPOST_INTEROP_CACHE  .deb files and a private apt state (default /var/cache/ringpost-interop)
#   RINGPOST_INTEROP_MIRROR Debian mirror for <codename>-backports (default deb.debian.org)
#   RINGPOST_INTEROP_SYSROOT create the users in SYSROOT/etc/{passwd,group,...}, not /etc (tests)
#
#   --users-only            create the system users and groups, then stop
#
# Exim comes from the release's own archive. OpenSMTPD comes from <codename>-backports when
# that has it: bookworm's 6.8 cannot serve STARTTLS with OpenSSL 3 (its privilege-separated
# RSA/ECDSA key engine fails with "missing private key"; fixed upstream in 7.3), and the
# backport (7.4) is built for the same libc and libssl. Backports is read through a private apt
# state under the cache: the system's sources are not touched.
#
# Idempotent: exits 0 at once when the folder is complete (same recipe, binaries load). Prints
# the paths on success; exits non-zero with a message naming what failed otherwise.
# Needs root: it creates the system users the daemons insist on (Debian-exim, opensmtpd,
# opensmtpq), as the packages' postinst scripts would, and keeps exim4 setuid root.
# tests/interop/README.md says why each step is needed.
set -euo pipefail

DEST=${RINGPOST_INTEROP_DIR:-/opt/ringpost-interop}
CACHE=${RINGPOST_INTEROP_CACHE:-/var/cache/ringpost-interop}
MIRROR=${RINGPOST_INTEROP_MIRROR:-http://deb.debian.org/debian}
# Bump when the steps below change, so an old folder is rebuilt instead of trusted.
RECIPE="ringpost-interop recipe 2: exim4-daemon-light, opensmtpd>=7.3 (backports), missing libs, rpath"
STAMP="$DEST/.ringpost-interop-complete"
OPENSMTPD_MIN=7.3

USERS_ONLY=0
case "${1:-}" in
  --users-only) USERS_ONLY=1 ;;  # create the system users and groups, nothing else
  "") ;;
  *) echo "usage: $0 [--users-only]" >&2; exit 2 ;;
esac

say() { echo "fetch-interop-servers: $*" >&2; }
die() { say "error: $*"; exit 1; }

print_paths() {
  echo "interop_dir=$DEST"
  echo "exim=$DEST/usr/sbin/exim4"
  echo "opensmtpd=$DEST/usr/sbin/smtpd"
  echo "opensmtpd_libexec=$DEST/usr/libexec/opensmtpd"
  echo "postfix_master=/usr/lib/postfix/sbin/master"
}

[ "$(id -u)" -eq 0 ] || die "must run as root (creates system users, keeps exim4 setuid root)"
command -v groupadd >/dev/null && command -v useradd >/dev/null || die "missing groupadd/useradd (package passwd)"
for tool in apt-get apt-cache dpkg dpkg-deb dpkg-query ldd flock; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done

# --- system users ------------------------------------------------------------------------
# The binaries look these names up before reading any config: exim4 has EXIM_USER
# "Debian-exim" compiled in ("failed to find uid for user name"), smtpd refuses to start
# without its privsep users ("unknown user opensmtpd").
# groupadd/useradd (package passwd, Essential on Debian), never adduser: adduser 3.134 checks
# names against NAME_REGEX and refuses "Debian-exim" ("cannot create group Debian-exim" on
# every fresh machine; the exim4 postinst passes --force-badname, which newer adduser spells
# --allow-bad-names). useradd takes the name as given.
# RINGPOST_INTEROP_SYSROOT (default: none) points both tools and the checks at another root's
# /etc/{passwd,group,shadow,gshadow} (their --prefix): tests/scripts runs the creation
# against a throw-away root where the names do not exist yet, so this path is tested even on
# a machine that already has them.
SYSROOT=${RINGPOST_INTEROP_SYSROOT:-}
PREFIX_OPT=()
[ -n "$SYSROOT" ] && PREFIX_OPT=(--prefix "$SYSROOT")
has_entry() {  # database name
  if [ -n "$SYSROOT" ]; then cut -d: -f1 "$SYSROOT/etc/$1" | grep -qxF -- "$2"; else getent "$1" "$2" >/dev/null; fi
}
ensure_group() {
  has_entry group "$1" && return 0
  groupadd "${PREFIX_OPT[@]}" --system "$1" || die "cannot create group $1"
  has_entry group "$1" || die "groupadd $1 succeeded but the group is not there"
}
ensure_user() {  # name home
  has_entry passwd "$1" && return 0
  ensure_group "$1"
  useradd "${PREFIX_OPT[@]}" --system --no-create-home --home-dir "$2" --shell /usr/sbin/nologin \
    --gid "$1" "$1" || die "cannot create user $1"
  has_entry passwd "$1" || die "useradd $1 succeeded but the user is not there"
}
ensure_users() {
  ensure_user Debian-exim /var/spool/exim4
  ensure_user opensmtpd /var/lib/opensmtpd/empty
  ensure_user opensmtpq /var/lib/opensmtpd/empty
}

# --- verification ------------------------------------------------------------------------
ELF_TARGETS=(usr/sbin/exim4 usr/sbin/smtpd usr/libexec/opensmtpd/mail.maildir
             usr/libexec/opensmtpd/mail.mda usr/libexec/opensmtpd/mail.local)

# Prints the problems (empty when the folder is usable).
check_dest() {
  local root=$1 f
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$RECIPE" ]; then echo "no complete-stamp for this recipe"; fi
  for f in "${ELF_TARGETS[@]}"; do
    if [ ! -x "$root/$f" ]; then echo "missing $root/$f"; continue; fi
    # ldd runs the loader with the binary's own RPATH, exactly as exec will.
    if ldd "$root/$f" 2>&1 | grep -q 'not found'; then
      echo "$root/$f: $(ldd "$root/$f" 2>&1 | grep 'not found' | tr -s ' \t\n' ' ')"
    fi
  done
  [ -u "$root/usr/sbin/exim4" ] || echo "$root/usr/sbin/exim4 is not setuid root"
  return 0
}

if [ "$USERS_ONLY" = 1 ]; then ensure_users; exit 0; fi

mkdir -p "$(dirname "$DEST")"
exec 9>"$DEST.lock"
flock -w 600 9 || die "another fetch holds $DEST.lock"

ensure_users
if [ -z "$(check_dest "$DEST" 2>/dev/null)" ]; then
  print_paths
  exit 0
fi

# --- apt ---------------------------------------------------------------------------------
mkdir -p "$CACHE"
# apt-get download runs as _apt when it can; the cache must be reachable for it, or apt warns
# and falls back to root.
chmod 0755 "$CACHE"
chown _apt "$CACHE" 2>/dev/null || true

CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || die "no VERSION_CODENAME in /etc/os-release"
BP_DIR="$CACHE/apt-backports"
BP_OPTS=(-o "Dir::Etc::SourceList=$BP_DIR/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
         -o "Dir::State::Lists=$BP_DIR/lists" -o "Dir::Cache=$BP_DIR/cache")
SYS_OPTS=()

UPDATED=""
apt_update_once() {  # $1: sys|bp
  case " $UPDATED " in *" $1 "*) return 0 ;; esac
  if [ "$1" = bp ]; then
    mkdir -p "$BP_DIR/lists/partial" "$BP_DIR/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $CODENAME-backports main" \
      > "$BP_DIR/sources.list"
    say "apt-get update ($CODENAME-backports, private state in $BP_DIR)"
    apt-get "${BP_OPTS[@]}" update -qq >&2 || die "apt-get update of $CODENAME-backports failed"
  else
    say "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
  fi
  UPDATED="$UPDATED $1"
}

candidate() {  # $1: sys|bp, $2: package; prints the candidate version or nothing
  local -a opts=()
  [ "$1" = bp ] && opts=("${BP_OPTS[@]}")
  apt-cache "${opts[@]}" policy "$2" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}'
}

# Prints the .deb path of a package's candidate version from source sys|bp, downloading it if
# it is not cached.
fetch_deb() {
  local src=$1 pkg=$2 ver file
  local -a opts=()
  [ "$src" = bp ] && opts=("${BP_OPTS[@]}")
  ver=$(candidate "$src" "$pkg")
  if [ -z "$ver" ]; then
    apt_update_once "$src"
    ver=$(candidate "$src" "$pkg")
    [ -n "$ver" ] || die "no candidate version of $pkg in apt's lists ($src)"
  fi
  # The file name has the epoch's ':' as "%3a".
  file=$(ls "$CACHE/${pkg}_${ver/:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$file" ]; then
    if ! (cd "$CACHE" && apt-get "${opts[@]}" download -q "$pkg=$ver" >&2); then
      # Stale lists point at files the mirror no longer has: refresh once and retry.
      apt_update_once "$src"
      ver=$(candidate "$src" "$pkg")
      (cd "$CACHE" && apt-get "${opts[@]}" download -q "$pkg=$ver" >&2) || die "apt-get download $pkg failed"
    fi
    file=$(ls "$CACHE/${pkg}_${ver/:/%3a}_"*.deb 2>/dev/null | head -n1 || true)
    [ -n "$file" ] || die "apt-get download $pkg=$ver left no .deb in $CACHE"
  fi
  dpkg-deb --info "$file" >/dev/null 2>&1 || { rm -f "$file"; die "corrupt $file (removed; run again)"; }
  echo "$file"
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# Library packages (lib*, not perl modules) named in a Depends line; first alternative only.
lib_names() {
  tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
    grep -E '^lib' | grep -vE -- '-perl$' | sort -u || true
}
deb_lib_depends() { dpkg-deb -f "$1" Pre-Depends Depends | sed 's/^[A-Za-z-]*: //' | lib_names; }
apt_lib_depends() { apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^\(Pre-\)\?Depends: //p' | lib_names; }

# Breadth-first over library dependencies only: following every dependency would walk into
# cron, debconf and friends, none of which a daemon started by hand needs.
missing_libs() {
  local -A seen=()
  local queue=() out=() p d
  for d in "$@"; do queue+=($(deb_lib_depends "$d")); done
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    installed "$p" && continue
    out+=("$p")
    for d in $(apt_lib_depends "$p"); do queue+=("$d"); done
  done
  printf '%s\n' "${out[@]}"
}

# --- download ----------------------------------------------------------------------------
# Without lists, `apt-cache show` prints nothing and missing libraries would go unnoticed.
[ -n "$(candidate sys exim4-daemon-light)" ] || apt_update_once sys
EXIM_DEB=$(fetch_deb sys exim4-daemon-light)

OSMTPD_SRC=bp
[ -n "$(candidate bp opensmtpd)" ] || apt_update_once bp
[ -n "$(candidate bp opensmtpd)" ] || OSMTPD_SRC=sys
OSMTPD_DEB=$(fetch_deb "$OSMTPD_SRC" opensmtpd)
OSMTPD_VER=$(dpkg-deb -f "$OSMTPD_DEB" Version)
dpkg --compare-versions "$OSMTPD_VER" ge "$OPENSMTPD_MIN" ||
  die "opensmtpd $OSMTPD_VER ($OSMTPD_SRC) is older than $OPENSMTPD_MIN, which cannot serve STARTTLS with OpenSSL 3; no $CODENAME-backports build found"

mapfile -t LIBS < <(missing_libs "$EXIM_DEB" "$OSMTPD_DEB")
say "exim4-daemon-light $(dpkg-deb -f "$EXIM_DEB" Version), opensmtpd $OSMTPD_VER ($OSMTPD_SRC); missing libraries: ${LIBS[*]:-(none)}"
DEBS=("$EXIM_DEB" "$OSMTPD_DEB")
for p in "${LIBS[@]}"; do
  [ -n "$p" ] && DEBS+=("$(fetch_deb sys "$p")")
done

# patchelf, to give the binaries an RPATH (see below); unpacked into the cache, not installed.
PATCHELF=$(command -v patchelf || true)
if [ -z "$PATCHELF" ]; then
  pdeb=$(fetch_deb sys patchelf)
  rm -rf "$CACHE/patchelf-root"
  dpkg -x "$pdeb" "$CACHE/patchelf-root" || die "dpkg -x $pdeb failed"
  PATCHELF="$CACHE/patchelf-root/usr/bin/patchelf"
  "$PATCHELF" --version >/dev/null || die "unpacked patchelf does not run"
fi

# --- unpack ------------------------------------------------------------------------------
STAGE="$DEST.new.$$"
rm -rf "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"
for deb in "${DEBS[@]}"; do
  dpkg -x "$deb" "$STAGE" || die "dpkg -x $deb failed"
done

# Private libraries are found through an absolute RPATH, not LD_LIBRARY_PATH: Exim re-executes
# itself from its unprivileged reception process, the setuid-root exec runs the loader in
# secure mode, and secure mode ignores LD_LIBRARY_PATH ("libidn.so.12: cannot open shared
# object file" in the delivery process). An absolute DT_RPATH is honoured there, and unlike
# DT_RUNPATH it also serves the libraries' own dependencies (--force-rpath).
LIBDIRS=()
while IFS= read -r d; do
  LIBDIRS+=("$DEST/${d#"$STAGE"/}")
done < <(find "$STAGE" -name '*.so*' \( -type f -o -type l \) -printf '%h\n' | sort -u)
if [ ${#LIBDIRS[@]} -gt 0 ]; then
  RPATH=$(IFS=:; echo "${LIBDIRS[*]}")
  for f in usr/sbin/exim4 usr/sbin/smtpd; do
    "$PATCHELF" --force-rpath --set-rpath "$RPATH" "$STAGE/$f" || die "patchelf $f failed"
  done
fi
# dpkg -x keeps the mode bits, and rewriting the file as root keeps them too; make sure anyway.
chown root:root "$STAGE/usr/sbin/exim4"
chmod 4755 "$STAGE/usr/sbin/exim4"
echo "$RECIPE" > "$STAGE/.ringpost-interop-complete"

rm -rf "$DEST.old"
if [ -e "$DEST" ]; then mv "$DEST" "$DEST.old"; fi
mv "$STAGE" "$DEST"
trap - EXIT
rm -rf "$DEST.old"

problems=$(check_dest "$DEST")
if [ -n "$problems" ]; then
  rm -f "$STAMP"
  die "unpacked into $DEST but it is not usable:
$problems"
fi
say "ready in $DEST"
print_paths
