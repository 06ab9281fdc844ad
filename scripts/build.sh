#!/usr/bin/env bash
# Configures and builds aigw. Usage: scripts/build.sh [--asan] [extra cmake -D options...]
#   default: build/       RelWithDebInfo, warnings as errors
#   --asan:  build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${1:-}" == "--asan" ]]; then
  shift
  dir=build-asan
  opts=(-DCMAKE_BUILD_TYPE=Debug -DAIGW_SANITIZE=address,undefined -DAIGW_BENCH=OFF)
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$dir" "${generator[@]}" "${opts[@]}" "$@"
fi
# Two parallel compile jobs fit the 2-core machines' memory comfortably.
cmake --build "$dir" --parallel "${AIGW_JOBS:-$(nproc)}"
