#!/usr/bin/env bash
# Runs the service on this machine at http://127.0.0.1:7071 (another port: LocalHost__HttpPort, e.g. for CI's smoke test;
# the local host also listens on LocalHost__GrpcPort, default 7072, for its Durable Task sidecar):
#   1. Azurite on 127.0.0.1:10000-10002 with its data in .azurite/, unless something already listens on 10002
#      (`npm ci` first when node_modules is missing);
#   2. `func start` in src/Functions when Azure Functions Core Tools is on PATH, else the local host (src/LocalHost:
#      the same functions, orchestration and activities on Kestrel and the Durable Task Framework).
# Ctrl+C (or SIGTERM) stops the host, then the Azurite this script started (SIGTERM, so it saves its data).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Background jobs get their own process group: a signal for the host reaches `dotnet run`/`func` and the app under it.
set -m

azurite_pid=""
host_pid=""

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop() {
  local pid="$1" name="$2"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    echo "run-local: stopping $name" >&2
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}

cleanup() {
  stop "$host_pid" "the host"
  stop "$azurite_pid" "Azurite"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

http_port="${LocalHost__HttpPort:-7071}"
grpc_port="${LocalHost__GrpcPort:-7072}"
ports=("$http_port")
command -v func >/dev/null 2>&1 || ports+=("$grpc_port")
for port in "${ports[@]}"; do
  if listening "$port"; then
    echo "run-local: something already listens on 127.0.0.1:$port (the API uses LocalHost__HttpPort, default 7071; the" \
      "local host's Durable sidecar LocalHost__GrpcPort, default 7072): stop it, or choose free ports, e.g." \
      "LocalHost__HttpPort=7081 LocalHost__GrpcPort=7082 ./scripts/run-local.sh" >&2
    exit 1
  fi
done

if listening 10002; then
  echo "run-local: using the Azurite already listening on 127.0.0.1:10002" >&2
else
  if [[ ! -f node_modules/azurite/dist/src/azurite.js ]]; then
    echo "run-local: node_modules is missing: npm ci" >&2
    npm ci --no-audit --no-fund
  fi
  mkdir -p .azurite
  node node_modules/azurite/dist/src/azurite.js \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --disableTelemetry --silent --skipApiVersionCheck --location .azurite &
  azurite_pid=$!
  deadline=$((SECONDS + 30))
  until listening 10000 && listening 10001 && listening 10002; do
    if ! kill -0 "$azurite_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "run-local: Azurite did not start" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "run-local: Azurite is listening on 127.0.0.1:10000-10002 (data in .azurite/)" >&2
fi

if command -v func >/dev/null 2>&1; then
  if [[ ! -f src/Functions/local.settings.json ]]; then
    cp local.settings.sample.json src/Functions/local.settings.json
  fi
  (cd src/Functions && exec func start --port "$http_port") &
else
  echo "run-local: Azure Functions Core Tools (func) not found: starting the local host (src/LocalHost)" >&2
  dotnet run --project src/LocalHost &
fi
host_pid=$!
set +e
wait "$host_pid"
status=$?
set -e
host_pid=""
exit "$status"
