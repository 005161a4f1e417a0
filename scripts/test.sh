#!/usr/bin/env bash
# The project's test command (README "Test"; CI calls it too):
#   1. installs the Node tools the tests use: Azurite and the guide's TypeScript client (npm ci, pinned by the lock file);
#   2. starts Azurite in memory on 127.0.0.1:10000-10002 unless one is already listening, and stops it afterwards;
#   3. runs every test in the solution (extra arguments go to `dotnet test`, e.g. --filter).
# The end-to-end tests start the local host themselves.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

npm ci --no-audit --no-fund

azurite_pid=""
stop_azurite() {
  if [[ -n "$azurite_pid" ]]; then
    kill -TERM "$azurite_pid" 2>/dev/null || true
    wait "$azurite_pid" 2>/dev/null || true
  fi
}
trap stop_azurite EXIT

if listening 10002; then
  echo "test: using the Azurite already listening on 127.0.0.1:10002" >&2
else
  node node_modules/azurite/dist/src/azurite.js --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --disableTelemetry --silent --inMemoryPersistence --skipApiVersionCheck &
  azurite_pid=$!
  deadline=$((SECONDS + 30))
  until listening 10000 && listening 10001 && listening 10002; do
    if ! kill -0 "$azurite_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "test: Azurite did not start" >&2
      exit 1
    fi
    sleep 0.1
  done
fi

dotnet test Functions.sln "$@"
