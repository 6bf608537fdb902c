#!/usr/bin/env bash
# The demo: the connector's main job on one machine.
#
# Starts PostgreSQL, Redis and NATS (.ci/services.sh), builds the release binaries, starts two
# SMSC simulators (primary and backup) on free ports, writes a connector configuration and a
# credentials file into a temporary directory, starts the connector (which runs its
# migrations), waits for /ready, then runs the load generator: N messages with receipts, a few
# long ones and a few invalid ones. Prints the summaries, the /metrics highlights and the
# operator.health events, stops everything, and exits non-zero if anything went wrong.
#
# Usage: e2e/demo.sh [COUNT]   (COUNT defaults to 5000; DEMO_TPS sets a TPS limit, default 0)
set -euo pipefail

COUNT="${1:-5000}"
TPS="${DEMO_TPS:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET/release"
WORK="$(mktemp -d -t smpp-demo.XXXXXX)"
OPERATOR="demo-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
PIDS=()
FAILED=0

log() { printf '\n== %s\n' "$*"; }
fail() { printf 'demo: FAILED: %s\n' "$*" >&2; FAILED=1; }

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # port name
  local _
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$2 did not listen on port $1"
  return 1
}

log "services (PostgreSQL, Redis, NATS)"
.ci/services.sh

log "build (release)"
cargo build --release --locked -p connector -p e2e \
  --bin smpp-connector --bin smsc-sim --bin loadgen

PRIMARY_PORT="$(free_port)"
BACKUP_PORT="$(free_port)"
HTTP_PORT="$(free_port)"

log "SMSC simulators: primary 127.0.0.1:$PRIMARY_PORT, backup 127.0.0.1:$BACKUP_PORT"
for port in "$PRIMARY_PORT" "$BACKUP_PORT"; do
  SMSC_SIM_PASSWORD=demo123 "$BIN/smsc-sim" --listen "127.0.0.1:$port" \
    --system-id demo --capture-submits false --receipt-delay-ms 50 \
    --id-start "$([ "$port" = "$PRIMARY_PORT" ] && echo 1 || echo 1000000001)" \
    >"$WORK/sim-$port.log" 2>&1 &
  PIDS+=("$!")
  wait_port "$port" "smsc-sim"
done

# operator.health is a JetStream subject; a core NATS subscription sees every event too.
python3 - "$OPERATOR" "$WORK/health.subscribed" >"$WORK/health.jsonl" 2>/dev/null <<'PY' &
import json, socket, sys
op, subscribed = sys.argv[1], sys.argv[2]
s = socket.create_connection(("127.0.0.1", 4222))
f = s.makefile("rb")
f.readline()  # INFO
s.sendall(b'CONNECT {"verbose":false}\r\nSUB operator.health 1\r\nPING\r\n')
while True:
    line = f.readline()
    if not line:
        break
    if line.startswith(b"PING"):
        s.sendall(b"PONG\r\n")
    elif line.startswith(b"PONG"):
        open(subscribed, "w").close()  # the server has our subscription
    elif line.startswith(b"MSG"):
        size = int(line.split()[-1])
        body = f.read(size + 2)[:size]
        try:
            event = json.loads(body)
        except ValueError:
            continue
        if event.get("operatorId") == op:
            print(json.dumps(event), flush=True)
PY
PIDS+=("$!")
for _ in $(seq 1 100); do
  [ -e "$WORK/health.subscribed" ] && break
  sleep 0.1
done
[ -e "$WORK/health.subscribed" ] || fail "cannot subscribe to operator.health"

cat >"$WORK/credentials.json" <<EOF
{"systemId": "demo", "password": "demo123", "systemType": ""}
EOF
cat >"$WORK/connector.yaml" <<EOF
operatorId: $OPERATOR
primary: {host: 127.0.0.1, port: $PRIMARY_PORT}
backup: {host: 127.0.0.1, port: $BACKUP_PORT}
credentials: {source: file, path: $WORK/credentials.json}
session: {window: 256}
throttle: {tps: $TPS}
http: {address: "127.0.0.1:$HTTP_PORT"}
logging: {format: text, level: info}
EOF

log "connector (operator $OPERATOR, migrations at start)"
"$BIN/smpp-connector" --config "$WORK/connector.yaml" >"$WORK/connector.log" 2>&1 &
CONNECTOR_PID=$!
PIDS+=("$CONNECTOR_PID")
READY=0
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$HTTP_PORT/ready" >/dev/null 2>&1; then READY=1; break; fi
  if ! kill -0 "$CONNECTOR_PID" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ "$READY" != 1 ]; then
  fail "the connector did not become ready"
  tail -n 30 "$WORK/connector.log" >&2
  exit 1
fi
curl -fsS "http://127.0.0.1:$HTTP_PORT/ready"
echo

# Runs the load generator; $1 names the run, the rest are its arguments. Keeps the JSON.
load() {
  local name="$1"
  shift
  if ! "$BIN/loadgen" --operator "$OPERATOR" --timeout 120 --json "$@" >"$WORK/$name.json"; then
    fail "loadgen run '$name' did not finish"
  fi
}

log "load: $COUNT messages with receipts"
load main --count "$COUNT" --wait-receipts
log "load: 5 long messages (3 segments each)"
load long --count 5 --wait-receipts \
  --text "$(printf 'This long message is split into segments and reassembled by the handset. %.0s' 1 2 3 4 5 6)"
log "load: 3 invalid messages (text longer than the contract allows)"
load invalid --count 3 --wait-receipts --text "$(head -c 40001 /dev/zero | tr '\0' x)"

log "summary"
python3 - "$WORK" "$COUNT" <<'PY' || FAILED=1
import json, sys
work, count = sys.argv[1], int(sys.argv[2])
ok = True
def check(cond, what):
    global ok
    if not cond:
        print(f"  CHECK FAILED: {what}")
        ok = False
for name, expect in (("main", ("DELIVERED", count)), ("long", ("DELIVERED", 5)), ("invalid", ("REJECTED", 3))):
    try:
        with open(f"{work}/{name}.json") as f:
            s = json.load(f)
    except (OSError, ValueError):
        check(False, f"{name}: no summary")
        continue
    lat = s["latencyMs"]
    print(f"{name}:")
    print(f"  sent {s['sent']}, accepted {s['accepted']}, rejected {s['rejected']}, unfinished {s['unfinished']}")
    print(f"  final status: {s['finalStatus']}")
    print(f"  events: {s['events']}")
    print(f"  throughput {s['throughput']:.0f} messages/s over {s['totalSeconds']:.2f} s")
    print(f"  latency ms (publish to final event): p50 {lat['p50']:.1f}  p90 {lat['p90']:.1f}  p99 {lat['p99']:.1f}  max {lat['max']:.1f}")
    status, n = expect
    check(s["sent"] == n, f"{name}: sent {s['sent']} of {n}")
    check(s["unfinished"] == 0, f"{name}: {s['unfinished']} unfinished")
    check(s["finalStatus"].get(status, 0) == n, f"{name}: {n} {status} expected")
    if status == "REJECTED":
        check(s["rejected"] == n, f"{name}: {n} rejected by the connector expected")
sys.exit(0 if ok else 1)
PY

log "metrics highlights"
curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$WORK/metrics.txt" || fail "no /metrics"
grep -E '^smpp_(submit_total|receipts_total|rejected_commands_total|duplicate_window_total|correlation_misses_total|reconnects_total|idempotent_skips_total|response_latency_seconds_(count|sum)|session_state\{[^}]*\} 1)' \
  "$WORK/metrics.txt" || fail "metrics missing"

log "stopping the connector (SIGTERM: drain, flush, unbind)"
kill -TERM "$CONNECTOR_PID"
if ! wait "$CONNECTOR_PID"; then fail "the connector did not stop cleanly"; fi

log "operator.health events"
sleep 0.5 # the last event (UNBOUND, stopped) travels to the subscriber
cat "$WORK/health.jsonl"
grep -q '"state": "BOUND"' "$WORK/health.jsonl" || fail "no BOUND health event"
tail -n 1 "$WORK/health.jsonl" | grep -q '"state": "UNBOUND"' || fail "the last health event is not UNBOUND"

if [ "$FAILED" != 0 ]; then
  echo "demo: FAILED (connector log: last lines below)" >&2
  tail -n 20 "$WORK/connector.log" >&2
  exit 1
fi
log "demo: OK"
