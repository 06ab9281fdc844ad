#!/usr/bin/env bash
# bench/run.sh — aigw against nginx (plain reverse proxy) and against no proxy at all, in one
# bounded run, for an HTTP and an HTTPS upstream; plus aigw answering from its response cache
# (every request a hit) and the memory one cached entry costs; streams with metering on vs off,
# and requests with rate limits and a budget on vs off; /compat's translation against a native
# call. Method and columns: bench/README.md.
#
#   bench/run.sh                                   install nginx + wrk, build, measure
#   BENCH_BUILD_DIR=build-bench bench/run.sh       use another (configured) build directory
#   BENCH_SKIP_SETUP=1 bench/run.sh                skip install-deps and the build
#
# Every knob is an environment variable (defaults in parentheses):
#   BENCH_DURATION (5)      seconds of each max-throughput wrk run, after BENCH_WARMUP (2)
#   BENCH_ROUNDS (3)        max-throughput rounds; each runs direct, aigw, nginx in turn, and
#                           the table reports each path's median round
#   BENCH_CONNECTIONS (32)  wrk connections
#   BENCH_RATE (1000)       requests/s of the fixed-rate latency run
#   BENCH_LAT_DURATION (5)  seconds of each fixed-rate run (after 1 s of warm-up); one run
#                           per path in each of the BENCH_ROUNDS rounds, median p99 reported
#   BENCH_STREAMS (50)      SSE requests per stream run, at BENCH_STREAM_RATE (20) per second
#   BENCH_SSE_CHUNKS (20)   events per stream; BENCH_SSE_DELAY_MS (5) between two events
#   BENCH_PIN (auto)        auto: with 2+ cores, proxies on CPU 0, fake + load on the others;
#                           0: no pinning
#   BENCH_ACCESS_LOG (off)  off, or "on": aigw and nginx both write their access log to a
#                           file in the temp dir
#   BENCH_CACHE_ENTRIES (20000)  distinct responses cached to measure memory per entry
#   BENCH_REQUEST_LOG (on)  off: aigw runs with request_log.enabled: false (no SQLite request log;
#                           usage is still metered for /metrics), to compare the log's cost
#   BENCH_STREAM_CONNECTIONS (32)  wrk connections of the streaming metering on/off runs
#   BENCH_LOGWRITER_RECORDS (1000000)  records for the log-writer run (0 skips it)
#   BENCH_UPSTREAM_HTTP2 (1)  1: the HTTPS fake providers also speak HTTP/2 (ALPN), so aigw
#                           reaches them over HTTP/2 (its default, upstream.http2) while nginx,
#                           which proxies over HTTP/1.1 only, keeps HTTP/1.1; 0: HTTP/1.1 for both
#   BENCH_KEEP_TMP (0)      1 keeps the temp dir (configs, logs) for inspection
#   BENCH_ONLY ()           "translate": only the /compat translation runs (native vs translated);
#                           "redis": only limits in Redis vs in process (and one decision's cost)
#                           "cpu": only req per CPU-s over HTTP, aigw (metering off and the
#                           request log as BENCH_REQUEST_LOG) vs nginx, split into user and
#                           kernel time (a few minutes)
# Output: the table on stdout and in bench/results/latest.md. Traffic stays on 127.0.0.1.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BENCH_BUILD_DIR:-build}
[[ "$build_dir" = /* ]] || build_dir="$repo/$build_dir"
duration=${BENCH_DURATION:-5}
rounds=${BENCH_ROUNDS:-3}
warmup=${BENCH_WARMUP:-2}
connections=${BENCH_CONNECTIONS:-32}
rate=${BENCH_RATE:-1000}
lat_duration=${BENCH_LAT_DURATION:-5}
streams=${BENCH_STREAMS:-50}
stream_rate=${BENCH_STREAM_RATE:-20}
sse_chunks=${BENCH_SSE_CHUNKS:-20}
sse_delay_ms=${BENCH_SSE_DELAY_MS:-5}
pin=${BENCH_PIN:-auto}
access_log=${BENCH_ACCESS_LOG:-off}
cache_entries=${BENCH_CACHE_ENTRIES:-20000}
request_log=${BENCH_REQUEST_LOG:-on}
stream_connections=${BENCH_STREAM_CONNECTIONS:-32}
logwriter_records=${BENCH_LOGWRITER_RECORDS:-1000000}
only=${BENCH_ONLY:-}
upstream_http2=${BENCH_UPSTREAM_HTTP2:-1}
h2_args=()
[[ $upstream_http2 == 1 ]] && h2_args=(--http2)
unpaced_events=${BENCH_UNPACED_EVENTS:-200}
unpaced_streams=${BENCH_UNPACED_STREAMS:-40}
open_streams=${BENCH_OPEN_STREAMS:-5000}
open_rate=${BENCH_OPEN_RATE:-1000}
open_events=${BENCH_OPEN_EVENTS:-40}
open_delay_ms=${BENCH_OPEN_DELAY_MS:-250}
stream_scheme=${BENCH_STREAM_SCHEME:-https}
results_dir="$repo/bench/results"

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
  printf '[bench] error: %s\n' "$*" >&2
  exit 1
}

# --- setup ------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_SETUP:-0}" != 1 ]]; then
  log "installing packages (nginx-light, wrk) if missing"
  "$repo/scripts/install-deps.sh" --bench
  if [[ "$build_dir" == "$repo/build" ]]; then
    log "building (scripts/build.sh)"
    "$repo/scripts/build.sh"
  else
    [[ -f "$build_dir/CMakeCache.txt" ]] || die "$build_dir is not a configured build directory"
    log "building $build_dir"
    cmake --build "$build_dir" --parallel "${AIGW_JOBS:-$(nproc)}" \
      --target aigw aigw-fake-provider aigw-bench-load aigw-bench-logwriter aigw-bench-redis
  fi
fi
aigw_bin="$build_dir/aigw"
fake_bin="$build_dir/bench/aigw-fake-provider"
load_bin="$build_dir/bench/aigw-bench-load"
logwriter_bin="$build_dir/bench/aigw-bench-logwriter"
for b in "$aigw_bin" "$fake_bin" "$load_bin" "$logwriter_bin"; do
  [[ -x "$b" ]] || die "$b missing (configure with -DAIGW_BENCH=ON and build)"
done
for tool in nginx wrk openssl curl taskset; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (scripts/install-deps.sh --bench)"
done
nginx_bin=$(command -v nginx)

# --- temp dir, process bookkeeping, CPU placement (bench/lib.sh) ------------------------------
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_tmp bench "${BENCH_KEEP_TMP:-0}"
# The proxy under test gets a core of its own; wrk, the load generator and the fake provider
# share the rest. Both proxies get the same treatment.
ncpu=$(nproc)
bench_pin "$pin"
placement="no CPU pinning"
[[ -n "$load_cpus" ]] &&
  placement="proxy on CPU 0; wrk, load generator and fake provider on CPU $load_cpus"

machine_idle() {  # percent of all CPUs idle over one second
  local a b
  read -r a </proc/stat
  sleep 1
  read -r b </proc/stat
  awk -v a="$a" -v b="$b" 'BEGIN {
    n = split(a, x, " "); split(b, y, " "); tot = 0
    for (i = 2; i <= n; i++) tot += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%.0f", (tot > 0 ? 100 * idle / tot : 100) }'
}

clk_tck=$(getconf CLK_TCK)
idle_before=$(machine_idle)
if ((idle_before < 85)); then
  log "warning: the machine is busy (only ${idle_before}% idle before the run): other" \
    "processes compete for the CPUs and the figures will be noisy"
fi

# --- throwaway PKI for the HTTPS upstream --------------------------------------------------
pki="$tmp/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj "/CN=aigw bench throwaway CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout server.key -out server.csr -subj "/CN=localhost"
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.pem
) >"$tmp/pki.log" 2>&1 || die "openssl failed: $(cat "$tmp/pki.log")"

# --- request bodies -------------------------------------------------------------------------
body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello! How are you today?"}],"temperature":0.7,"max_tokens":64}'
stream_body='{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello! How are you today?"}],"temperature":0.7,"max_tokens":64,"stream":true}'
auth="Authorization: Bearer sk-bench-000000000000000000000000000000000000000000000000"
wrk_script() {  # wrk_script FILE BODY: a wrk script that POSTs BODY as the SDK would
  cat >"$1" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "${auth#Authorization: }"
EOF
}
wrk_script "$tmp/post.lua" "$body"
wrk_script "$tmp/stream.lua" "$stream_body"

# Memory per cached entry: request i carries "Hello #i", so the first $cache_entries requests
# are all different (each a miss that gets stored); later ones repeat the last (hits). wrk
# calls request() once to check the script before it sends anything: that call is #0.
cat >"$tmp/fill.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "${auth#Authorization: }"
local n = -1
request = function()
  if n < $cache_entries then n = n + 1 end
  return wrk.format(nil, nil, nil, string.format('${body/Hello!/Hello #%d!}', n))
end
EOF

# --- fake providers (one HTTP, one HTTPS), running for the whole run -----------------------
declare -A fake_port fake_pid
for scheme in http https; do
  tls_args=()
  [[ $scheme == https ]] && tls_args=(--tls "$pki/server.pem" "$pki/server.key" "${h2_args[@]}")
  "${load_cpu[@]}" "$fake_bin" --port 0 "${tls_args[@]}" --sse-chunks "$sse_chunks" \
    --sse-delay-ms "$sse_delay_ms" >"$tmp/fake-$scheme.port" 2>"$tmp/fake-$scheme.log" &
  fake_pid[$scheme]=$!
  pids+=("$!")
  for _ in $(seq 100); do [[ -s "$tmp/fake-$scheme.port" ]] && break; sleep 0.05; done
  fake_port[$scheme]=$(head -1 "$tmp/fake-$scheme.port")
  [[ -n "${fake_port[$scheme]}" ]] || die "fake provider ($scheme) did not start"
  wait_http "$scheme://127.0.0.1:${fake_port[$scheme]}/healthz" "${fake_pid[$scheme]}" \
    "fake provider ($scheme)"
done

# --- proxies ----------------------------------------------------------------------------------
start_aigw() {  # start_aigw SCHEME NAME [cache|nometer|limits] [FAKE_PORT]: sets aigw_pid,
  # aigw_port, aigw_admin_port; "cache" turns the cache on, "nometer" sets metering.enabled:
  # false, "limits" adds rate limits and a budget that never refuse (every decision is made),
  # "dead" adds two providers on a port nobody listens on (custom-dead-a, custom-dead-b),
  # "compat" adds anthropic on the same fake (it answers /v1/messages in Anthropic's format)
  local scheme=$1 name=$2 ca_line="" log_value='"off"' cache_lines="" meter_lines=""
  local limit_lines="" dead_lines="" route_lines=""
  local upstream_port=${4:-${fake_port[$scheme]}}
  read -r aigw_port aigw_admin_port < <(free_ports 2)
  [[ $scheme == https ]] && ca_line="    ca_file: $pki/ca.pem"
  [[ $access_log == on ]] && log_value="$tmp/$name-access-$scheme.log"
  [[ ${3:-} == cache ]] && cache_lines="cache:
  enabled: true
  ttl: 1h
  max_bytes: 1GiB"
  [[ ${3:-} == nometer ]] && meter_lines="metering:
  enabled: false"
  [[ ${3:-} == limits || ${3:-} == redis ]] && limit_lines="rate_limits:
  - {name: gateway, limit: 1000000000, window: 1h}
  - {name: per-ip, limit: 1000000000, window: 1m, technique: sliding, per: ip}
  - {name: tokens, limit: 1000000000, window: 1h, unit: tokens}
budgets:
  - {name: monthly, limit_usd: 1000000, window: month}
metering:
  prices:
    openai/gpt-4o-mini: {input: 0.15, output: 0.6}"
  [[ ${3:-} == redis ]] && limit_lines+="
redis:
  url: redis://127.0.0.1:$redis_port"
  [[ ${3:-} == compat ]] && dead_lines="  anthropic:
    base_url: $scheme://127.0.0.1:$upstream_port"
  [[ ${3:-} == dead ]] && dead_lines="  custom-dead-a:
    base_url: http://127.0.0.1:$dead_port/v1
  custom-dead-b:
    base_url: http://127.0.0.1:$dead_port/v1" && route_lines="routes:
  three:
    share_client_credentials: true
    breaker: {enabled: false}
    targets:
      - {provider: custom-dead-a, model: gpt-4o-mini}
      - {provider: custom-dead-b, model: gpt-4o-mini, priority: 1}
      - {provider: openai, model: gpt-4o-mini, priority: 2}
  guarded:
    share_client_credentials: true
    targets:
      - {provider: custom-dead-a, model: gpt-4o-mini}
      - {provider: custom-dead-b, model: gpt-4o-mini, priority: 1}
      - {provider: openai, model: gpt-4o-mini, priority: 2}"
  local log_lines="request_log:
  path: $tmp/$name-$scheme.db"
  [[ $request_log == off ]] && log_lines="request_log:
  enabled: false"
  cat >"$tmp/$name-$scheme.yaml" <<EOF
server:
  log_level: warn
  listen: 127.0.0.1:$aigw_port
  workers: 1
  max_connections_per_address: 0   # every load connection comes from 127.0.0.1
admin:
  enabled: true
  listen: 127.0.0.1:$aigw_admin_port
providers:
  openai:
    base_url: $scheme://127.0.0.1:$upstream_port/v1
$ca_line
$dead_lines
access_log:
  path: $log_value
$cache_lines
$log_lines
$meter_lines
$limit_lines
$route_lines
EOF
  "${proxy_cpu[@]}" "$aigw_bin" --config "$tmp/$name-$scheme.yaml" >"$tmp/$name-$scheme.out" \
    2>"$tmp/$name-$scheme.log" &
  aigw_pid=$!
  pids+=("$aigw_pid")
  wait_http "http://127.0.0.1:$aigw_admin_port/readyz" "$aigw_pid" "$name ($scheme)"
}

start_nginx() {  # start_nginx SCHEME [FAKE_PORT [NAME]]: sets nginx_pid (master), nginx_worker,
  local scheme=$1 dir="$tmp/nginx-${3:-$1}" ssl_lines="" log_line="access_log off;" user_line=""
  local upstream_port=${2:-${fake_port[$scheme]}}  # nginx_port
  read -r nginx_port < <(free_ports 1)
  mkdir -p "$dir"
  if [[ $scheme == https ]]; then
    ssl_lines="proxy_ssl_trusted_certificate $pki/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_server_name on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;"
  fi
  [[ $access_log == on ]] && log_line="access_log $dir/access.log;"
  [[ $(id -u) -eq 0 ]] && user_line="user root root;"
  cat >"$dir/nginx.conf" <<EOF
# A plain reverse proxy: one worker, upstream keep-alive, no buffering (SSE).
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
  $log_line
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  upstream fake {
    server 127.0.0.1:$upstream_port;
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    location = /healthz { return 200 "ok\n"; }
    location /openai/ {
      proxy_pass $scheme://fake/v1/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
      $ssl_lines
    }
  }
}
EOF
  "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -t >"$dir/check.log" 2>&1 ||
    die "nginx rejected its config: $(cat "$dir/check.log")"
  "${proxy_cpu[@]}" "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
    >"$dir/stdout.log" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_http "http://127.0.0.1:$nginx_port/healthz" "$nginx_pid" "nginx ($scheme)"
  nginx_worker=""
  for _ in $(seq 50); do
    nginx_worker=$(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null | awk '{print $1}')
    [[ -n "$nginx_worker" ]] && break
    sleep 0.1
  done
  [[ -n "$nginx_worker" ]] || die "nginx worker process not found"
}

# --- measurements -------------------------------------------------------------------------------
declare -A R         # R[scheme.target.metric]
notes=()

kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }  # kv KEY "k=v k=v"
ms() { awk -v u="$1" 'BEGIN {if (u == "") print "n/a"; else printf "%.3f", u / 1000}'; }
mb() { awk -v k="$1" 'BEGIN {if (k == "") print "n/a"; else printf "%.1f", k / 1024}'; }
num() { awk -v n="$1" 'BEGIN {if (n == "") print "n/a"; else printf "%d", n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f×", a / b}'; }

sanity() {  # sanity URL WHAT [BODY STREAM_BODY]: one JSON and one SSE request must come back
  local out b=${3:-$body} sb=${4:-$stream_body}  # whole
  out=$(curl -sSk --max-time 5 -H 'Content-Type: application/json' -H "$auth" -d "$b" "$1") ||
    die "$2: request failed"
  [[ $out == *'"chat.completion"'* ]] || die "$2: unexpected JSON response: ${out:0:200}"
  out=$(curl -sSkN --max-time 10 -H 'Content-Type: application/json' -H "$auth" \
    -d "$sb" "$1") || die "$2: stream request failed"
  [[ $out == *'data: [DONE]'* ]] || die "$2: stream did not end with [DONE]: ${out:0:200}"
}

cache_status() {  # cache_status URL BODY: the cf-aig-cache-status of one request
  curl -sSk --max-time 5 -o /dev/null -D - -H 'Content-Type: application/json' -H "$auth" \
    -d "$2" "$1" | tr -d '\r' | sed -n 's/^cf-aig-cache-status: //Ip'
}

sanity_hit() {  # sanity_hit URL WHAT: a repeated request, JSON and stream, is a cache hit
  local status out
  sanity "$1" "$2"
  status=$(cache_status "$1" "$body")
  [[ $status == HIT ]] || die "$2: a repeated request was not a cache hit (cf-aig-cache-status: $status)"
  out=$(curl -sSkN --max-time 10 -H 'Content-Type: application/json' -H "$auth" \
    -d "$stream_body" "$1") || die "$2: replayed stream failed"
  [[ $out == *'data: [DONE]'* ]] || die "$2: replayed stream did not end with [DONE]: ${out:0:200}"
}

entry_memory() {  # entry_memory URL PID: fills the cache with $cache_entries distinct responses
  local url=$1 pid=$2 before after first last  # and reports the RSS they added, per entry
  log "cache memory: $cache_entries distinct responses"
  before=$(rss_kib "$pid")
  run_child /dev/null timeout 120 "${load_cpu[@]}" wrk -t1 -c8 -d"$((cache_entries / 2000 + 3))s" \
    -s "$tmp/fill.lua" "$url"
  after=$(rss_kib "$pid")
  first=$(cache_status "$url" "${body/Hello!/Hello #1!}")
  last=$(cache_status "$url" "${body/Hello!/Hello #$cache_entries!}")
  [[ $first == HIT && $last == HIT ]] ||
    notes+=("cache memory: not every entry was stored (first: $first, last: $last); the figure is off")
  R[cache.rss_added]=$((after - before))
  R[cache.entry_bytes]=$(((after - before) * 1024 / cache_entries))
}

throughput() {  # throughput SCHEME TARGET URL PID...: one wrk run; CPU summed over the PIDs
  local scheme=$1 target=$2 url=$3 key="$1.$2" out c0 c1 s0 s1 requests secs errs  # (WRK_SCRIPT,
  local script=${WRK_SCRIPT:-$tmp/post.lua} conns=${WRK_CONNECTIONS:-$connections}  # WRK_CONNECTIONS
  shift 3  # override the request and the connection count)
  log "$scheme upstream, $target: max throughput (wrk -t1 -c$conns, ${warmup}s + ${duration}s)"
  run_child /dev/null timeout $((warmup + 10)) "${load_cpu[@]}" wrk -t1 -c"$conns" \
    -d"${warmup}s" -s "$script" "$url"
  c0=$(cpu_ticks "$@")
  s0=$(cpu_split "$@")
  run_child "$tmp/wrk.out" timeout $((duration + 20)) "${load_cpu[@]}" wrk -t1 -c"$conns" \
    -d"${duration}s" -s "$script" "$url"
  c1=$(cpu_ticks "$@")
  s1=$(cpu_split "$@")
  R[$key.last_split]="$s0 $s1"  # user and kernel ticks before and after (BENCH_ONLY=cpu)
  out=$(cat "$tmp/wrk.out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  secs=$(awk '/requests in/ {sub(/s,?$/, "", $4); print $4}' <<<"$out")
  [[ -n "$requests" && -n "$secs" ]] || die "cannot read wrk's output: $out"
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  [[ -n "$errs" ]] && notes+=("$scheme/$target throughput run: ${errs% }")
  # One sample: "req per CPU-s req/s CPU%", appended to this path's list.
  R[$key.samples]+="$(awk -v n="$requests" -v s="$secs" -v t=$((c1 - c0)) -v hz="$clk_tck" \
    'BEGIN {printf "%.0f %.0f %.0f", (t > 0 ? n / (t / hz) : 0), n / s, 100 * t / hz / s}');"
}

median_sample() {  # median_SAMPLE KEY: sets R[KEY.rpc/.rps/.cpu] from the median round
  local line
  line=$(tr ';' '\n' <<<"${R[$1.samples]}" | sed '/^$/d' | sort -n | awk '{a[NR] = $0}
    END {print a[int((NR + 1) / 2)]}')
  read -r R[$1.rpc] R[$1.rps] R[$1.cpu] <<<"$line"
}

latency() {  # latency SCHEME TARGET URL: one fixed-rate run, appended to the path's samples
  local scheme=$1 target=$2 url=$3 key="$1.$2" out b=${LAT_BODY:-$body}  # (LAT_BODY: another body)
  log "$scheme upstream, $target: latency at $rate req/s (1s + ${lat_duration}s)"
  run_child "$tmp/load.out" timeout $((lat_duration + 30)) "${load_cpu[@]}" "$load_bin" \
    --url "$url" --body "$b" --header "$auth" --rate "$rate" --duration "$lat_duration" \
    --warmup 1 --connections 8 || notes+=("$scheme/$target latency run had errors: $(cat "$tmp/load.out")")
  out=$(cat "$tmp/load.out")
  # One sample: "p99 p50 p999" (µs).
  R[$key.lat_samples]+="$(kv lat_p99_us "$out") $(kv lat_p50_us "$out") $(kv lat_p999_us "$out");"
}

median_latency() {  # median_latency KEY: R[KEY.p99/.p50/.p999] from the run with the median p99
  local line
  line=$(tr ';' '\n' <<<"${R[$1.lat_samples]}" | sed '/^$/d' | sort -g | awk '{a[NR] = $0}
    END {print a[int((NR + 1) / 2)]}')
  read -r R[$1.p99] R[$1.p50] R[$1.p999] <<<"$line"
}

sse() {  # sse SCHEME TARGET URL: SSE time to first byte (SSE_BODY: another stream body)
  local scheme=$1 target=$2 url=$3 key="$1.$2" out sb=${SSE_BODY:-$stream_body}
  log "$scheme upstream, $target: $streams SSE streams at $stream_rate/s"
  run_child "$tmp/load.out" timeout $((streams / stream_rate + 30)) "${load_cpu[@]}" "$load_bin" \
    --url "$url" --body "$sb" --header "$auth" --rate "$stream_rate" --count "$streams" \
    --connections 4 || notes+=("$scheme/$target stream run had errors: $(cat "$tmp/load.out")")
  out=$(cat "$tmp/load.out")
  R[$key.ttfb50]=$(kv first_p50_us "$out")
  R[$key.ttfb99]=$(kv first_p99_us "$out")
  R[$key.stream50]=$(kv lat_p50_us "$out")
}

log_counters() {  # log_counters KEY ADMIN_PORT: the request log's counters after the runs
  local metrics
  metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$2/metrics") || return 0
  R[$1.log_written]=$(awk '/^aigw_log_written_total / {print $2}' <<<"$metrics")
  R[$1.log_dropped]=$(awk '/^aigw_log_dropped_total / {print $2}' <<<"$metrics")
  R[$1.log_queued]=$(awk '/^aigw_log_queue_depth / {print $2}' <<<"$metrics")
  R[$1.requests]=$(awk '/^aigw_requests_total[{]/ {n += $2} END {print n + 0}' <<<"$metrics")
}

# Translation (issue 17): POST /compat/chat/completions naming an anthropic/ model — the body
# translated into Anthropic's Messages API, the answer and each stream event back into
# OpenAI's — against the same aigw calling /openai/chat/completions natively, both on the
# HTTP fake (which answers each API in its own format, events $sse_delay_ms ms apart).
# Throughput and fixed-rate rounds interleave the two; then SSE time to first byte.
translation() {
  start_aigw http aigw-compat compat
  compat_pid=$aigw_pid compat_port=$aigw_port
  compat_body=${body/'"gpt-4o-mini"'/'"anthropic/claude-bench-4-5"'}
  compat_stream_body=${stream_body/'"gpt-4o-mini"'/'"anthropic/claude-bench-4-5"'}
  wrk_script "$tmp/compat.lua" "$compat_body"
  native_url="http://127.0.0.1:$compat_port/openai/chat/completions"
  compat_url="http://127.0.0.1:$compat_port/compat/chat/completions"
  sanity "$native_url" "aigw, native"
  sanity "$compat_url" "aigw, /compat to anthropic" "$compat_body" "$compat_stream_body"
  for ((round = 1; round <= rounds; round++)); do
    throughput translate native "$native_url" "$compat_pid"
    WRK_SCRIPT="$tmp/compat.lua" throughput translate translated "$compat_url" "$compat_pid"
    latency translate native "$native_url"
    LAT_BODY=$compat_body latency translate translated "$compat_url"
  done
  for target in native translated; do
    median_sample "translate.$target"
    median_latency "translate.$target"
  done
  sse translate native "$native_url"
  SSE_BODY=$compat_stream_body sse translate translated "$compat_url"
  stop "$compat_pid"
  # The rounds interleave the two, so each round's pair saw the same spell of the VM: the
  # added p99 is the median of the rounds' differences (a stall of a few ms in one path's
  # run moves the two medians apart by more than translation costs).
  R[translate.p99_added]=$(paste -d' ' \
    <(tr ';' '\n' <<<"${R[translate.native.lat_samples]}" | sed '/^$/d' | awk '{print $1}') \
    <(tr ';' '\n' <<<"${R[translate.translated.lat_samples]}" | sed '/^$/d' | awk '{print $1}') |
    awk '{print $2 - $1}' | sort -g | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}')
  notes+=("translation: p99 ms in each round, native / translated: $(paste -d/ \
    <(tr ';' '\n' <<<"${R[translate.native.lat_samples]}" | sed '/^$/d' | awk '{printf "%.3f\n", $1 / 1000}') \
    <(tr ';' '\n' <<<"${R[translate.translated.lat_samples]}" | sed '/^$/d' | awk '{printf "%.3f\n", $1 / 1000}') | tr '\n' ' ' | sed 's/ $//')")
}

translation_report() {
  awk -v np="${R[translate.native.p99]}" -v tp="${R[translate.translated.p99]}" \
    -v n50="${R[translate.native.p50]}" -v t50="${R[translate.translated.p50]}" \
    -v nr="${R[translate.native.rpc]}" -v tr="${R[translate.translated.rpc]}" \
    -v nf="${R[translate.native.ttfb50]}" -v tf="${R[translate.translated.ttfb50]}" \
    -v nf9="${R[translate.native.ttfb99]}" -v tf9="${R[translate.translated.ttfb99]}" \
    -v paired="${R[translate.p99_added]}" -v rate="$rate" 'BEGIN {
    added = paired / 1000
    printf "Translation (issue 17), HTTP upstream: /compat/chat/completions to an anthropic/ model (OpenAI ⇄ Anthropic translated) vs /openai/chat/completions on the same aigw: %d vs %d req per CPU-s (**%.2f×**); at %d req/s p50 %.3f vs %.3f ms, p99 %.3f vs %.3f ms (each the median round), **p99 added %.3f ms** (the median of the rounds'"'"' differences; target ≤ 0.3 ms): %s; SSE time to first byte p50 %.3f vs %.3f ms, p99 %.3f vs %.3f ms (added %.3f ms at p50)\n",
      tr, nr, (nr > 0 ? tr / nr : 0), rate, t50 / 1000, n50 / 1000, tp / 1000, np / 1000, added,
      (added <= 0.3 ? "**pass**" : "**FAIL**"), tf / 1000, nf / 1000, tf9 / 1000, nf9 / 1000, (tf - nf) / 1000 }'
}

# Shared state (issue 18): the "limits" config (three rate limits and a budget, every
# decision made, none refusing) with its counters in process against the same config with a
# redis: section, so each request's four counters are decided by one script in one round
# trip to a redis-server on loopback (pinned with the load, as another machine would be).
# Requests per CPU-second count aigw's CPU (and, in a second figure, redis-server's too);
# fixed-rate rounds pair the two; then one decision's cost measured alone (aigw-bench-redis).
replicas() {
  local redis_bin
  redis_bin=$(command -v redis-server) || die "redis-server not found (scripts/install-deps.sh)"
  read -r redis_port < <(free_ports 1)
  "${load_cpu[@]}" "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  start_aigw http aigw-local limits
  local_pid=$aigw_pid local_port=$aigw_port local_admin=$aigw_admin_port
  start_aigw http aigw-redis redis
  shared_pid=$aigw_pid shared_port=$aigw_port shared_admin=$aigw_admin_port
  local_url="http://127.0.0.1:$local_port/openai/chat/completions"
  shared_url="http://127.0.0.1:$shared_port/openai/chat/completions"
  sanity "$local_url" "aigw, limits in process"
  sanity "$shared_url" "aigw, limits in Redis"
  for ((round = 1; round <= rounds; round++)); do
    throughput redis local "$local_url" "$local_pid"
    throughput redis shared "$shared_url" "$shared_pid"
    throughput redis shared_with_server "$shared_url" "$shared_pid" "$redis_pid"
    latency redis local "$local_url"
    latency redis shared "$shared_url"
  done
  for target in local shared shared_with_server; do median_sample "redis.$target"; done
  for target in local shared; do median_latency "redis.$target"; done
  R[redis.p99_added]=$(paste -d' ' \
    <(tr ';' '\n' <<<"${R[redis.local.lat_samples]}" | sed '/^$/d' | awk '{print $1}') \
    <(tr ';' '\n' <<<"${R[redis.shared.lat_samples]}" | sed '/^$/d' | awk '{print $1}') |
    awk '{print $2 - $1}' | sort -g | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}')
  local metrics
  metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$shared_admin/metrics")
  R[redis.round_trips]=$(awk '/^aigw_redis_round_trips_total / {print $2}' <<<"$metrics")
  R[redis.requests]=$(awk '/^aigw_requests_total[{]/ {n += $2} END {print n + 0}' <<<"$metrics")
  R[redis.failures]=$(awk '/^aigw_redis_failures_total / {print $2}' <<<"$metrics")
  stop "$local_pid"
  stop "$shared_pid"
  if [[ -x "$build_dir/bench/aigw-bench-redis" ]]; then
    R[redis.decision]=$("${proxy_cpu[@]}" "$build_dir/bench/aigw-bench-redis" \
      --url "redis://127.0.0.1:$redis_port" --decisions 20000 --concurrency 32 | tr '\n' ';')
  fi
  stop "$redis_pid"
}

replicas_report() {
  awk -v lr="${R[redis.local.rpc]}" -v sr="${R[redis.shared.rpc]}" \
    -v lps="${R[redis.local.rps]}" -v sps="${R[redis.shared.rps]}" \
    -v lcpu="${R[redis.local.cpu]}" -v scpu="${R[redis.shared.cpu]}" \
    -v swr="${R[redis.shared_with_server.rpc]}" \
    -v l50="${R[redis.local.p50]}" -v s50="${R[redis.shared.p50]}" \
    -v l99="${R[redis.local.p99]}" -v s99="${R[redis.shared.p99]}" \
    -v paired="${R[redis.p99_added]}" -v rate="$rate" \
    -v trips="${R[redis.round_trips]}" -v reqs="${R[redis.requests]}" \
    -v fails="${R[redis.failures]}" 'BEGIN {
    printf "Shared state (issue 18), HTTP upstream, 3 rate limits + 1 budget per request: limits in Redis vs in process: %d vs %d req per CPU-s of aigw (**%.2f×**, target ≥ 0.85×; %d counting redis-server'"'"'s CPU too, %.2f×; %d vs %d req/s at %d%% vs %d%% of a core); at %d req/s p50 %.3f vs %.3f ms, p99 %.3f vs %.3f ms, **p99 added %.3f ms** (median of the rounds'"'"' differences); Redis round trips per request %.3f (%d over %d requests, %d failed)\n",
      sr, lr, (lr > 0 ? sr / lr : 0), swr, (lr > 0 ? swr / lr : 0), sps, lps, scpu, lcpu, rate, s50 / 1000, l50 / 1000,
      s99 / 1000, l99 / 1000, paired / 1000, (reqs > 0 ? trips / reqs : 0), trips, reqs, fails }'
  if [[ -n "${R[redis.decision]:-}" ]]; then printf 'One decision (4 counters, one script) via Redis on loopback: %s\n' "${R[redis.decision]}"; fi
}

# Streams (issue 20), HTTPS upstream (BENCH_STREAM_SCHEME), as providers are reached in production.
# 1. Unpaced: a fake provider that sends $unpaced_events events back to back; the time from the
#    scheduled send to a stream's last byte, direct, through aigw and through nginx, one stream
#    at a time ($unpaced_streams per path and round, rounds interleaved, median of the rounds'
#    p50s). What a proxy adds here is its per-read and per-write cost.
# 2. Open streams: $open_streams streams opened at $open_rate/s and held open (events
#    $open_delay_ms ms apart, $open_events of them, so every stream is still open when the last
#    one starts). RSS of the proxy (aigw's process; nginx's worker) before, with all of them
#    open, and (aigw) after they ended, per open stream. Then aigw's RSS once it is idle again.
start_fake() {  # start_fake NAME [h1] ARGS...: sets fake_started_port (runs until exit); "h1":
  # HTTP/1.1 only, whatever BENCH_UPSTREAM_HTTP2 says
  local tls_args=() h2=("${h2_args[@]}")
  [[ ${2:-} == h1 ]] && h2=() && set -- "$1" "${@:3}"
  [[ $stream_scheme == https ]] && tls_args=(--tls "$pki/server.pem" "$pki/server.key" "${h2[@]}")
  "${load_cpu[@]}" "$fake_bin" --port 0 "${tls_args[@]}" "${@:2}" >"$tmp/fake-$1.port" 2>"$tmp/fake-$1.log" &
  pids+=("$!")
  local pid=$!
  for _ in $(seq 100); do [[ -s "$tmp/fake-$1.port" ]] && break; sleep 0.05; done
  fake_started_port=$(head -1 "$tmp/fake-$1.port")
  [[ -n "$fake_started_port" ]] || die "fake provider ($1) did not start"
  wait_http "$stream_scheme://127.0.0.1:$fake_started_port/healthz" "$pid" "fake provider ($1)"
}

open_streams_run() {  # open_streams_run TARGET URL PID: RSS per open stream of PID (KiB, x1000)
  local target=$1 url=$2 pid=$3 before open=0 now after load_pid hold waited=0
  before=$(rss_kib "$pid")
  log "open streams, $target: $open_streams concurrent streams ($open_rate/s)"
  "${load_cpu[@]}" "$load_bin" --url "$url" --body "$stream_body" --header "$auth" \
    --rate "$open_rate" --count "$open_streams" --connections "$open_streams" --warmup 0 \
    --timeout 60 >"$tmp/open-$target.out" 2>&1 &
  load_pid=$!
  pids+=("$load_pid")
  # Sampled every 0.2 s from when the last stream was sent until the first one can end:
  # the highest sample is the RSS with all of them open.
  hold=$(awk -v n="$open_streams" -v r="$open_rate" -v e="$open_events" -v d="$open_delay_ms" \
    'BEGIN {printf "%d", (n / r + e * d / 1000) * 5}')
  while kill -0 "$load_pid" 2>/dev/null && ((waited < hold)); do
    now=$(rss_kib "$pid")
    ((now > open)) && open=$now
    sleep 0.2
    waited=$((waited + 1))
  done
  wait "$load_pid" || notes+=("open streams, $target: the load had errors: $(cat "$tmp/open-$target.out")")
  forget_pid "$load_pid"
  R[open.$target.line]=$(cat "$tmp/open-$target.out")
  R[open.$target.before]=$before
  R[open.$target.open]=$open
  R[open.$target.per_stream]=$(awk -v a="$open" -v b="$before" -v n="$open_streams" \
    'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
  sleep 2
  after=$(rss_kib "$pid")
  R[open.$target.after]=$after
}

streams_section() {
  local fast_port paced_port u
  # The unpaced stream compares like with like: direct, aigw and nginx all reach the fake's
  # HTTP/1.1 path (the load generator speaks no HTTP/2, and the fake's HTTP/2 path takes longer
  # to send 200 frames than its HTTP/1.1 path to send 200 chunks). aigw over HTTP/2 is an extra
  # row against its own fake.
  start_fake unpaced h1 --sse-chunks "$unpaced_events" \
    --sse-delay-ms 0
  fast_port=$fake_started_port
  local fast_h2_port="" targets=(direct aigw nginx)
  if [[ $stream_scheme == https && $upstream_http2 == 1 ]]; then
    start_fake unpaced-h2 --sse-chunks "$unpaced_events" --sse-delay-ms 0
    fast_h2_port=$fake_started_port
    targets+=(aigw_h2)
  fi
  start_fake paced --sse-chunks "$open_events" \
    --sse-delay-ms "$open_delay_ms"
  paced_port=$fake_started_port

  start_aigw "$stream_scheme" aigw-unpaced "" "$fast_port"
  local unpaced_aigw=$aigw_pid
  start_nginx "$stream_scheme" "$fast_port" unpaced
  local unpaced_nginx=$nginx_pid
  declare -A su=(
    [direct]="$stream_scheme://127.0.0.1:$fast_port/v1/chat/completions"
    [aigw]="http://127.0.0.1:$aigw_port/openai/chat/completions"
    [nginx]="http://127.0.0.1:$nginx_port/openai/chat/completions")
  local unpaced_aigw_h2=""
  if [[ -n $fast_h2_port ]]; then
    start_aigw "$stream_scheme" aigw-unpaced-h2 "" "$fast_h2_port"
    unpaced_aigw_h2=$aigw_pid
    su[aigw_h2]="http://127.0.0.1:$aigw_port/openai/chat/completions"
  fi
  for target in "${targets[@]}"; do sanity "${su[$target]}" "$target (unpaced stream)"; done
  for ((round = 1; round <= rounds; round++)); do
    for target in "${targets[@]}"; do
      log "unpaced stream, $target: $unpaced_streams streams of $unpaced_events events, one at a time"
      run_child "$tmp/load.out" timeout 60 "${load_cpu[@]}" "$load_bin" --url "${su[$target]}" \
        --body "$stream_body" --header "$auth" --rate 20 --count "$unpaced_streams" \
        --connections 1 --warmup 0 ||
        notes+=("unpaced stream, $target: errors: $(cat "$tmp/load.out")")
      u=$(cat "$tmp/load.out")
      R[unpaced.$target.samples]+="$(kv lat_p50_us "$u") $(kv first_p50_us "$u") $(kv lat_p99_us "$u");"
    done
  done
  for target in "${targets[@]}"; do
    read -r R[unpaced.$target.p50] R[unpaced.$target.ttfb] R[unpaced.$target.p99] < <(tr ';' '\n' \
      <<<"${R[unpaced.$target.samples]}" | sed '/^$/d' | sort -g | awk '{a[NR] = $0}
      END {print a[int((NR + 1) / 2)]}')
  done
  notes+=("unpaced stream p50 ms per round (direct; aigw; nginx): $(for t in direct aigw nginx; do
    tr ';' '\n' <<<"${R[unpaced.$t.samples]}" | sed '/^$/d' | awk '{printf "%.3f ", $1 / 1000}'
    printf '; '; done | sed 's/ ; /; /g; s/; $//')")
  stop "$unpaced_aigw"
  stop "$unpaced_nginx"
  [[ -n $unpaced_aigw_h2 ]] && stop "$unpaced_aigw_h2"

  start_aigw "$stream_scheme" aigw-open "" "$paced_port"
  local open_aigw=$aigw_pid
  sanity "http://127.0.0.1:$aigw_port/openai/chat/completions" "aigw (open streams)"
  open_streams_run aigw "http://127.0.0.1:$aigw_port/openai/chat/completions" "$open_aigw"
  sleep 3
  R[open.aigw.settled]=$(rss_kib "$open_aigw")
  R[open.aigw.hwm]=$(hwm_kib "$open_aigw")
  stop "$open_aigw"
  start_nginx "$stream_scheme" "$paced_port" open
  sanity "http://127.0.0.1:$nginx_port/openai/chat/completions" "nginx (open streams)"
  open_streams_run nginx "http://127.0.0.1:$nginx_port/openai/chat/completions" "$nginx_worker"
  stop "$nginx_pid"
}

streams_report() {
  local ka=unpaced.aigw kn=unpaced.nginx kd=unpaced.direct
  local upstream_protocol="HTTP/1.1"
  [[ $stream_scheme == https && $upstream_http2 == 1 ]] && upstream_protocol="HTTP/2 for aigw, HTTP/1.1 for nginx"
  echo "Streams (issue 20), ${stream_scheme^^} upstream ($upstream_protocol):"
  echo
  echo "| measure | direct | aigw | nginx | aigw/nginx | target |"
  echo "|---|--:|--:|--:|--:|---|"
  echo "| unpaced stream of $unpaced_events events, p50 ms | $(ms "${R[$kd.p50]}") | $(ms "${R[$ka.p50]}") |" \
    "$(ms "${R[$kn.p50]}") | **$(ratio "${R[$ka.p50]}" "${R[$kn.p50]}")** | ≤ 1.20× |"
  echo "| the same, added to direct, ms | | $(awk -v a="${R[$ka.p50]}" -v d="${R[$kd.p50]}" 'BEGIN {printf "%.3f", (a - d) / 1000}') |" \
    "$(awk -v a="${R[$kn.p50]}" -v d="${R[$kd.p50]}" 'BEGIN {printf "%.3f", (a - d) / 1000}') | | |"
  echo "| the same, first event p50 ms | $(ms "${R[$kd.ttfb]}") | $(ms "${R[$ka.ttfb]}") |" \
    "$(ms "${R[$kn.ttfb]}") | $(ratio "${R[$ka.ttfb]}" "${R[$kn.ttfb]}") | |"
  if [[ -n ${R[unpaced.aigw_h2.p50]:-} ]]; then
    echo "| the same, aigw over HTTP/2 to the fake's HTTP/2 path, p50 ms (first event) | |" \
      "$(ms "${R[unpaced.aigw_h2.p50]}") ($(ms "${R[unpaced.aigw_h2.ttfb]}")) | | | |"
  fi
  echo "| $open_streams open streams: RSS per open stream, KB | | $(awk -v b="${R[open.aigw.per_stream]}" 'BEGIN {printf "%.1f", b / 1000}') |" \
    "$(awk -v b="${R[open.nginx.per_stream]}" 'BEGIN {printf "%.1f", b / 1000}') |" \
    "**$(ratio "${R[open.aigw.per_stream]}" "${R[open.nginx.per_stream]}")** | ≤ 0.50× |"
  echo "| RSS before / with all open / 2 s after, MB | | $(mb "${R[open.aigw.before]}") / $(mb "${R[open.aigw.open]}") / $(mb "${R[open.aigw.after]}") |" \
    "$(mb "${R[open.nginx.before]}") / $(mb "${R[open.nginx.open]}") / $(mb "${R[open.nginx.after]}") | | |"
  echo "| aigw RSS 5 s after the streams, against before | | $(mb "${R[open.aigw.settled]}") MB:" \
    "$(ratio "${R[open.aigw.settled]}" "${R[open.aigw.before]}") | | | ≤ 1.50× |"
  echo
  echo "Open streams: $open_events events $open_delay_ms ms apart, opened at $open_rate/s;" \
    "aigw's peak RSS $(mb "${R[open.aigw.hwm]}") MB. aigw's load: ${R[open.aigw.line]:-n/a};" \
    "nginx's: ${R[open.nginx.line]:-n/a}."
}

# BENCH_ONLY=streams: the two stream measurements alone (about a minute).
if [[ $only == streams ]]; then
  streams_section
  streams_report
  printf '%s\n' "${notes[@]/#/- }"
  exit 0
fi

# BENCH_ONLY=redis: the shared-state runs alone.
if [[ $only == redis ]]; then
  replicas
  replicas_report
  printf '%s\n' "${notes[@]/#/- }"
  exit 0
fi

# BENCH_ONLY=cpu: requests per CPU-second over HTTP, aigw with metering off (the request log as
# BENCH_REQUEST_LOG says) against nginx, each round's CPU split into user and kernel time, so
# what a change saves in user space shows beside what neither proxy can save in the kernel.
if [[ $only == cpu ]]; then
  start_aigw http aigw-cpu nometer
  start_nginx http
  cpu_url_aigw="http://127.0.0.1:$aigw_port/openai/chat/completions"
  cpu_url_nginx="http://127.0.0.1:$nginx_port/openai/chat/completions"
  sanity "$cpu_url_aigw" "aigw, metering off"
  sanity "$cpu_url_nginx" "nginx"
  echo "| round | proxy | req/s | req per CPU-s | user µs/req | kernel µs/req |"
  echo "|--:|---|--:|--:|--:|--:|"
  for ((round = 1; round <= rounds; round++)); do
    for target in aigw nginx; do
      if [[ $target == aigw ]]; then cpu_url=$cpu_url_aigw cpu_p=("$aigw_pid"); else
        cpu_url=$cpu_url_nginx cpu_p=("$nginx_pid" "$nginx_worker"); fi
      throughput http "$target" "$cpu_url" "${cpu_p[@]}"
      sample=$(tr ';' '\n' <<<"${R[http.$target.samples]}" | sed '/^$/d' | tail -1)
      n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
      awk -v r="$round" -v t="$target" -v s="$sample" -v c="${R[http.$target.last_split]}" \
        -v n="$n" -v hz="$clk_tck" 'BEGIN { split(s, x, " "); split(c, q, " ")
          printf "| %d | %s | %d | %d | %.2f | %.2f |\n", r, t, x[2], x[1],
            1e6 * (q[3] - q[1]) / hz / n, 1e6 * (q[4] - q[2]) / hz / n }'
    done
  done
  ratios=$(paste -d' ' <(tr ';' '\n' <<<"${R[http.aigw.samples]}" | sed '/^$/d') \
    <(tr ';' '\n' <<<"${R[http.nginx.samples]}" | sed '/^$/d') |
    awk '{printf "%.2f× ", ($4 > 0 ? $1 / $4 : 0)}')
  echo
  echo "aigw/nginx req per CPU-s in each round: ${ratios% } (request log: $request_log)"
  printf '%s\n' "${notes[@]/#/- }"
  exit 0
fi

# BENCH_ONLY=translate: the translation runs alone (a minute or two), their line and notes.
if [[ $only == translate ]]; then
  translation
  translation_report
  printf '%s\n' "${notes[@]/#/- }"
  exit 0
fi

started=$(date +%s)
# hit: a second aigw with the cache on; after the sanity check every request is a cache hit.
targets=(direct aigw hit nginx)
for scheme in http https; do
  start_aigw "$scheme" aigw-cache cache
  hit_pid=$aigw_pid hit_port=$aigw_port
  start_aigw "$scheme" aigw
  aigw_admin=$aigw_admin_port
  start_nginx "$scheme"
  declare -A url=(
    [direct]="$scheme://127.0.0.1:${fake_port[$scheme]}/v1/chat/completions"
    [aigw]="http://127.0.0.1:$aigw_port/openai/chat/completions"
    [hit]="http://127.0.0.1:$hit_port/openai/chat/completions"
    [nginx]="http://127.0.0.1:$nginx_port/openai/chat/completions")
  declare -A cpu_pids=([direct]="${fake_pid[$scheme]}" [aigw]="$aigw_pid" [hit]="$hit_pid"
    [nginx]="$nginx_pid $nginx_worker")
  for target in direct aigw nginx; do
    log "$scheme upstream, $target: sanity check"
    sanity "${url[$target]}" "$target ($scheme)"
  done
  log "$scheme upstream, hit: sanity check"
  sanity_hit "${url[hit]}" "aigw cache hit ($scheme)"
  # Rounds interleave the paths, so a slow spell of the VM hits all three alike.
  for ((round = 1; round <= rounds; round++)); do
    for target in "${targets[@]}"; do
      # shellcheck disable=SC2086 # the PID list splits on purpose
      throughput "$scheme" "$target" "${url[$target]}" ${cpu_pids[$target]}
    done
    for target in "${targets[@]}"; do
      latency "$scheme" "$target" "${url[$target]}"
    done
  done
  log_counters "$scheme.aigw" "$aigw_admin"
  for target in "${targets[@]}"; do
    median_sample "$scheme.$target"
    median_latency "$scheme.$target"
    sse "$scheme" "$target" "${url[$target]}"
  done
  ratios=$(paste -d' ' <(tr ';' '\n' <<<"${R[$scheme.aigw.samples]}" | sed '/^$/d') \
    <(tr ';' '\n' <<<"${R[$scheme.nginx.samples]}" | sed '/^$/d') |
    awk '{printf "%.2f× ", ($4 > 0 ? $1 / $4 : 0)}')
  notes+=("$scheme: aigw/nginx req per CPU-s in each round: ${ratios% }")
  ratios=$(paste -d' ' <(tr ';' '\n' <<<"${R[$scheme.hit.samples]}" | sed '/^$/d') \
    <(tr ';' '\n' <<<"${R[$scheme.nginx.samples]}" | sed '/^$/d') |
    awk '{printf "%.2f× ", ($4 > 0 ? $1 / $4 : 0)}')
  notes+=("$scheme: hit/nginx req per CPU-s in each round: ${ratios% }")
  notes+=("$scheme: aigw p99 ms in each round: $(tr ';' '\n' <<<"${R[$scheme.aigw.lat_samples]}" |
    sed '/^$/d' | awk '{printf "%.3f ", $1 / 1000}')(direct: $(tr ';' '\n' <<<"${R[$scheme.direct.lat_samples]}" |
    sed '/^$/d' | awk '{printf "%.3f ", $1 / 1000}' | sed 's/ $//'))")
  R[$scheme.direct.rss]=$(hwm_kib "${fake_pid[$scheme]}")
  R[$scheme.aigw.rss]=$(hwm_kib "$aigw_pid")
  R[$scheme.hit.rss]=$(hwm_kib "$hit_pid")
  [[ $scheme == http ]] && entry_memory "${url[hit]}" "$hit_pid"
  R[$scheme.nginx.rss]=$(hwm_kib "$nginx_worker")
  R[$scheme.nginx.rss_master]=$(hwm_kib "$nginx_pid")
  stop "$aigw_pid"
  stop "$hit_pid"
  stop "$nginx_pid"
done

# Streaming with metering on vs off: a fake provider that sends its events back to back
# (--sse-delay-ms 0), so the runs are CPU-bound; aigw with metering (and the request log) as
# configured above, and aigw with metering.enabled: false. Rounds interleave the two.
"${load_cpu[@]}" "$fake_bin" --port 0 --sse-chunks "$sse_chunks" --sse-delay-ms 0 \
  >"$tmp/fake-fast.port" 2>"$tmp/fake-fast.log" &
fast_pid=$!
pids+=("$fast_pid")
for _ in $(seq 100); do [[ -s "$tmp/fake-fast.port" ]] && break; sleep 0.05; done
fast_port=$(head -1 "$tmp/fake-fast.port")
[[ -n "$fast_port" ]] || die "fake provider (fast streams) did not start"
start_aigw http aigw-meter "" "$fast_port"
meter_pid=$aigw_pid meter_port=$aigw_port meter_admin=$aigw_admin_port
start_aigw http aigw-nometer nometer "$fast_port"
nometer_pid=$aigw_pid nometer_port=$aigw_port
sanity "http://127.0.0.1:$meter_port/openai/chat/completions" "aigw, metering on (streams)"
sanity "http://127.0.0.1:$nometer_port/openai/chat/completions" "aigw, metering off (streams)"
for ((round = 1; round <= rounds; round++)); do
  WRK_SCRIPT="$tmp/stream.lua" WRK_CONNECTIONS=$stream_connections \
    throughput stream metered "http://127.0.0.1:$meter_port/openai/chat/completions" "$meter_pid"
  WRK_SCRIPT="$tmp/stream.lua" WRK_CONNECTIONS=$stream_connections throughput stream unmetered \
    "http://127.0.0.1:$nometer_port/openai/chat/completions" "$nometer_pid"
done
log_counters stream.metered "$meter_admin"
median_sample stream.metered
median_sample stream.unmetered
R[stream.metered.rss]=$(hwm_kib "$meter_pid")
R[stream.unmetered.rss]=$(hwm_kib "$nometer_pid")
stop "$meter_pid"
stop "$nometer_pid"
stop "$fast_pid"

# Streams (issue 20): an unpaced stream of $unpaced_events events, and $open_streams open
# paced streams (RSS per stream), aigw vs nginx, HTTPS upstream.
streams_section

# Limits on vs off: aigw with three rate limits (gateway-wide fixed, per-IP sliding, tokens)
# and a monthly budget, none of which refuses, against aigw without them, on the HTTP
# upstream. Rounds interleave the two.
start_aigw http aigw-limits limits
limits_pid=$aigw_pid limits_port=$aigw_port limits_admin=$aigw_admin_port
start_aigw http aigw-nolimits
nolimits_pid=$aigw_pid nolimits_port=$aigw_port
sanity "http://127.0.0.1:$limits_port/openai/chat/completions" "aigw, limits on"
for ((round = 1; round <= rounds; round++)); do
  throughput limits on "http://127.0.0.1:$limits_port/openai/chat/completions" "$limits_pid"
  throughput limits off "http://127.0.0.1:$nolimits_port/openai/chat/completions" "$nolimits_pid"
done
limited=$(curl -s "http://127.0.0.1:$limits_admin/metrics" |
  awk '/^aigw_requests_total[{].*status="429"/ {n += $2} END {print n + 0}')
((limited == 0)) || notes+=("limits on: $limited requests were refused; the run is not comparable")
median_sample limits.on
median_sample limits.off
ratios=$(paste -d' ' <(tr ';' '\n' <<<"${R[limits.on.samples]}" | sed '/^$/d') \
  <(tr ';' '\n' <<<"${R[limits.off.samples]}" | sed '/^$/d') |
  awk '{printf "%.2f× ", ($4 > 0 ? $1 / $4 : 0)}')
notes+=("limits on/off req per CPU-s in each round: ${ratios% }")
stop "$limits_pid"
stop "$nolimits_pid"

translation

# Fallback overhead (issue 6): a universal request whose first two steps fail fast (connection
# refused: nothing listens on dead_port) and whose third answers, against a direct call to
# the third's provider on the same aigw. Rounds interleave the two.
read -r dead_port < <(free_ports 1)
start_aigw http aigw-route dead
route_pid=$aigw_pid route_port=$aigw_port
step() { printf '{"provider":"%s","endpoint":"chat/completions","query":%s}' "$1" "$body"; }
wrk_script "$tmp/universal.lua" "[$(step custom-dead-a),$(step custom-dead-b),$(step openai)]"
out=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  -d "[$(step custom-dead-a),$(step custom-dead-b),$(step openai)]" "http://127.0.0.1:$route_port/")
[[ $out == *"cf-aig-step: 2"* ]] || die "universal request was not answered by step 2: $out"
# The same three targets as a named route, breaker off (every request tries all three) and on
# (after five refusals the dead targets are skipped, probed once per 30 s cooldown).
for name in three guarded; do
  out=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$route_port/route/$name/chat/completions")
  [[ $out == *"cf-aig-provider: openai"* ]] || die "route $name was not answered by openai: $out"
done
for ((round = 1; round <= rounds; round++)); do
  WRK_SCRIPT="$tmp/universal.lua" throughput route three-steps "http://127.0.0.1:$route_port/" \
    "$route_pid"
  throughput route named "http://127.0.0.1:$route_port/route/three/chat/completions" "$route_pid"
  throughput route guarded "http://127.0.0.1:$route_port/route/guarded/chat/completions" \
    "$route_pid"
  throughput route direct "http://127.0.0.1:$route_port/openai/chat/completions" "$route_pid"
done
median_sample route.three-steps
median_sample route.named
median_sample route.guarded
median_sample route.direct
stop "$route_pid"

# The request log's writer on its own (bench/logwriter): records per second it commits with
# retention on, against the most requests per second one aigw worker served above.
if ((logwriter_records > 0)); then
  log "log writer: $logwriter_records records"
  run_child "$tmp/logwriter.out" timeout 120 "$logwriter_bin" --path "$tmp/logwriter.db" \
    --records "$logwriter_records" --max-rows 200000 ||
    notes+=("log writer run failed: $(tail -3 "$tmp/logwriter.out")")
  R[lw.line]=$(cat "$tmp/logwriter.out")
  R[lw.rps]=$(kv records_per_s "${R[lw.line]}")
  R[lw.rpc]=$(kv records_per_writer_cpu_s "${R[lw.line]}")
  rm -f "$tmp/logwriter.db" "$tmp/logwriter.db-wal" "$tmp/logwriter.db-shm"
fi
elapsed=$(($(date +%s) - started))
idle_after=$(machine_idle)

# --- report ---------------------------------------------------------------------------------------

aigw_version=$("$aigw_bin" --version 2>/dev/null || echo "aigw ?")
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

report="$tmp/report.md"
{
  echo "# aigw benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$aigw_version (${build_type:-?} build, server.workers: 1) vs $nginx_version" \
    "(worker_processes 1) vs no proxy. $ncpu CPU(s): ${cpu_model:-unknown}; kernel $(uname -r)."
  echo "$placement. Access logs: $access_log. aigw request log: $request_log. Machine idle before/after the run:" \
    "${idle_before}% / ${idle_after}%. Measurement time ${elapsed}s."
  echo
  echo "| upstream | path | req/s | proxy CPU | req per CPU-s | p50 ms | p99 ms | p99 added | SSE TTFB p50 ms | SSE TTFB p99 ms | peak RSS MB |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
  for scheme in http https; do
    kd="$scheme.direct"
    for target in "${targets[@]}"; do
      k="$scheme.$target"
      added=$(awk -v a="${R[$k.p99]}" -v b="${R[$kd.p99]}" 'BEGIN {printf "%+.3f", (a - b) / 1000}')
      [[ $target == direct ]] && added="—"
      echo "| $scheme | $target | $(num "${R[$k.rps]}") | ${R[$k.cpu]}% | $(num "${R[$k.rpc]}") |" \
        "$(ms "${R[$k.p50]}") | $(ms "${R[$k.p99]}") | $added | $(ms "${R[$k.ttfb50]}") |" \
        "$(ms "${R[$k.ttfb99]}") | $(mb "${R[$k.rss]}") |"
    done
    ka="$scheme.aigw"
    kn="$scheme.nginx"
    echo "| $scheme | **aigw/nginx** | $(ratio "${R[$ka.rps]}" "${R[$kn.rps]}") |" \
      "$(ratio "${R[$ka.cpu]}" "${R[$kn.cpu]}") | **$(ratio "${R[$ka.rpc]}" "${R[$kn.rpc]}")** |" \
      "$(ratio "${R[$ka.p50]}" "${R[$kn.p50]}") | $(ratio "${R[$ka.p99]}" "${R[$kn.p99]}") | |" \
      "$(ratio "${R[$ka.ttfb50]}" "${R[$kn.ttfb50]}") | $(ratio "${R[$ka.ttfb99]}" "${R[$kn.ttfb99]}") |" \
      "$(ratio "${R[$ka.rss]}" "${R[$kn.rss]}") |"
    kh="$scheme.hit"
    echo "| $scheme | **hit/nginx** | $(ratio "${R[$kh.rps]}" "${R[$kn.rps]}") |" \
      "$(ratio "${R[$kh.cpu]}" "${R[$kn.cpu]}") | **$(ratio "${R[$kh.rpc]}" "${R[$kn.rpc]}")** |" \
      "$(ratio "${R[$kh.p50]}" "${R[$kn.p50]}") | $(ratio "${R[$kh.p99]}" "${R[$kn.p99]}") | |" \
      "$(ratio "${R[$kh.ttfb50]}" "${R[$kn.ttfb50]}") | $(ratio "${R[$kh.ttfb99]}" "${R[$kn.ttfb99]}") |" \
      "$(ratio "${R[$kh.rss]}" "${R[$kn.rss]}") |"
  done
  echo
  echo "Targets:"
  echo
  for scheme in http https; do
    ka="$scheme.aigw"
    kn="$scheme.nginx"
    kd="$scheme.direct"
    awk -v s="$scheme" -v ar="${R[$ka.rpc]}" -v nr="${R[$kn.rpc]}" -v ap="${R[$ka.p99]}" \
      -v dp="${R[$kd.p99]}" -v rss="${R[$ka.rss]}" 'BEGIN {
      r = nr > 0 ? ar / nr : 0; added = (ap - dp) / 1000; mb = rss / 1024
      printf "- %s upstream: req per CPU-s %.2f× nginx (target ≥ 1.00×, issue 20): %s; p99 added %.3f ms (target ≤ 0.3 ms): %s; peak RSS %.1f MB (target ≤ 20 MB): %s\n",
        s, r, (r >= 1 ? "**pass**" : "**FAIL**"), added, (added <= 0.3 ? "**pass**" : "**FAIL**"),
        mb, (mb <= 20 ? "**pass**" : "**FAIL**") }'
    awk -v s="$scheme" -v hr="${R[$scheme.hit.rpc]}" -v nr="${R[$kn.rpc]}" 'BEGIN {
      r = nr > 0 ? hr / nr : 0
      printf "- %s upstream, cache hit: req per CPU-s %.2f× nginx proxying (target ≥ 2.00×, i.e. at most half the CPU): %s\n",
        s, r, (r >= 2 ? "**pass**" : "**FAIL**") }'
  done
  echo "- cache memory: $cache_entries distinct cached responses (553-byte body plus OpenAI's" \
    "headers each) added $(mb "${R[cache.rss_added]}") MB of RSS: $(num "${R[cache.entry_bytes]}") bytes per entry"
  echo
  echo "Metering (issue 4):"
  echo
  for scheme in http https; do
    k="$scheme.aigw"
    echo "- $scheme upstream, request log at full load: $(num "${R[$k.requests]}") requests metered," \
      "$(num "${R[$k.log_written]}") records committed, $(num "${R[$k.log_queued]}") queued," \
      "**$(num "${R[$k.log_dropped]}") dropped** (aigw_log_dropped_total)"
  done
  if [[ -n "${R[lw.rps]:-}" ]]; then
    max_rps=$(awk -v a="${R[http.aigw.rps]}" -v b="${R[https.aigw.rps]}" 'BEGIN {print (a > b ? a : b)}')
    echo "- log writer alone (bench/logwriter, retention at 200 000 rows): **$(num "${R[lw.rps]}") records/s**," \
      "$(num "${R[lw.rpc]}") records per writer CPU-s: $(ratio "${R[lw.rps]}" "$max_rps") the most" \
      "requests/s one aigw worker served above ($(num "$max_rps"))"
  fi
  echo "- streaming (HTTP upstream, $sse_chunks events back to back, wrk -c$stream_connections): metering on" \
    "$(num "${R[stream.metered.rpc]}") streams per CPU-s ($(num "${R[stream.metered.rps]}")/s at ${R[stream.metered.cpu]}% CPU)," \
    "off $(num "${R[stream.unmetered.rpc]}") ($(num "${R[stream.unmetered.rps]}")/s at ${R[stream.unmetered.cpu]}% CPU):" \
    "**on/off $(ratio "${R[stream.metered.rpc]}" "${R[stream.unmetered.rpc]}")**; request log $(num "${R[stream.metered.log_dropped]}") dropped;" \
    "peak RSS $(mb "${R[stream.metered.rss]}") / $(mb "${R[stream.unmetered.rss]}") MB"
  echo
  echo "Fallback (issue 6): a universal request whose first two steps are refused, then answered by" \
    "the third: $(num "${R[route.three-steps.rpc]}") req per CPU-s ($(num "${R[route.three-steps.rps]}")/s)" \
    "against $(num "${R[route.direct.rpc]}") ($(num "${R[route.direct.rps]}")/s) calling the third directly:" \
    "**$(ratio "${R[route.three-steps.rpc]}" "${R[route.direct.rpc]}")**." \
    "The same three as a named route: breaker off $(num "${R[route.named.rpc]}")" \
    "(**$(ratio "${R[route.named.rpc]}" "${R[route.direct.rpc]}")**), breaker on (dead targets skipped)" \
    "$(num "${R[route.guarded.rpc]}") (**$(ratio "${R[route.guarded.rpc]}" "${R[route.direct.rpc]}")**)"
  echo
  streams_report
  echo
  translation_report
  echo
  echo "Limits (issue 5): three rate limits and a budget that never refuse vs none, HTTP upstream:" \
    "$(num "${R[limits.on.rpc]}") req per CPU-s ($(num "${R[limits.on.rps]}")/s at ${R[limits.on.cpu]}% CPU)" \
    "against $(num "${R[limits.off.rpc]}") ($(num "${R[limits.off.rps]}")/s at ${R[limits.off.cpu]}% CPU):" \
    "**on/off $(ratio "${R[limits.on.rpc]}" "${R[limits.off.rpc]}")**"
  echo
  echo "Parameters: wrk -t1 -c$connections, ${warmup}s warm-up + ${duration}s, $rounds rounds" \
    "(req/s, proxy CPU and req per CPU-s are each path's median round);" \
    "fixed rate $rate req/s for ${lat_duration}s per round, median p99 round reported (aigw-bench-load, up to 8 connections);" \
    "$streams SSE streams at $stream_rate/s, $sse_chunks events ${sse_delay_ms} ms apart." \
    "SSE full-stream p50 (ms): $(for s in http https; do for t in "${targets[@]}"; do
      printf '%s/%s %s, ' "$s" "$t" "$(ms "${R[$s.$t.stream50]}")"; done; done | sed 's/, $/./')"
  echo "nginx peak RSS is its worker's; the master adds $(mb "${R[http.nginx.rss_master]}") MB."
  if ((${#notes[@]} > 0)); then
    echo
    echo "Notes:"
    for note in "${notes[@]}"; do echo "- $note"; done
  fi
} >"$report"

mkdir -p "$results_dir"
cp "$report" "$results_dir/latest.md"
echo
cat "$report"
echo
log "written to bench/results/latest.md"
