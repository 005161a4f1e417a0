#!/usr/bin/env bash
# CI's smoke test of the service as a developer starts it: scripts/run-local.sh (Azurite unless one listens on
# 127.0.0.1:10002, and the local host, or func start when Core Tools are installed) on port SMOKE_HTTP_PORT (default
# 7181, and the next port for the local host's gRPC sidecar, so it does not meet a host on 7071/7072), waits up to
# 300 s for GET /health, runs scripts/smoke.sh against it with the development key, and stops both. Exits non-zero
# when the host does not come up or the smoke test fails, with the host's output.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${SMOKE_HTTP_PORT:-7181}"
echo "smoke-local: the local host on 127.0.0.1:$port (scripts/run-local.sh), then scripts/smoke.sh"
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$((port + 1))"; do
  if listening "$p"; then
    echo "smoke-local: something already listens on 127.0.0.1:$p; set SMOKE_HTTP_PORT to a free pair of ports" >&2
    exit 1
  fi
done
log="$(mktemp)"
# Its own process group, task hub, tables and a stable lease owner; SIGTERM makes run-local.sh stop the host and the
# Azurite it started. Its own tables too, not only its own hub: on a developer's machine the Azurite may be the one a
# local host on 7071 uses, and each host's repairer fails the open runs it finds whose orchestration is not in its own
# hub ("engine_error: The run's orchestration is missing"), so with shared tables each would fail the other's waiting runs.
# Every table setting the service has (read from its options class, so a new table is not forgotten here).
mapfile -t tables < <(grep -oP 'public string \K\w+(?=Table \{)' src/Functions/Storage/RunStorageOptions.cs)
(( ${#tables[@]} >= 11 )) || { echo "smoke-local: could not read the table settings from RunStorageOptions.cs" >&2; exit 1; }
for table in "${tables[@]}"; do
  export "RunStorage__${table}Table=CiSmoke${table}"
done
set -m
LocalHost__HttpPort="$port" LocalHost__GrpcPort="$((port + 1))" LocalHost__HubName=CiSmoke LocalHost__WorkerId=ci-smoke \
  ./scripts/run-local.sh >"$log" 2>&1 &
local_pid=$!
set +m
stop_local() {
  if kill -0 "$local_pid" 2>/dev/null; then
    kill -TERM "$local_pid" 2>/dev/null || true
    wait "$local_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap stop_local EXIT

deadline=$((SECONDS + 300))
until curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
  if ! kill -0 "$local_pid" 2>/dev/null; then
    echo "smoke-local: the local host exited before it answered GET /health:" >&2
    cat "$log" >&2
    exit 1
  fi
  if ((SECONDS > deadline)); then
    echo "smoke-local: the local host did not answer GET /health within 300 s:" >&2
    tail -n 50 "$log" >&2
    exit 1
  fi
  sleep 1
done

if ! ./scripts/smoke.sh "http://127.0.0.1:$port" ark_dev_local_only_do_not_use_in_azure; then
  echo "smoke-local: smoke test failed; the local host's output:" >&2
  tail -n 100 "$log" >&2
  exit 1
fi
stop_local
trap - EXIT
