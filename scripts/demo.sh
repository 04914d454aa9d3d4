#!/usr/bin/env bash
# The README's first command: install what the server needs, build the `ringpost` binary only,
# and run `ringpost demo` (engine with embedded defaults + a local smtp-sink as the route for
# demo.test + 10,000 messages over HTTP). Tests and benchmarks are built by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh server
exec ./build/engine/ringpost demo "$@"
