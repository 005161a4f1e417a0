#!/usr/bin/env bash
# Smoke test of a running service: the guide's approve flow, against any base URL.
#   scripts/smoke.sh http://127.0.0.1:7071 ark_dev_local_only_do_not_use_in_azure     (the local host or func start)
#   scripts/smoke.sh "$(azd env get-value SERVICE_API_URI)" "$KEY"                     (the deployed app, a minted key)
# Steps: GET /health answers 200 (waits for it: a first request may meet a cold start); POST /v1/runs with an
# Idempotency-Key -> 201 and a run; GET /v1/runs/{id} until awaiting_input; POST /v1/runs/{id}/signal approve -> 202
# accepted; GET /v1/runs/{id} until succeeded; GET /v1/runs/{id}/events -> seq 1..N without gaps, run.created first,
# run.worker.succeeded last; a second approve -> 409 run_not_awaiting_input (problem+json); GET /openapi.json -> an
# OpenAPI 3.1 document; GET /console and its script -> 200 with the Content-Security-Policy (the shipped files are there).
# Prints every step; exits 1 on the first deviation (status, shape, deadline), 2 on bad usage.
# Needs bash, curl and node (no jq). Deadlines: SMOKE_READY_SECONDS (default 180) for /health,
# SMOKE_STEP_SECONDS (default 120) for each status the run must reach.
set -euo pipefail

if [[ $# -ne 2 || -z "$1" || -z "$2" ]]; then
  echo "usage: scripts/smoke.sh <base url> <api key>" >&2
  exit 2
fi
api="${1%/}"
key="$2"
ready_seconds="${SMOKE_READY_SECONDS:-180}"
step_seconds="${SMOKE_STEP_SECONDS:-120}"
goal="Draft and send the weekly team update email."

for tool in curl node od; do
  command -v "$tool" >/dev/null 2>&1 || { echo "smoke: $tool is required" >&2; exit 2; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
body="$tmp/body"
headers="$tmp/headers"

step() { echo "smoke: $*"; }
fail() {
  echo "smoke: FAIL: $*" >&2
  if [[ -s "$body" ]]; then
    echo "smoke: last response body: $(head -c 2000 "$body")" >&2
  fi
  exit 1
}

# call METHOD PATH [JSON]: sets $status; the body is in $body, the headers in $headers. A POST carries a fresh
# Idempotency-Key (16 random bytes as hex). A transport failure (no connection, timeout) gives status 000.
call() {
  local method="$1" path="$2" data="${3:-}"
  local args=(-sS -o "$body" -D "$headers" -w '%{http_code}' --max-time 30 -X "$method"
    -H "Authorization: Bearer $key" -H "Accept: application/json")
  if [[ -n "$data" ]]; then
    args+=(-H "Content-Type: application/json" -H "Idempotency-Key: $(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
      --data-binary "$data")
  fi
  : >"$body"
  status="$(curl "${args[@]}" "$api$path" 2>"$tmp/curl.err")" || status="000"
  if [[ "$status" == "000" ]]; then
    echo "no response: $(tr '\n' ' ' <"$tmp/curl.err")" >"$body"
  fi
}

expect_status() {
  local want="$1" what="$2"
  [[ "$status" == "$want" ]] || fail "$what: expected HTTP $want, got $status"
}

# js EXPR: evaluates EXPR with `b` = the parsed response body and prints the result (strings as they are, anything
# else as JSON, nothing for undefined). A body that is not JSON, or a shape EXPR cannot read, fails the smoke test.
js() {
  local code=0
  node -e '
    let b;
    try { b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { process.exit(3); }
    let r;
    try { r = eval(process.argv[2]); } catch { process.exit(4); }
    process.stdout.write(r === undefined ? "" : typeof r === "string" ? r : JSON.stringify(r));' "$body" "$1" || code=$?
  case "$code" in
    0) ;;
    3) fail "the response body is not JSON" ;;
    *) fail "the response has no $1" ;;
  esac
}

# wait_for_status RUN WANTED: polls the run until its status is WANTED, within the step deadline; a terminal status
# that is not WANTED, or any answer but 200, fails at once.
wait_for_status() {
  local run="$1" wanted="$2" deadline=$((SECONDS + step_seconds)) current=""
  while true; do
    call GET "/v1/runs/$run"
    expect_status 200 "GET /v1/runs/$run"
    current="$(js 'b.status')"
    [[ "$current" == "$wanted" ]] && return 0
    case "$current" in
      succeeded | failed | cancelled) fail "run $run ended $current while waiting for $wanted" ;;
      queued | running | awaiting_input) ;;
      *) fail "run $run has an unknown status '$current'" ;;
    esac
    ((SECONDS < deadline)) || fail "run $run still $current after ${step_seconds}s, waiting for $wanted"
    sleep 0.5
  done
}

step "target $api"

# 0. The service answers (a cold start or a fresh deployment can take a while).
deadline=$((SECONDS + ready_seconds))
while true; do
  call GET /health
  [[ "$status" == "200" ]] && break
  ((SECONDS < deadline)) || fail "GET /health did not answer 200 within ${ready_seconds}s (last: $status)"
  sleep 1
done
[[ "$(js 'b.status')" == "ok" ]] || fail 'GET /health: expected {"status":"ok"}'
step "GET /health -> 200 ok"

# 1. Create a run.
call POST /v1/runs "{\"input\":{\"goal\":\"$goal\"}}"
expect_status 201 "POST /v1/runs"
run="$(js 'b.id')"
[[ "$run" == run_* ]] || fail "POST /v1/runs: the id '$run' does not start with run_"
[[ "$(js 'b.object')" == "run" && "$(js 'b.input.goal')" == "$goal" ]] || fail "POST /v1/runs: not the run that was asked for"
grep -qi "^location: /v1/runs/$run" "$headers" || fail "POST /v1/runs: no Location: /v1/runs/$run header"
step "POST /v1/runs -> 201 $run (status $(js 'b.status'))"

# 2. It asks for approval.
wait_for_status "$run" awaiting_input
[[ "$(js 'b.pending_input.input_kind')" == "approval" ]] || fail "awaiting_input without a pending approval: $(js 'b.pending_input')"
[[ "$(js 'b.pending_input.allowed_actions.includes("approve")')" == "true" ]] || fail "approve is not an allowed action"
step "GET /v1/runs/$run -> awaiting_input ($(js 'b.pending_input.reason_code'), request $(js 'b.pending_input.request_id'))"

# 3. Approve it.
call POST "/v1/runs/$run/signal" '{"action":"approve"}'
expect_status 202 "POST /v1/runs/$run/signal approve"
[[ "$(js 'b.status')" == "accepted" && "$(js 'b.action')" == "approve" && "$(js 'b.run_id')" == "$run" ]] \
  || fail "POST /v1/runs/$run/signal: expected status accepted, action approve, run_id $run"
step "POST /v1/runs/$run/signal approve -> 202 accepted"

# 4. It finishes.
wait_for_status "$run" succeeded
step "GET /v1/runs/$run -> succeeded"

# 5. Its event log: every page, seq 1..N without gaps, run.created first, run.worker.succeeded last.
after=0
pages=0
: >"$tmp/events"
while true; do
  call GET "/v1/runs/$run/events?after_seq=$after&limit=100"
  expect_status 200 "GET /v1/runs/$run/events"
  js 'b.data.map((e) => JSON.stringify(e)).join("\n") + (b.data.length ? "\n" : "")' >>"$tmp/events"
  pages=$((pages + 1))
  [[ "$(js 'b.has_more')" == "true" ]] || break
  after="$(js 'b.next_after_seq')"
  ((pages < 100)) || fail "more than 100 pages of events"
done
summary="$(node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  const events = lines.map((l) => JSON.parse(l));
  const problems = [];
  events.forEach((e, i) => { if (e.seq !== i + 1) problems.push(`event ${i + 1} has seq ${e.seq}`); });
  if (events.length === 0) problems.push("no events");
  else {
    if (events[0].type !== "run.created") problems.push(`the first event is ${events[0].type}`);
    if (events.at(-1).type !== "run.worker.succeeded") problems.push(`the last event is ${events.at(-1).type}`);
  }
  for (const e of events) if (typeof e.timestamp !== "string" || typeof e.payload !== "object") problems.push(`event ${e.seq} lacks timestamp or payload`);
  if (problems.length) { console.log("FAIL " + problems.join("; ")); process.exit(0); }
  console.log(events.map((e) => `${e.seq} ${e.type}`).join(", "));' "$tmp/events")"
[[ "$summary" != FAIL* ]] || fail "GET /v1/runs/$run/events: ${summary#FAIL }"
step "GET /v1/runs/$run/events -> $summary"

# 6. A second approve is refused: the run no longer waits for input.
call POST "/v1/runs/$run/signal" '{"action":"approve"}'
expect_status 409 "second approve"
grep -qi '^content-type: application/problem+json' "$headers" || fail "second approve: not application/problem+json"
[[ "$(js 'b.reason_code')" == "run_not_awaiting_input" ]] || fail "second approve: reason_code $(js 'b.reason_code')"
step "second approve -> 409 run_not_awaiting_input"

# 7. The OpenAPI document and the operator console ship with the app.
call GET /openapi.json
expect_status 200 "GET /openapi.json"
[[ "$(js 'b.openapi')" == 3.1.* && "$(js 'typeof b.paths["/v1/runs"]')" == "object" ]] || fail "GET /openapi.json: not the OpenAPI 3.1 document"
step "GET /openapi.json -> 200 OpenAPI $(js 'b.openapi')"
for path in /console /console/js/app.js; do
  call GET "$path"
  expect_status 200 "GET $path"
  grep -qi "^content-security-policy: default-src 'none'" "$headers" || fail "GET $path: no strict Content-Security-Policy"
done
grep -qi '^content-type: text/javascript' "$headers" || fail "GET /console/js/app.js: not text/javascript"
step "GET /console, /console/js/app.js -> 200 with the Content-Security-Policy"

step "OK: $run created, approved and succeeded; $(grep -c . "$tmp/events") events in order"
