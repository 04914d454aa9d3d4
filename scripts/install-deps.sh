#!/usr/bin/env bash
# Installs the Debian packages ringpost needs. Idempotent and non-interactive: skips apt-get
# entirely when everything is already present.
#
#   install-deps.sh server   what building and running `ringpost` (and its demo) needs
#   install-deps.sh all      the above plus what the tests and benchmarks need (default)
#
# The demo asks for the first set only, so a new user sees it run after the smallest install;
# the test command asks for everything.
set -euo pipefail

profile=${1:-all}
server=(
  build-essential cmake ninja-build pkg-config
  liburing-dev libssl-dev libc-ares-dev libconcurrentqueue-dev libtomlplusplus-dev
  libsimdjson-dev libhttp-parser-dev libcli11-dev libfmt-dev libspdlog-dev libexpected-dev
  libidn2-dev libre2-dev zlib1g-dev
  postfix   # the demo's sink is Postfix's smtp-sink
)
tests=(
  git libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-aiosmtpd curl openssl
  ca-certificates   # OpenSMTPD's TLS (interop tests) opens the system CA bundle at start-up
  knot bc
  python3-dkim libmail-dkim-perl libcryptx-perl
  libopendkim-dev   # the reference signer the DKIM tests and bench/dkim compare with (tests/dkim_oracle)
  python3-jsonschema
  python3-prometheus-client
  passwd   # groupadd/useradd for the interop daemons' users (scripts/fetch-interop-servers.sh)
  clang libclang-rt-dev   # the libFuzzer targets (bench/fuzz/run.sh); clang-14 only recommends its libFuzzer runtime
)
case "$profile" in
  server) packages=("${server[@]}") ;;
  all) packages=("${server[@]}" "${tests[@]}") ;;
  *) echo "usage: $0 [server|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
# Postfix asks what kind of mail server this is; we only use its smtp-sink and our own
# private instances, never the system one.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string ringpost.invalid" | $SUDO debconf-set-selections
echo "install-deps: installing ${#missing[@]} packages ($profile): ${missing[*]}" >&2
# sudo resets the environment: pass DEBIAN_FRONTEND through explicitly.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
