#!/usr/bin/env bash
# Installs every Debian package ringpost builds, runs and tests with. Idempotent and
# non-interactive: skips apt-get entirely when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  liburing-dev libssl-dev libc-ares-dev libconcurrentqueue-dev libtomlplusplus-dev
  libsimdjson-dev libhttp-parser-dev libcli11-dev libfmt-dev libspdlog-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev libopendkim-dev libidn2-dev
  postfix python3 python3-aiosmtpd curl openssl
  knot bc
  python3-dkim libmail-dkim-perl libcryptx-perl
  python3-jsonschema
  python3-prometheus-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks what kind of mail server this is; we only use its smtp-sink and our own
# private instances, never the system one.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "postfix postfix/mailname string ringpost.invalid" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
