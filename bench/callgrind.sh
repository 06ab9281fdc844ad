#!/usr/bin/env bash
# bench/callgrind.sh — user-space instructions per proxied request, counted by Valgrind's
# callgrind. Unlike CPU time on a shared VM (±10-15 % between runs), the count moves by well
# under 1 % between runs, so it shows what a code change costs or saves. It does not see the
# kernel (syscalls, TCP), which bench/run.sh measures. Method: bench/README.md.
#
#   bench/callgrind.sh                     build/ (scripts/build.sh), 3000 requests
#   BENCH_BUILD_DIR=build-release bench/callgrind.sh
#   CALLGRIND_REQUESTS=5000 CALLGRIND_KEEP=1 bench/callgrind.sh   keep the profile
#   CALLGRIND_CACHE=1 bench/callgrind.sh   cache on: every measured request is a cache hit
#   CALLGRIND_STREAM=1 bench/callgrind.sh  streaming requests (20 events each, back to back)
#   CALLGRIND_METERING=off bench/callgrind.sh   metering.enabled: false (no usage; requests still logged)
#   CALLGRIND_LOG=off bench/callgrind.sh   request_log.enabled: false (no SQLite row per request)
#   CALLGRIND_UNIVERSAL=1 bench/callgrind.sh  a universal request whose first two steps are
#                                          refused (nothing listens) and whose third answers
#   CALLGRIND_ROUTE=1 bench/callgrind.sh   the same three targets as a named route, breaker
#                                          off (every request tries all three)
#   CALLGRIND_ROUTE=direct bench/callgrind.sh  a one-target named route (the route's own cost)
#   CALLGRIND_RATE=50 bench/callgrind.sh   a lower request rate (heavy requests under callgrind)
#   CALLGRIND_COMPAT=1 bench/callgrind.sh  /compat/v1/messages: an Anthropic-format request to
#                                          the OpenAI fake, translated both ways (with
#                                          CALLGRIND_STREAM=1: the stream translated)
#   CALLGRIND_COMPAT=anthropic bench/callgrind.sh  /compat/chat/completions: the plain request
#                                          to an anthropic/ model (the fake answers in
#                                          Anthropic's format), translated both ways
#   CALLGRIND_LIMITS=1 bench/callgrind.sh  three rate limits and a budget that never refuse
#                                          (gateway, per-IP sliding, per-header tokens,
#                                          monthly spend)
#
# Prints the instructions per request, then the 25 functions with the most instructions of
# their own. aigw runs under callgrind (about 50x slower), so the load is a gentle fixed rate:
# 400 requests/s over 8 keep-alive connections, after 300 unmeasured warm-up requests.
# Traffic stays on 127.0.0.1; everything started here is stopped on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BENCH_BUILD_DIR:-build}
[[ "$build_dir" = /* ]] || build_dir="$repo/$build_dir"
requests=${CALLGRIND_REQUESTS:-3000}
aigw_bin="$build_dir/aigw"
fake_bin="$build_dir/bench/aigw-fake-provider"
load_bin="$build_dir/bench/aigw-bench-load"

die() {
  printf '[callgrind] error: %s\n' "$*" >&2
  exit 1
}
command -v valgrind >/dev/null || die "valgrind missing: scripts/install-deps.sh --bench"
for bin in "$aigw_bin" "$fake_bin" "$load_bin"; do
  [[ -x "$bin" ]] || die "$bin not built (cmake --build $build_dir)"
done

tmp=$(mktemp -d /tmp/aigw-callgrind.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ "${CALLGRIND_KEEP:-0}" == 1 ]] && echo "[callgrind] kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

read -r port admin_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')

"$fake_bin" --port 0 --sse-chunks 20 --sse-delay-ms 0 >"$tmp/fake.port" 2>"$tmp/fake.log" &
pids+=("$!")
for _ in $(seq 100); do [[ -s "$tmp/fake.port" ]] && break; sleep 0.05; done
fake_port=$(head -1 "$tmp/fake.port")
[[ -n "$fake_port" ]] || die "fake provider did not start"

cat >"$tmp/aigw.yaml" <<EOF
server:
  log_level: warn
  listen: 127.0.0.1:$port
  workers: 1
  max_connections_per_address: 0   # every load connection comes from 127.0.0.1
admin:
  enabled: true
  listen: 127.0.0.1:$admin_port
providers:
  openai:
    base_url: http://127.0.0.1:$fake_port/v1
  anthropic:
    base_url: http://127.0.0.1:$fake_port
access_log:
  path: "off"
EOF
what="proxied request"
if [[ "${CALLGRIND_METERING:-on}" == off ]]; then
  printf 'metering:\n  enabled: false\n' >>"$tmp/aigw.yaml"
fi
if [[ "${CALLGRIND_LOG:-on}" == off ]]; then
  printf 'request_log:\n  enabled: false\n' >>"$tmp/aigw.yaml"
fi
if [[ "${CALLGRIND_LIMITS:-0}" == 1 ]]; then
  cat >>"$tmp/aigw.yaml" <<LIMITS
rate_limits:
  - limit: 1000000000
    window: 1m
  - limit: 1000000000
    window: 1m
    technique: sliding
    per: ip
  - limit: 1000000000
    window: 1h
    unit: tokens
    per: header:authorization
budgets:
  - limit_usd: 1000000
    window: month
metering:
  prices:
    openai/gpt-4o-mini: {input: 0.15, output: 0.6}
LIMITS
fi
if [[ "${CALLGRIND_UNIVERSAL:-0}" == 1 || "${CALLGRIND_ROUTE:-0}" != 0 ]]; then
  # Two providers on a port nobody listens on: the universal request's first two steps are
  # refused, the third answers.
  read -r dead_port < <(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  sed -i "s|^providers:|providers:\n  custom-dead-a:\n    base_url: http://127.0.0.1:$dead_port/v1\n  custom-dead-b:\n    base_url: http://127.0.0.1:$dead_port/v1|" "$tmp/aigw.yaml"
fi
if [[ "${CALLGRIND_ROUTE:-0}" != 0 ]]; then
  cat >>"$tmp/aigw.yaml" <<'ROUTES'
routes:
  three:
    share_client_credentials: true
    breaker: {enabled: false}
    targets:
      - {provider: custom-dead-a, model: gpt-4o-mini}
      - {provider: custom-dead-b, model: gpt-4o-mini, priority: 1}
      - {provider: openai, model: gpt-4o-mini, priority: 2}
  direct:
    targets:
      - {provider: openai, model: gpt-4o-mini}
ROUTES
fi
if [[ "${CALLGRIND_CACHE:-0}" == 1 ]]; then
  printf 'cache:\n  enabled: true\n  ttl: 1h\n' >>"$tmp/aigw.yaml"
  what="cache hit"
fi
valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" \
  "$aigw_bin" --config "$tmp/aigw.yaml" >"$tmp/aigw.out" 2>"$tmp/valgrind.log" &
aigw_pid=$!
pids+=("$aigw_pid")
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$aigw_pid" 2>/dev/null || die "aigw exited: $(tail -5 "$tmp/valgrind.log")"
  sleep 0.1
done

body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello! How are you today?"}],"temperature":0.7,"max_tokens":64}'
if [[ "${CALLGRIND_STREAM:-0}" == 1 ]]; then
  body="${body%\}}"',"stream":true}'
  what="streamed request (20 events)"
fi
url="http://127.0.0.1:$port/openai/chat/completions"
auth_header="Authorization: Bearer sk-bench-000000000000000000000000000000000000000000000000"
if [[ "${CALLGRIND_COMPAT:-0}" == 1 ]]; then
  # The same conversation in Anthropic's format, to an OpenAI model through /compat.
  body='{"model":"openai/gpt-4o-mini","system":"You are a helpful assistant.","messages":[{"role":"user","content":"Hello! How are you today?"}],"temperature":0.7,"max_tokens":64}'
  [[ "${CALLGRIND_STREAM:-0}" == 1 ]] && body="${body%\}}"',"stream":true}'
  url="http://127.0.0.1:$port/compat/v1/messages"
  auth_header="x-api-key: sk-bench-000000000000000000000000000000000000000000000000"
  what="translated $what (/compat/v1/messages to an OpenAI model)"
fi
if [[ "${CALLGRIND_COMPAT:-0}" == anthropic ]]; then
  # The plain request (or stream) itself, naming an Anthropic model through /compat.
  body=${body/'"gpt-4o-mini"'/'"anthropic/claude-bench-4-5"'}
  url="http://127.0.0.1:$port/compat/chat/completions"
  what="translated $what (/compat/chat/completions to an Anthropic model)"
fi
if [[ "${CALLGRIND_UNIVERSAL:-0}" == 1 ]]; then
  step() { printf '{"provider":"%s","endpoint":"chat/completions","query":%s}' "$1" "$body"; }
  body="[$(step custom-dead-a),$(step custom-dead-b),$(step openai)]"
  url="http://127.0.0.1:$port/"
  what="universal request (two refused steps, the third answers)"
fi
if [[ "${CALLGRIND_ROUTE:-0}" == 1 ]]; then
  url="http://127.0.0.1:$port/route/three/chat/completions"
  what="named-route request (two refused targets, the third answers)"
elif [[ "${CALLGRIND_ROUTE:-0}" == direct ]]; then
  url="http://127.0.0.1:$port/route/direct/chat/completions"
  what="request to a one-target named route"
fi
load() {
  "$load_bin" --url "$url" --body "$body" \
    --header "Content-Type: application/json" \
    --header "$auth_header" \
    --rate "${CALLGRIND_RATE:-400}" --connections 8 --timeout 30 --count "$1"
}
load 300 >"$tmp/warmup.out" 2>&1 || die "warm-up failed: $(tail -3 "$tmp/warmup.out")"
callgrind_control -z "$aigw_pid" >/dev/null 2>&1
load "$requests" >"$tmp/load.out" 2>&1 || die "load failed: $(cat "$tmp/load.out")"
callgrind_control -d "$aigw_pid" >/dev/null 2>&1
grep -q "errors=0 non2xx=0" "$tmp/load.out" || die "requests failed: $(cat "$tmp/load.out")"

profile=$(ls "$tmp"/callgrind.out.* | head -1)
total=$(callgrind_annotate "$profile" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "aigw user-space instructions per $what: $((total / requests))" \
  "($requests requests, $(basename "$build_dir"))"
echo
echo "Instructions per request spent in each function itself (top 25):"
callgrind_annotate --inclusive=no --threshold=100 "$profile" |
  grep '%)' | grep -v '(100.0%)' | head -25 |
  awk -v n="$requests" '{ gsub(",", "", $1); c = $1; $1 = ""; $2 = "";
    printf "%7d  %s\n", c / n, substr($0, 3, 150) }'
