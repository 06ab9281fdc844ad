#!/usr/bin/env bash
# Installs what serving needs, builds the aigw binary (a release build in build-release/), and
# starts it in the foreground with config/aigw.yaml (or the file given as the first argument).
# Ctrl-C drains and stops. Nothing of the tests is installed or built: no GoogleTest, no
# Node.js or npm, no Redis (scripts/test.sh installs and builds those).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --build-only
dir=build-release
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  # -O2, as Debian builds packages (GCC 12 at -O3 reports false positives on std::string
  # concatenation); warnings are errors in scripts/build.sh and CI, not for a user's build.
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DAIGW_WERROR=OFF -DAIGW_TESTS=OFF -DAIGW_BENCH=OFF
fi
cmake --build "$dir" --parallel "${AIGW_JOBS:-$(nproc)}" --target aigw
exec "$dir/aigw" --config "${1:-config/aigw.yaml}"
