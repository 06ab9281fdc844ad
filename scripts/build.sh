#!/usr/bin/env bash
# Configures and builds aigw. Usage: scripts/build.sh [--asan|--tsan] [extra cmake -D options...]
#   default: build/       RelWithDebInfo, warnings as errors
#   --asan:  build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer
#   --tsan:  build-tsan/  ThreadSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [[ "${1:-}" == "--asan" ]]; then
  shift
  dir=build-asan
  opts=(-DCMAKE_BUILD_TYPE=Debug -DAIGW_SANITIZE=address,undefined -DAIGW_BENCH=OFF)
elif [[ "${1:-}" == "--tsan" ]]; then
  shift
  dir=build-tsan
  opts=(-DCMAKE_BUILD_TYPE=Debug -DAIGW_SANITIZE=thread -DAIGW_BENCH=OFF)
fi
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$dir" "${generator[@]}" "${opts[@]}" "$@"
fi
# Two parallel compile jobs fit the 2-core machines' memory comfortably.
# AIGW_TARGETS (space-separated) builds only those targets (the TSan run needs two).
targets=()
for t in ${AIGW_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$dir" --parallel "${AIGW_JOBS:-$(nproc)}" "${targets[@]}"
