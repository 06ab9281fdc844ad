#!/usr/bin/env bash
# Builds the container image (docker/Dockerfile) with podman, starts it as documented in
# docs/operations.md#containers and checks it from outside: a request proxied to a fake TLS
# provider on the host, /healthz, /metrics with and without the admin token, the request log
# record through /api/logs, a non-root process writing its database in the volume, the image's
# HEALTHCHECK turning healthy, the image's own config loading, and SIGTERM ending it with exit 0.
#
#   scripts/container-test.sh                 build aigw:container-test, test it, remove it
#   scripts/container-test.sh --keep-image    keep the image afterwards
#   scripts/container-test.sh --image NAME    test an image built already (kept)
#
# Exits 0 with a SKIP line where podman or the debian:bookworm base image is missing. Every
# container runs with --network host (the machines this runs on have no bridge networking), on
# free ports. Needs curl, openssl and python3 on the host (the fake provider).
set -euo pipefail
cd "$(dirname "$0")/.."

image=aigw:container-test
build=1
keep=0
while (($#)); do
  case "$1" in
    --keep-image) keep=1 ;;
    --image)
      image=${2:?--image NAME}
      build=0
      keep=1
      shift
      ;;
    *)
      echo "usage: $0 [--keep-image | --image NAME]" >&2
      exit 2
      ;;
  esac
  shift
done

skip() {
  echo "container-test: SKIP: $*"
  exit 0
}
command -v podman >/dev/null 2>&1 || skip "podman is not installed (apt-get install podman)"
for base in debian:bookworm debian:bookworm-slim; do
  if ((build)) && ! podman image exists "docker.io/library/$base"; then
    skip "no local $base image: pull it (podman pull docker.io/library/$base) or, with no \
registry reachable, build it: debootstrap --variant=minbase bookworm DIR && \
tar -C DIR -c . | podman import - docker.io/library/debian:bookworm && \
podman tag docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim"
  fi
done
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

name=aigw-container-test-$$
volume=$name-data
work=$(mktemp -d)
fake_pid=
redis_pid=
cleanup() {
  podman rm -f -i -t 0 "$name" "$name-denied" "$name-r1" "$name-r2" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" "$volume-r1" "$volume-r2" >/dev/null 2>&1 || true
  if [[ -n "$fake_pid" ]]; then kill "$fake_pid" 2>/dev/null || true; fi
  if [[ -n "$redis_pid" ]]; then kill "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if ((build && !keep)); then podman rmi -f "$image" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

failures=0
pass() { echo "container-test: PASS: $*"; }
fail() {
  echo "container-test: FAIL: $*"
  failures=$((failures + 1))
}
# check DESCRIPTION COMMAND...: PASS when the command succeeds.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# until_ok SECONDS COMMAND...: retries the command every 0.5 s for at most SECONDS.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

if ((build)); then
  echo "container-test: building $image (it compiles aigw: some 4 minutes on two idle cores, more on busy ones)"
  start=$SECONDS
  podman build --network host --format docker -f docker/Dockerfile -t "$image" . \
    >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log"
    echo "container-test: FAIL: podman build"
    exit 1
  }
  echo "container-test: built $image in $((SECONDS - start)) s"
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fake_port=$(free_port)
gw_port=$(free_port)
admin_port=$(free_port)
while [[ "$admin_port" == "$gw_port" || "$admin_port" == "$fake_port" ]]; do admin_port=$(free_port); done
while [[ "$gw_port" == "$fake_port" ]]; do gw_port=$(free_port); done
admin_token=$(openssl rand -hex 24)

# The fake provider: OpenAI's chat completions over TLS on the host's loopback, with a
# self-signed certificate that the gateway trusts through the provider's ca_file.
mkdir -p "$work/conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/conf/ca.pem" \
  >/dev/null 2>&1
cat >"$work/fake.py" <<'PY'
import http.server, json, ssl, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        body = json.dumps({
            "id": "chatcmpl-container-test", "object": "chat.completion", "created": 1,
            "model": request.get("model", "unknown"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hello from the fake"}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11},
        }).encode()
        self.send_response(200 if self.path.endswith("/chat/completions") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
PY
python3 "$work/fake.py" "$fake_port" "$work/conf/ca.pem" "$work/key.pem" &
fake_pid=$!

# The test's config, mounted read-only beside the image's: as docker/aigw.yaml, with the fake
# provider and free ports.
cat >"$work/conf/aigw.yaml" <<YAML
server:
  listen: 127.0.0.1:$gw_port
  drain_timeout: 5s
admin:
  listen: 0.0.0.0:$admin_port
  tokens:
    - \${AIGW_ADMIN_TOKEN}
providers:
  custom-fake:
    base_url: https://127.0.0.1:$fake_port/v1
    ca_file: ca.pem
request_log:
  path: /var/lib/aigw/aigw.db
  flush_interval: 100ms
YAML
chmod 0644 "$work/conf/"*
chmod 0755 "$work/conf"

# Podman without systemd reports on stderr that it cannot time the HEALTHCHECK: not shown.
quiet_podman() { grep -v 'unable to get systemd connection' "$work/podman.log" >&2 || true; }
image_config_loads() {
  podman run --rm --network host -e AIGW_ADMIN_TOKEN=x "$image" \
    --check-config /etc/aigw/aigw.yaml >"$work/podman.log" 2>&1 || {
    quiet_podman
    return 1
  }
}
check "the image's own config (/etc/aigw/aigw.yaml) loads" image_config_loads

# The request log in a directory the non-root user may not write (/etc/aigw, root's): start-up
# fails at once, naming the real reason.
sed 's|path: /var/lib/aigw/aigw.db|path: /etc/aigw/aigw.db|' "$work/conf/aigw.yaml" >"$work/conf/denied.yaml"
chmod 0644 "$work/conf/denied.yaml"
denied=$(timeout 60 podman run --rm --name "$name-denied" --network host -e AIGW_ADMIN_TOKEN=x \
  -v "$work/conf:/etc/aigw-test:ro" "$image" --config /etc/aigw-test/denied.yaml 2>&1 |
  grep -v 'unable to get systemd connection' || true)
check "a request log it may not write stops start-up with 'Permission denied'" \
  grep -q '/etc/aigw/aigw.db: cannot open: .*(Permission denied)' <<<"$denied"

podman volume create "$volume" >/dev/null
# Hardened as docs/operations.md shows: a read-only root file system, no capability.
podman run -d --name "$name" --network host \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -e AIGW_ADMIN_TOKEN="$admin_token" \
  -e AIGW_HEALTHCHECK_URL="http://127.0.0.1:$admin_port/healthz" \
  -v "$work/conf:/etc/aigw-test:ro" -v "$volume:/var/lib/aigw" \
  "$image" --config /etc/aigw-test/aigw.yaml >/dev/null 2>"$work/podman.log" || {
  quiet_podman
  fail "podman run"
  exit 1
}

gw=http://127.0.0.1:$gw_port
admin=http://127.0.0.1:$admin_port
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
healthy() { [[ $(status_of "$admin/healthz") == 200 ]]; }
if ! until_ok 30 healthy; then
  fail "the container answers /healthz within 30 s"
  podman logs "$name" 2>&1 | tail -n 30
  exit 1
fi
pass "/healthz answers 200 from the host"

answer=$(curl -s --max-time 10 "$gw/custom-fake/chat/completions" \
  -H "Authorization: Bearer sk-test" -H "Content-Type: application/json" \
  -d '{"model":"fake-model","messages":[{"role":"user","content":"hi"}]}' -D "$work/headers" || true)
check "a request proxied to the provider returns its answer" \
  grep -q '"hello from the fake"' <<<"$answer"
log_id=$(tr -d '\r' <"$work/headers" | sed -n 's/^cf-aig-log-id: //Ip')
check "the response carries cf-aig-log-id" test -n "$log_id"

check "/readyz answers 200" test "$(status_of "$admin/readyz")" = 200
check "/metrics without the admin token answers 401" test "$(status_of "$admin/metrics")" = 401
metrics=$(curl -s --max-time 5 -H "Authorization: Bearer $admin_token" "$admin/metrics" || true)
check "/metrics with the admin token lists the request" \
  grep -q '^aigw_requests_total{.*provider="custom-fake"' <<<"$metrics"
logged() {
  curl -s --max-time 5 -H "Authorization: Bearer $admin_token" "$admin/api/logs/$log_id" |
    grep -q '"custom-fake"'
}
check "the request log record is read back through /api/logs" until_ok 10 logged

uid=$(podman exec "$name" sh -c "sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' /proc/1/status" || true)
check "aigw runs as a non-root user (uid ${uid:-?})" test "${uid:-0}" != 0
check "the request log is written in the volume" \
  podman exec "$name" test -s /var/lib/aigw/aigw.db

# Podman runs a HEALTHCHECK on a timer only under systemd; `healthcheck run` runs it now and
# records the result as docker does.
health_status() { podman inspect --format '{{.State.Health.Status}}' "$name" 2>/dev/null || true; }
became_healthy() {
  podman healthcheck run "$name" >/dev/null 2>&1 || true
  [[ $(health_status) == healthy ]]
}
check "the image's HEALTHCHECK reports healthy" until_ok 20 became_healthy

# SIGTERM (podman stop's signal, as the image's STOPSIGNAL): drain, then exit 0.
podman stop -t 30 "$name" >/dev/null 2>"$work/podman.log" || quiet_podman
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
check "SIGTERM stops it with exit code 0 (got $exit_code)" test "$exit_code" = 0
if podman logs "$name" 2>&1 | grep -qi "error"; then
  echo "container-test: the container's log has errors:"
  podman logs "$name" 2>&1 | grep -i error | tail -n 10
fi

# Replicas (docker/compose.replicas.yaml's shape): two containers sharing one Redis, here the
# host's redis-server (scripts/install-deps.sh installs it for the tests) with a password.
# A fleet-wide limit of 3 requests a minute: the fourth, on either instance, is refused.
if command -v redis-server >/dev/null 2>&1; then
  redis_port=$(free_port)
  redis_password=$(openssl rand -hex 16)
  redis-server --bind 127.0.0.1 --port "$redis_port" --requirepass "$redis_password" \
    --save "" --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  replica_ports=()
  for r in r1 r2; do
    port=$(free_port)
    replica_admin=$(free_port)
    replica_ports+=("$port")
    sed -e "s|listen: 127.0.0.1:$gw_port|listen: 127.0.0.1:$port|" \
      -e "s|listen: 0.0.0.0:$admin_port|listen: 127.0.0.1:$replica_admin|" \
      "$work/conf/aigw.yaml" >"$work/conf/$r.yaml"
    cat >>"$work/conf/$r.yaml" <<YAML
redis:
  url: redis://127.0.0.1:$redis_port/0
  password: \${REDIS_PASSWORD}
  key_prefix: "aigw-container-test-$$:"
rate_limits:
  - name: fleet
    limit: 3
    window: 1m
    technique: sliding
YAML
    chmod 0644 "$work/conf/$r.yaml"
    podman volume create "$volume-$r" >/dev/null
    podman run -d --name "$name-$r" --network host -e AIGW_ADMIN_TOKEN="$admin_token" \
      -e REDIS_PASSWORD="$redis_password" \
      -e AIGW_HEALTHCHECK_URL="http://127.0.0.1:$replica_admin/healthz" \
      -v "$work/conf:/etc/aigw-test:ro" -v "$volume-$r:/var/lib/aigw" \
      "$image" --config "/etc/aigw-test/$r.yaml" >/dev/null 2>"$work/podman.log" || quiet_podman
  done
  replica_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
      "http://127.0.0.1:$1/custom-fake/chat/completions" -H "Authorization: Bearer sk-test" \
      -H "Content-Type: application/json" -d '{"model":"fake-model","messages":[]}' || true
  }
  replicas_up() {
    [[ $(status_of "http://127.0.0.1:${replica_ports[0]}/") != 000 &&
      $(status_of "http://127.0.0.1:${replica_ports[1]}/") != 000 ]]
  }
  if until_ok 30 replicas_up; then
    statuses="$(replica_status "${replica_ports[0]}") $(replica_status "${replica_ports[0]}")"
    statuses+=" $(replica_status "${replica_ports[1]}") $(replica_status "${replica_ports[1]}")"
    check "two replicas share a limit of 3 through Redis (got $statuses)" \
      test "$statuses" = "200 200 200 429"
  else
    fail "two replicas with Redis start within 30 s"
    podman logs "$name-r1" 2>&1 | tail -n 10
  fi
else
  echo "container-test: replicas not checked: no redis-server on this machine"
fi

if ((failures)); then
  echo "container-test: $failures check(s) failed; the container's log:"
  podman logs "$name" 2>&1 | tail -n 30
  exit 1
fi
echo "container-test: all checks passed"
