#!/usr/bin/env bash
# bench/soak.sh — the soak (issue 20): SOAK_REQUESTS (1 000 000) mixed requests through one
# aigw — buffered misses, cache hits, streams, provider errors (500, 429), client aborts
# mid-stream, invalid JSON — as fast as it answers them, every response checked; aigw's RSS
# and open file descriptors sampled all along. Targets: RSS drift after warm-up < 5 %, open
# fds back to their baseline, 0 errors, 0 request-log records dropped. Method: bench/README.md.
#
#   bench/soak.sh                            build the three targets in build/, soak
#   SOAK_REQUESTS=20000 bench/soak.sh        a quick check (about 5 s of load)
#   SOAK_SKIP_BUILD=1 bench/soak.sh          use the binaries as they are
#
# Every knob is an environment variable (defaults in parentheses):
#   SOAK_BUILD_DIR (build)     build directory; configured here (RelWithDebInfo, AIGW_BENCH=ON,
#                              no tests) when it has no CMakeCache.txt
#   SOAK_SKIP_BUILD (0)        1: do not build
#   SOAK_REQUESTS (1000000)    requests in the soak
#   SOAK_CONNECTIONS (32)      keep-alive client connections (closed loop)
#   SOAK_WARMUP (0.1)          the share of the requests that is warm-up
#   SOAK_INTERVAL (2)          seconds between two RSS / fd samples
#   SOAK_SETTLE (3)            seconds between the end of the load and the fd count checked
#   SOAK_LATE (80)             when that count is not back to the baseline, seconds after the
#                              load of one more count (past server.idle_timeout, 75 s); 0: none
#   SOAK_CACHE_BYTES (64MiB)   cache.max_bytes (aigw's default); the misses fill it
#   SOAK_TIME_LIMIT (900)      seconds the load may take at most (then it is killed: FAIL)
#   SOAK_PIN (auto)            auto: with 2+ cores, aigw on CPU 0, the load and the fake
#                              provider on the others; 0: no pinning
#   SOAK_UPSTREAM (http)       http: plain HTTP/1.1 to the fake provider; h2: HTTPS with HTTP/2
#                              (a throwaway certificate; every request a stream of one connection)
#   SOAK_KEEP_TMP (0)          1 keeps the temp dir (config, logs, samples, the SQLite log)
# Output: markdown on stdout and in bench/results/soak.md. Exit status 0 when every target is
# met. Traffic stays on 127.0.0.1; everything started here is killed on exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${SOAK_BUILD_DIR:-build}
[[ "$build_dir" = /* ]] || build_dir="$repo/$build_dir"
requests=${SOAK_REQUESTS:-1000000}
upstream=${SOAK_UPSTREAM:-http}
[[ $upstream == http || $upstream == h2 ]] || { echo "SOAK_UPSTREAM: http or h2" >&2; exit 2; }
connections=${SOAK_CONNECTIONS:-32}
warmup=${SOAK_WARMUP:-0.1}
interval=${SOAK_INTERVAL:-2}
settle=${SOAK_SETTLE:-3}
late=${SOAK_LATE:-80}
cache_bytes=${SOAK_CACHE_BYTES:-64MiB}
time_limit=${SOAK_TIME_LIMIT:-900}
pin=${SOAK_PIN:-auto}
sse_chunks=20
pool_max_idle=32 # upstream.pool_max_idle_per_host (aigw's default), one worker
results_dir="$repo/bench/results"

log() { printf '[soak] %s\n' "$*" >&2; }
die() {
  printf '[soak] error: %s\n' "$*" >&2
  exit 1
}

# --- build ------------------------------------------------------------------------------------
if [[ "${SOAK_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    log "configuring $build_dir"
    generator=()
    command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
    cmake -S "$repo" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DAIGW_TESTS=OFF -DAIGW_BENCH=ON >&2
  fi
  log "building aigw, aigw-fake-provider, aigw-bench-soak in $build_dir"
  cmake --build "$build_dir" --parallel "${AIGW_JOBS:-2}" \
    --target aigw aigw-fake-provider aigw-bench-soak >&2
fi
aigw_bin="$build_dir/aigw"
fake_bin="$build_dir/bench/aigw-fake-provider"
soak_bin="$build_dir/bench/aigw-bench-soak"
for b in "$aigw_bin" "$fake_bin" "$soak_bin"; do
  [[ -x "$b" ]] || die "$b missing (configure with -DAIGW_BENCH=ON and build)"
done
for tool in curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# --- temp dir, process bookkeeping, CPU placement (bench/lib.sh) ------------------------------
# shellcheck source=bench/lib.sh
source "$repo/bench/lib.sh"
bench_tmp soak "${SOAK_KEEP_TMP:-0}"
ncpu=$(nproc)
bench_pin "$pin"
placement="no CPU pinning"
[[ -n "$load_cpus" ]] &&
  placement="aigw on CPU 0; the load tool and the fake provider on CPU $load_cpus"

# fd_kinds PID: aigw's open fds by what they are, one "count kind" line each, sorted. TCP
# sockets are told apart by their ports (/proc/net/tcp): listeners, client connections,
# admin connections, upstream connections to the fake provider.
fd_kinds() {
  python3 - "$1" "$aigw_port" "$admin_port" "$fake_port" <<'EOF'
import collections, os, sys
pid, aigw, admin, fake = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tcp = {}
for name in ("tcp", "tcp6"):
    try:
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            for line in f:
                p = line.split()
                local, remote, state, inode = p[1], p[2], p[3], p[9]
                lport, rport = int(local.split(":")[1], 16), int(remote.split(":")[1], 16)
                states = {"01": "", "06": " TIME-WAIT", "07": " CLOSE", "08": " CLOSE-WAIT",
                          "09": " LAST-ACK", "04": " FIN-WAIT-1", "05": " FIN-WAIT-2"}
                st = states.get(state, f" state {state}")
                if state == "0A":
                    kind = "tcp listener"
                elif rport == fake:
                    kind = "tcp upstream (to the fake provider)" + st
                elif lport == aigw:
                    kind = "tcp client connection" + st
                elif lport == admin:
                    kind = "tcp admin connection" + st
                else:
                    kind = "tcp other" + st
                tcp[inode] = kind
    except OSError:
        pass
kinds = collections.Counter()
fd_dir = f"/proc/{pid}/fd"
for fd in os.listdir(fd_dir):
    try:
        target = os.readlink(f"{fd_dir}/{fd}")
    except OSError:
        continue
    if target.startswith("socket:["):
        kind = tcp.get(target[8:-1], "socket gone from /proc/net/tcp (reset or closed; fd still open)")
    elif target.startswith("anon_inode:"):
        kind = target.strip("[]").replace("anon_inode:[", "anon_inode:")
    elif target.startswith("pipe:"):
        kind = "pipe"
    elif target.startswith("/"):
        kind = "file " + (os.path.basename(target) if "aigw-soak" in target else target)
    else:
        kind = target
    kinds[kind] += 1
for kind, n in sorted(kinds.items()):
    print(n, kind)
EOF
}
fd_count() { awk '{n += $1} END {print n + 0}' "$1"; }
fd_of_kind() { awk -v k="$2" '{c = $1; $1 = ""; sub(/^ /, "")} $0 == k {print c; f = 1} END {if (!f) print 0}' "$1"; }
upstream_kind="tcp upstream (to the fake provider)"
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" "$2" | head -1; } # kv KEY FILE
mib() { awk -v k="$1" 'BEGIN {if (k == "") print "n/a"; else printf "%.1f", k / 1024}'; }

# --- the fake provider and aigw --------------------------------------------------------------
fake_tls=() scheme=http ca_line=""
if [[ $upstream == h2 ]]; then
  # A throwaway self-signed certificate for 127.0.0.1, trusted by aigw through ca_file.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$tmp/fake.key" -out "$tmp/fake.pem" -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" >"$tmp/pki.log" 2>&1 || die "openssl failed"
  fake_tls=(--tls "$tmp/fake.pem" "$tmp/fake.key" --http2)
  scheme=https
  ca_line="    ca_file: $tmp/fake.pem"
fi
"${load_cpu[@]}" "$fake_bin" --port 0 "${fake_tls[@]}" --sse-chunks "$sse_chunks" --sse-delay-ms 0 \
  >"$tmp/fake.port" 2>"$tmp/fake.log" &
fake_pid=$!
pids+=("$fake_pid")
for _ in $(seq 100); do [[ -s "$tmp/fake.port" ]] && break; sleep 0.05; done
fake_port=$(head -1 "$tmp/fake.port")
[[ -n "$fake_port" ]] || die "the fake provider did not start: $(cat "$tmp/fake.log")"
wait_http "$scheme://127.0.0.1:$fake_port/healthz" "$fake_pid" "the fake provider"

read -r aigw_port admin_port < <(free_ports 2)
cat >"$tmp/aigw.yaml" <<EOF
server:
  log_level: warn
  listen: 127.0.0.1:$aigw_port
  workers: 1
  max_connections_per_address: 0   # every load connection comes from 127.0.0.1
admin:
  enabled: true
  listen: 127.0.0.1:$admin_port
providers:
  openai:
    base_url: $scheme://127.0.0.1:$fake_port/v1
$ca_line
access_log:
  path: "off"
cache:
  enabled: true
  ttl: 1h
  max_bytes: $cache_bytes
request_log:
  path: $tmp/requests.db
EOF
"${proxy_cpu[@]}" "$aigw_bin" --config "$tmp/aigw.yaml" >"$tmp/aigw.out" 2>"$tmp/aigw.log" &
aigw_pid=$!
pids+=("$aigw_pid")
wait_http "http://127.0.0.1:$admin_port/readyz" "$aigw_pid" "aigw"

# One warm request (a miss: it opens the upstream connection the pool then keeps), so that
# the baseline has the pool's first connection in it.
url="http://127.0.0.1:$aigw_port/openai/chat/completions"
warm_body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Soak: warm-up"}]}'
out=$(curl -sS --max-time 5 -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer sk-soak-0' -d "$warm_body" "$url") || die "the warm request failed"
[[ $out == *'"chat.completion"'* ]] || die "the warm request: unexpected answer: ${out:0:200}"
warm_requests=1
sleep 0.5
fd_kinds "$aigw_pid" >"$tmp/fds-baseline.txt"
fds_base=$(fd_count "$tmp/fds-baseline.txt")
pool_base=$(fd_of_kind "$tmp/fds-baseline.txt" "$upstream_kind")
rss_base=$(rss_kib "$aigw_pid")
log "aigw pid $aigw_pid: RSS $(mib "$rss_base") MiB, $fds_base open fds ($pool_base upstream)" \
  "after one warm request; $placement"

# --- the load ----------------------------------------------------------------------------------
log "soak: $requests requests over $connections connections (at most ${time_limit}s)"
cpu0=$(cpu_ticks "$aigw_pid")
load_rc=0
"${load_cpu[@]}" timeout "$time_limit" "$soak_bin" --port "$aigw_port" --requests "$requests" \
  --connections "$connections" --pid "$aigw_pid" --interval "$interval" --warmup "$warmup" \
  --events "$sse_chunks" --samples "$tmp/samples.txt" >"$tmp/soak.out" 2>"$tmp/soak.err" &
load_pid=$!
pids+=("$load_pid")
wait "$load_pid" || load_rc=$?
forget_pid "$load_pid"
cpu1=$(cpu_ticks "$aigw_pid" 2>/dev/null || echo "$cpu0")
[[ -s "$tmp/soak.err" ]] && sed 's/^/[soak] load: /' "$tmp/soak.err" | head -30 >&2
((load_rc == 124)) && log "the load did not finish within ${time_limit}s: killed"
kill -0 "$aigw_pid" 2>/dev/null || die "aigw is gone after the load (log: $(tail -5 "$tmp/aigw.log"))"

# --- after the load ------------------------------------------------------------------------------
sleep "$settle"
fd_kinds "$aigw_pid" >"$tmp/fds-after.txt"
ls -l "/proc/$aigw_pid/fd" >"$tmp/fds-after-ls.txt" 2>/dev/null || true
fds_after=$(fd_count "$tmp/fds-after.txt")
pool_after=$(fd_of_kind "$tmp/fds-after.txt" "$upstream_kind")
rss_after=$(rss_kib "$aigw_pid")
hwm=$(hwm_kib "$aigw_pid")
metrics=$(curl -fsS --max-time 5 "http://127.0.0.1:$admin_port/metrics") || metrics=""
m_requests=$(awk '/^aigw_requests_total[{]/ {n += $2} END {printf "%d", n}' <<<"$metrics")
m_written=$(awk '/^aigw_log_written_total / {printf "%d", $2}' <<<"$metrics")
m_dropped=$(awk '/^aigw_log_dropped_total / {printf "%d", $2}' <<<"$metrics")
m_queued=$(awk '/^aigw_log_queue_depth / {printf "%d", $2}' <<<"$metrics")
m_lost=$(awk '/^aigw_log_lost_total / {printf "%d", $2}' <<<"$metrics")
m_by_status=$(awk '/^aigw_requests_total[{]/ {match($0, /status="[0-9]+"/); s = substr($0, RSTART + 8, RLENGTH - 9);
  match($0, /cache="[A-Z]*"/); c = substr($0, RSTART + 7, RLENGTH - 8); k = s (c != "" ? " " c : ""); n[k] += $2}
  END {for (k in n) printf "%s: %d, ", k, n[k]}' <<<"$metrics" | sed 's/, $//')
# aigw's own log at level warn, less the start-up warning that the built-in prices are old.
grep -v 'the built-in price table was taken' "$tmp/aigw.log" >"$tmp/aigw-warnings.log" || true
aigw_warnings=$(grep -c . "$tmp/aigw-warnings.log" || true)

# --- report ------------------------------------------------------------------------------------
o="$tmp/soak.out"
completed=$(kv completed "$o")
errors=$(kv errors "$o")
[[ -n "$errors" ]] || errors="n/a (the load tool printed nothing)"
rps=$(kv rps "$o")
seconds=$(kv seconds "$o")
rss_warm=$(kv rss_warm_kib "$o")
rss_max=$(kv rss_max_kib "$o")
rss_final=$(kv rss_final_kib "$o")
drift=$(kv drift_pct "$o")
slope=$(kv slope_kib_per_100k "$o")
fds_end=$(kv fds_end "$o")
fds_max=$(kv fds_max "$o")
warm_at=$(kv warmup_requests "$o")
cpu_s=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}')
verdict() { if [[ $1 == 1 ]]; then echo "**pass**"; else echo "**FAIL**"; fi; }

ok_drift=$(awk -v d="$drift" 'BEGIN {print (d != "" && d + 0 < 5) ? 1 : 0}')
# fds: every fd open after the load that was not open at the baseline must be an upstream
# connection the pool keeps (at most pool_max_idle_per_host); everything else back exactly.
other_base=$((fds_base - pool_base))
other_after=$((fds_after - pool_after))
ok_fds=$(((other_after == other_base && pool_after <= pool_max_idle) ? 1 : 0))
late_line=""
if ((ok_fds == 0 && late > settle)); then
  log "open fds not back after ${settle}s: counting again ${late}s after the load"
  sleep $((late - settle))
  fd_kinds "$aigw_pid" >"$tmp/fds-late.txt"
  fds_late=$(fd_count "$tmp/fds-late.txt")
  pool_late=$(fd_of_kind "$tmp/fds-late.txt" "$upstream_kind")
  late_line="| open fds ${late} s after the load (not counted in the target) | $fds_late, of which $pool_late pooled upstream: $((fds_late - pool_late)) vs $other_base at the baseline |"
fi
ok_errors=$([[ $load_rc == 0 && $errors == 0 ]] && echo 1 || echo 0)
ok_dropped=$([[ $m_dropped == 0 ]] && echo 1 || echo 0)
expected_records=$((${completed:-0} + warm_requests))
ok_records=$([[ $m_written == "$m_requests" && $m_requests == "$expected_records" && $m_queued == 0 ]] && echo 1 || echo 0)

report="$tmp/soak.md"
{
  echo "# aigw soak — $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$requests requests over $connections keep-alive connections (closed loop); per 100:" \
    "54 buffered misses, 15 cache hits, 15 streams of $sse_chunks events, 4 provider 500s," \
    "4 provider 429s, 7 client aborts after the first event, 1 invalid JSON. aigw: 1 worker," \
    "cache on (max_bytes $cache_bytes), request log on (SQLite), access log off; $placement;" \
    "$ncpu CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo
  echo "| | |"
  echo "|---|--:|"
  echo "| requests completed | ${completed:-n/a} in ${seconds:-n/a} s |"
  echo "| requests per second | ${rps:-n/a} |"
  echo "| aigw CPU during the load | $cpu_s s |"
  echo "| errors (responses not as expected) | $errors |"
  echo "| RSS after one warm request | $(mib "$rss_base") MiB |"
  echo "| RSS at the end of warm-up (${warm_at:-?} requests) | $(mib "$rss_warm") MiB |"
  echo "| RSS max after warm-up | $(mib "$rss_max") MiB |"
  echo "| RSS at the end of the load | $(mib "$rss_final") MiB |"
  echo "| RssAnon at the end of warm-up / of the load | $(mib "$(kv anon_warm_kib "$o")") / $(mib "$(kv anon_final_kib "$o")") MiB |"
  echo "| RSS ${settle} s after the load / VmHWM | $(mib "$rss_after") / $(mib "$hwm") MiB |"
  echo "| drift (end − warm-up end) / warm-up end | ${drift:-n/a} % |"
  echo "| RSS slope after warm-up (least squares) | ${slope:-n/a} KiB per 100k requests ($(awk -v s="$slope" 'BEGIN {if (s != "") printf "%.0f", s * 1024 / 100000; else printf "n/a"}') B per request) |"
  echo "| open fds: baseline / max during the load / end of the load / ${settle} s after | $fds_base / ${fds_max:-n/a} / ${fds_end:-n/a} / $fds_after |"
  echo "| … of which pooled upstream connections | $pool_base at the baseline, $pool_after after |"
  [[ -n $late_line ]] && echo "$late_line"
  echo "| aigw_requests_total (sum) | $m_requests (expected $expected_records: the load and $warm_requests warm request) |"
  echo "| aigw_log_written_total / dropped / lost / still queued | $m_written / $m_dropped / $m_lost / $m_queued |"
  echo "| aigw_requests_total by status and cache | $m_by_status |"
  echo "| lines in aigw's log (level warn; the old-price-table warning left out) | $aigw_warnings |"
  echo
  echo "| target | result |"
  echo "|---|---|"
  echo "| RSS drift after warm-up < 5 % | ${drift:-n/a} % $(verdict "$ok_drift") |"
  echo "| open fds back to the baseline (other than pooled upstream connections, ≤ $pool_max_idle) | $other_after vs $other_base, pool $pool_after $(verdict "$ok_fds") |"
  echo "| 0 errors | $errors $(verdict "$ok_errors") |"
  echo "| 0 request-log records dropped | $m_dropped $(verdict "$ok_dropped") |"
  echo "| one record per request (written = metered = sent) | $m_written / $m_requests / $expected_records $(verdict "$ok_records") |"
  echo
  echo "Per kind, sent/errors: $(awk -F'[_= ]' '/^kind_/ {printf "%s %s/%s, ", $2, $4, $8}' "$o" | sed 's/, $//'); cache hits on the hit kind: $(kv cache_hits "$o") (before the first: $(kv hit_kind_misses "$o") misses); client connections opened: $(kv connects "$o")."
  echo
  echo "Samples (every ${interval} s; a selection):"
  echo
  echo "| s | requests | RSS MiB | fds |"
  echo "|--:|--:|--:|--:|"
  if [[ -s "$tmp/samples.txt" ]]; then
    awk -v n="$(wc -l <"$tmp/samples.txt")" 'BEGIN {step = (n > 16) ? n / 15 : 1}
      {line[NR] = $0} END {last = 0; for (x = 1; x <= n + 0.5; x += step) {i = int(x + 0.5); if (i > n) i = n;
        if (i != last) {split(line[i], f, " "); printf "| %.1f | %d | %.1f | %d |\n", f[1], f[2], f[3] / 1024, f[4]; last = i}}
        if (last != n) {split(line[n], f, " "); printf "| %.1f | %d | %.1f | %d |\n", f[1], f[2], f[3] / 1024, f[4]}}' \
      "$tmp/samples.txt"
  fi
  echo
  echo "Open fds at the baseline:"
  echo
  sed 's/^/    /' "$tmp/fds-baseline.txt"
  echo
  echo "Open fds ${settle} s after the load:"
  echo
  sed 's/^/    /' "$tmp/fds-after.txt"
  if [[ -s "$tmp/fds-late.txt" ]]; then
    echo
    echo "Open fds ${late} s after the load:"
    echo
    sed 's/^/    /' "$tmp/fds-late.txt"
  fi
  if [[ $aigw_warnings != 0 ]]; then
    echo
    echo "aigw's log (first lines):"
    echo
    head -5 "$tmp/aigw-warnings.log" | cut -c1-300 | sed 's/^/    /'
  fi
  if [[ -s "$tmp/soak.err" ]]; then
    echo
    echo "The load tool's complaints (first lines):"
    echo
    head -20 "$tmp/soak.err" | sed 's/^/    /'
  fi
} >"$report"
cat "$report"
mkdir -p "$results_dir"
cp "$report" "$results_dir/soak.md"
log "written to bench/results/soak.md"
[[ $ok_drift == 1 && $ok_fds == 1 && $ok_errors == 1 && $ok_dropped == 1 && $ok_records == 1 ]]
