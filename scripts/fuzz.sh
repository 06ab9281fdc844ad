#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan + UBSan) and runs each one
# for a bounded time, starting from a copy of its seed corpus in fuzz/corpus (new inputs go
# to a temp dir, never into the repository). Exits non-zero when any target finds a crash,
# a leak, a timeout or a memory-limit overrun; the input is kept under
# build-fuzz/fuzz-artifacts/ (fuzz/README.md says how to reproduce it).
#
#   scripts/fuzz.sh [seconds-per-target]    default 60: 12 targets, about 13 minutes of running
#
# Installs what it needs with apt, idempotently, like scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: scripts/fuzz.sh [seconds-per-target]" >&2
  exit 2
fi
targets=(json sse_splitter usage_parser include_usage config universal admin_query http_request translate redis cache_entry h2_session)

scripts/install-deps.sh --build-only
# clang (Debian 12: clang 14) with libclang-common-14-dev for <fuzzer/FuzzedDataProvider.h>;
# libclang-rt-14-dev holds libclang_rt.fuzzer*.a and the ASan/UBSan runtimes that
# -fsanitize=fuzzer,address,undefined link (libfuzzer-14-dev only has a standalone
# libFuzzer.a, which -fsanitize=fuzzer does not use).
pkgs=(clang libclang-common-14-dev libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "fuzz: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=${AIGW_BUILD_JOBS:-$(nproc)}
cmake --preset fuzz >/dev/null
build_start=$SECONDS
cmake --build --preset fuzz -j "$jobs" --target aigw_fuzz
echo "fuzz: build took $((SECONDS - build_start)) s"

artifacts=build-fuzz/fuzz-artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Leaks are checked after every input that allocated more than it freed, and at exit;
# UBSan findings stop the run (the build has -fno-sanitize-recover=all).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
  corpus="$work/$t"
  mkdir -p "$corpus"
  cp fuzz/corpus/"$t"/* "$corpus"/
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1
        -print_final_stats=1 -artifact_prefix="$artifacts/$t-")
  if [[ -f fuzz/$t.dict ]]; then opts+=(-dict="fuzz/$t.dict"); fi
  if [[ $t == http_request ]]; then
    # A request the server buffers without bound shows as one large allocation long before
    # the RSS limit; an exchange may take a few seconds of amplification (see the target).
    opts+=(-rss_limit_mb=1024 -malloc_limit_mb=32 -timeout=25)
  fi
  log="$work/$t.log"
  echo "fuzz: $t for ${seconds}s"
  rc=0
  build-fuzz/fuzz/"$t"_fuzz "${opts[@]}" "$corpus" </dev/null >"$log" 2>&1 || rc=$?
  grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -n 1 || true
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" || true
  if ((rc != 0)); then
    echo "fuzz: $t FAILED (exit $rc); the end of its log:"
    tail -n 60 "$log"
    failed+=("$t")
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: failures in ${failed[*]}; inputs in $artifacts/"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
