#!/usr/bin/env bash
# The README's second command: install, build, and run every test (ctest over GoogleTest).
# Integration tests start their own real servers (Postfix smtp-sink, aiosmtpd, ...) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Exim and OpenSMTPD conflict with Postfix as packages: unpacked privately for interop tests.
bash scripts/fetch-interop-servers.sh
bash scripts/build.sh all
cd build
ctest --output-on-failure -j "$(nproc)" "$@"
