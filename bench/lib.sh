# bench/lib.sh: helpers shared by bench/run.sh and bench/soak.sh, which source it after
# defining log() and die(). Processes a script starts go in $pids; everything stays on
# 127.0.0.1.

# bench_tmp NAME KEEP: creates $tmp and an empty $pids, and traps exit and signals: every
# process in $pids is stopped (TERM, up to 5 s, then KILL) and $tmp removed unless KEEP is 1.
bench_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/aigw-$1.XXXXXX")
  bench_keep_tmp=$2
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ "$bench_keep_tmp" == 1 ]]; then
    log "kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}

forget_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [[ "$p" == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}

stop() {  # stop <pid>: TERM, wait up to 5 s, then KILL
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

run_child() {  # run_child OUT CMD...: CMD's stdout to OUT. In the background, so that a
  local out=$1 pid rc=0  # signal interrupts `wait` and the cleanup runs at once.
  shift
  "$@" >"$out" &
  pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

# bench_pin PIN: CPU placement. With PIN not 0 and two CPUs or more, the process under test
# runs on CPU 0 (proxy_cpu) and the load and fake providers on the others (load_cpu,
# load_cpus); otherwise both prefixes are empty.
bench_pin() {
  local ncpu
  ncpu=$(nproc)
  if [[ "$1" != 0 && "$ncpu" -ge 2 ]]; then
    proxy_cpu=(taskset -c 0)
    load_cpus=1
    ((ncpu > 2)) && load_cpus="1-$((ncpu - 1))"
    load_cpu=(taskset -c "$load_cpus")
  else
    proxy_cpu=()
    load_cpu=()
    load_cpus=""
  fi
}

wait_http() {  # wait_http URL PID WHAT: until URL answers 2xx (10 s), or PID dies
  for _ in $(seq 100); do
    kill -0 "$2" 2>/dev/null || die "$3 exited at startup (logs in $tmp)"
    if curl -fsSk -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$3 did not become ready at $1 (logs in $tmp)"
}

free_ports() {  # free_ports N: N distinct free loopback ports
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

cpu_ticks() {  # cpu_ticks PID...: utime + stime of all of them, in clock ticks
  local total=0 p t
  for p in "$@"; do
    t=$(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
    total=$((total + t))
  done
  echo "$total"
}

cpu_split() {  # cpu_split PID...: "utime stime" of all of them, in clock ticks
  local u=0 k=0 p a b
  for p in "$@"; do
    read -r a b < <(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
    u=$((u + a)) k=$((k + b))
  done
  echo "$u $k"
}

hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
