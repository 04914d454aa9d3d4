#!/usr/bin/env bash
# The README's first command: install, build, and run `ringpost demo` (engine with embedded
# defaults + a local smtp-sink as the route for demo.test + 10,000 messages over HTTP).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
exec ./build/engine/ringpost demo "$@"
