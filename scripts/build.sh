#!/usr/bin/env bash
# Installs what the build needs (if missing) and builds into ./build with CMake + Ninja.
#
#   build.sh server   the `ringpost` binary only, with the server's packages (scripts/demo.sh)
#   build.sh all      every target: server, tests, benchmarks (default; scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-all}
case "$profile" in
  server)
    bash scripts/install-deps.sh server
    # A build folder that already has tests configured keeps them (switching the options off
    # and on again would regenerate the build for nothing); a fresh one needs no test packages.
    opts=()
    grep -q '^RINGPOST_BUILD_TESTS:BOOL=ON' build/CMakeCache.txt 2>/dev/null ||
      opts=(-DRINGPOST_BUILD_TESTS=OFF -DRINGPOST_BUILD_BENCHMARKS=OFF)
    targets=(--target ringpost) ;;
  all)
    bash scripts/install-deps.sh all
    opts=(-DRINGPOST_BUILD_TESTS=ON -DRINGPOST_BUILD_BENCHMARKS=ON)
    targets=() ;;
  *) echo "usage: $0 [server|all]" >&2; exit 2 ;;
esac
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "${opts[@]}" >/dev/null
cmake --build build "${targets[@]}"
