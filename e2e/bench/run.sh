#!/usr/bin/env bash
# Every benchmark of the project in one command, with medians (BENCHMARKS.md, docs/benchmarks.md):
#   1. criterion micro-benchmarks: cargo bench -p connector --benches
#   2. the session benchmark: e2e binary session-bench, window 1/10/64/256, 0 and 50 ms responses
#      (pool: one bind against a pool of 4, window 16 each, 20 ms responses, side by side)
#   3. the connector end to end against smsc-sim and the local NATS, Redis and PostgreSQL:
#      bare ceiling, submit path (no receipts, no TPS limit), full path with receipts,
#      CPU time per message, peak RSS, and p99 latencies at a steady 1,000 msg/s
#   4. Kannel through its HTTP interface to smsc-sim (e2e/bench/kannel.sh), and our ratio
#   5. tracing (not in the default set): CPU per message at a steady 1,000 msg/s with tracing
#      off and on at 10 % sampling (OTLP/HTTP to a sink that accepts and drops), alternated
#   6. cpu: the connector's CPU when idle (bound, no traffic, % of one core) and per message at a
#      steady 100 and 1,000 msg/s with receipts, with the p99 latencies; with
#      BENCH_BASELINE_BIN=DIR (a directory holding another build's smpp-connector) each run is
#      alternated with that build, side by side in the same run
#
# Usage: e2e/bench/run.sh [--runs N] [--count N] [--only LIST] [--out DIR]
#   --only takes a comma-separated subset of: criterion,session,pool,connector,kannel,tracing,cpu
# Environment: BENCH_SKIP_BUILD=1 (use built binaries), BENCH_CRITERION_ARGS (passed to
# criterion, default "--warm-up-time 1 --measurement-time 3 --noplot"), BENCH_WINDOW (256),
# BENCH_RECEIPT_DELAY_MS (100), BENCH_IDLE_SECONDS (30), BENCH_BASELINE_BIN, NATS_URL, REDIS_URL,
# DATABASE_URL.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS:-3}
COUNT=${BENCH_COUNT:-50000}
ONLY=criterion,session,pool,connector,kannel
OUT=""
WINDOW=${BENCH_WINDOW:-256}
RECEIPT_DELAY_MS=${BENCH_RECEIPT_DELAY_MS:-100}
STEADY_RATE=1000
STEADY_COUNT=${BENCH_STEADY_COUNT:-10000}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-30}
BASELINE_BIN=${BENCH_BASELINE_BIN:-}
NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# Histograms the connector is expected to expose on /metrics for the steady-rate latencies.
SUBMIT_LATENCY_METRIC=${BENCH_SUBMIT_LATENCY_METRIC:-smpp_publish_to_submit_seconds}
RECEIPT_LATENCY_METRIC=${BENCH_RECEIPT_LATENCY_METRIC:-smpp_receipt_latency_seconds}
RESPONSE_LATENCY_METRIC=smpp_response_latency_seconds

while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if ! [[ $RUNS =~ ^[0-9]+$ ]] || ((RUNS < 1 || RUNS > 20)); then die "--runs must be 1..20"; fi
if ! [[ $COUNT =~ ^[0-9]+$ ]] || ((COUNT < 1 || COUNT > 1000000)); then
  die "--count must be 1..1000000"
fi
wants() { [[ ,$ONLY, == *,$1,* ]]; }

OUT=${OUT:-/tmp/bench-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
say() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

SIM_PID="" CONN_PID="" TRACING_YAML="" CONN_BIN=""
cleanup() {
  local rc=$?
  [[ -n $CONN_PID ]] && stop_pid "$CONN_PID" 30
  [[ -n $SIM_PID ]] && stop_pid "$SIM_PID"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "# Benchmarks $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
say "runs: $RUNS (medians), messages per run: $COUNT, window $WINDOW, receipt delay ${RECEIPT_DELAY_MS} ms"
say "results and logs: $OUT"

# ---- 1. criterion -------------------------------------------------------------------------
run_criterion() {
  say ""
  say "## criterion (cargo bench -p connector --benches)"
  local args
  read -r -a args <<<"${BENCH_CRITERION_ARGS:---warm-up-time 1 --measurement-time 3 --noplot}"
  if ! (cd "$BENCH_ROOT" && cargo bench -p connector --benches -- "${args[@]}") >"$OUT/criterion.log" 2>&1; then
    say "criterion: FAILED, see $OUT/criterion.log"
    return 0
  fi
  # "name  time: [low median high]" lines; criterion prints the name on the line before when long.
  awk '/time:/ { line = $0; sub(/^[[:space:]]+/, "", line)
                 if (line ~ /^time:/) { print prev "  " line } else { print line } }
       { prev = $1 }' "$OUT/criterion.log" | tee -a "$SUMMARY"
}

# ---- 2. session ---------------------------------------------------------------------------
run_session() {
  say ""
  say "## session benchmark (one session engine against smsc-sim)"
  if [[ ! -f $BENCH_ROOT/e2e/src/bin/session-bench.rs ]]; then
    say "session benchmark: not available yet (expected the e2e binary session-bench)"
    return 0
  fi
  if ! build_bins session-bench smsc-sim 2>"$OUT/session-build.err"; then
    say "session benchmark: the release build failed, see $OUT/session-build.err"
    return 0
  fi
  local delay
  for delay in 0 50; do
    say "response delay ${delay} ms:"
    if ! "$BENCH_BIN/session-bench" --runs "$RUNS" --delay-ms "$delay" \
      >"$OUT/session-$delay.txt" 2>"$OUT/session-$delay.err"; then
      say "session benchmark: FAILED, see $OUT/session-$delay.err"
    fi
    tee -a "$SUMMARY" <"$OUT/session-$delay.txt"
  done
}

# ---- 2b. bind pool --------------------------------------------------------------------------
run_pool() {
  say ""
  say "## bind pool (session-bench --binds 1,4: window 16 per bind, 20 ms responses)"
  if ! build_bins session-bench smsc-sim 2>"$OUT/pool-build.err"; then
    say "bind pool benchmark: the release build failed, see $OUT/pool-build.err"
    return 0
  fi
  say "expected: 1 bind 16 / 0.02 s = 800/s, 4 binds 3,200/s"
  if ! "$BENCH_BIN/session-bench" --runs "$RUNS" --windows 16 --binds 1,4 --delay-ms 20 \
    >"$OUT/pool.txt" 2>"$OUT/pool.err"; then
    say "bind pool benchmark: FAILED, see $OUT/pool.err"
  fi
  tee -a "$SUMMARY" <"$OUT/pool.txt"
}

# ---- 3. connector end to end --------------------------------------------------------------
CONNECTOR_READY_REASON=""
connector_ready() {
  local help
  if ! build_bins smpp-connector smsc-sim loadgen 2>"$OUT/build.err"; then
    CONNECTOR_READY_REASON="the release build failed (see $OUT/build.err)"
    return 1
  fi
  if ! help=$("$BENCH_BIN/smpp-connector" --help 2>&1); then
    CONNECTOR_READY_REASON="smpp-connector --help fails"
    return 1
  fi
  if [[ $help != *--config* ]]; then
    CONNECTOR_READY_REASON="smpp-connector is a placeholder (its --help has no --config)"
    return 1
  fi
  local hostport port
  for hostport in "${NATS_URL#*://}" "${REDIS_URL#*://}" "${DATABASE_URL#*@}"; do
    hostport=${hostport%%/*}
    port=${hostport##*:}
    if ! (exec 3<>"/dev/tcp/${hostport%:*}/$port") 2>/dev/null; then
      CONNECTOR_READY_REASON="nothing listens on $hostport (NATS, Redis and PostgreSQL are needed)"
      return 1
    fi
  done
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# Starts smsc-sim and the connector for a fresh operator; sets OPERATOR, SIM_PID, CONN_PID,
# HTTP_PORT. Argument: a tag for the log files.
start_connector() {
  local tag=$1 sim_port password
  OPERATOR=bench-$(random_hex 4)
  sim_port=$(free_port)
  HTTP_PORT=$(free_port)
  password=$(random_hex 4)
  SMSC_SIM_PASSWORD=$password "$BENCH_BIN/smsc-sim" --listen "127.0.0.1:$sim_port" \
    --system-id bench --id-form decimal --receipt-delay-ms "$RECEIPT_DELAY_MS" \
    --enquire-link-secs 0 --capture-submits false \
    >"$OUT/sim-$tag.out" 2>"$OUT/sim-$tag.err" &
  SIM_PID=$!
  if ! (wait_port "$sim_port"); then
    say "connector $tag: smsc-sim did not start, see $OUT/sim-$tag.err"
    return 1
  fi
  printf '{"systemId":"bench","password":"%s"}\n' "$password" >"$OUT/credentials-$tag.json"
  cat >"$OUT/connector-$tag.yaml" <<YAML
operatorId: $OPERATOR
primary: {host: 127.0.0.1, port: $sim_port}
bind: {mode: transceiver}
session: {window: $WINDOW}
throttle: {tps: 0}
credentials: {source: file, path: $OUT/credentials-$tag.json}
nats: {url: "$NATS_URL"}
redis: {url: "$REDIS_URL"}
postgres: {url: "$DATABASE_URL", migrate: true}
http: {address: "127.0.0.1:$HTTP_PORT"}
statusWriter: {enabled: false}
logging: {format: text, level: warn}
$TRACING_YAML
YAML
  "${CONN_BIN:-$BENCH_BIN}/smpp-connector" --config "$OUT/connector-$tag.yaml" >"$OUT/connector-$tag.log" 2>&1 &
  CONN_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/ready" 2>/dev/null && return 0
    if ! kill -0 "$CONN_PID" 2>/dev/null; then
      say "connector $tag: exited at start, see $OUT/connector-$tag.log"
      return 1
    fi
    sleep 0.1
  done
  say "connector $tag: not ready after 30 s, see $OUT/connector-$tag.log"
  return 1
}

stop_connector() {
  [[ -n $CONN_PID ]] && stop_pid "$CONN_PID" 30
  [[ -n $SIM_PID ]] && stop_pid "$SIM_PID"
  CONN_PID="" SIM_PID=""
}

# p99 (upper bucket bound, in ms) of the Prometheus histogram NAME in FILE, summed over labels.
histogram_p99_ms() {
  awk -v name="$1_bucket" '
    index($0, name) == 1 {
      le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le)
      n[le] += $NF
    }
    END {
      total = n["+Inf"]
      if (total == 0) { print "null"; exit }
      best = ""
      for (le in n) if (le != "+Inf" && n[le] >= 0.99 * total && (best == "" || le + 0 < best + 0)) best = le
      if (best == "") { print "null" } else { print best * 1000 }
    }' "$2"
}

# One connector run of MODE: submit, full, steady (traced, untraced), steady100, steady1000 or
# idle; appends a JSON line to connector.jsonl. The connector is CONN_BIN's (default BENCH_BIN's).
connector_run() {
  local mode=$1 i=$2 tag="$1-$2" flags=() before after out rc=0
  case $mode in
    submit) flags=(--count "$COUNT" --no-receipts --wait acked) ;;
    full) flags=(--count "$COUNT" --wait receipts) ;;
    steady | traced | untraced) flags=(--count "$STEADY_COUNT" --rate "$STEADY_RATE" --wait receipts) ;;
    steady100) flags=(--count $((STEADY_COUNT * 3 / 10)) --rate 100 --wait receipts) ;;
    steady1000) flags=(--count "$STEADY_COUNT" --rate 1000 --wait receipts) ;;
    idle) ;;
    *) die "unknown connector run mode $mode" ;;
  esac
  if ! start_connector "$tag"; then
    stop_connector
    return 0
  fi
  if [[ $mode == idle ]]; then
    # Bound and quiet: a second to settle after /ready, then the CPU over IDLE_SECONDS.
    sleep 1
    before=$(cpu_ticks "$CONN_PID")
    sleep "$IDLE_SECONDS"
    after=$(cpu_ticks "$CONN_PID")
    stop_connector
    jq -nc --arg mode "$mode" --argjson run "$i" --argjson ticks "$((after - before))" \
      --argjson tck "$CLK_TCK" --argjson secs "$IDLE_SECONDS" --arg bin "${CONN_BIN:-$BENCH_BIN}" \
      '{mode: $mode, run: $run, exitCode: 0, bin: $bin, seconds: $secs,
        cpuPercentOfCore: ($ticks * 100 / $tck / $secs)}' | tee -a "$OUT/connector.jsonl" >&2
    return 0
  fi
  # The steady-rate runs measure the steady state, not the first pull after /ready.
  [[ $mode == steady100 || $mode == steady1000 ]] && sleep 3
  before=$(cpu_ticks "$CONN_PID")
  out=$("$BENCH_BIN/loadgen" --nats-url "$NATS_URL" --operator "$OPERATOR" --json --timeout 300 \
    "${flags[@]}" 2>"$OUT/loadgen-$tag.err") || rc=$?
  if ! kill -0 "$CONN_PID" 2>/dev/null; then
    say "connector $tag: the connector died during the run, see $OUT/connector-$tag.log"
    stop_connector
    return 0
  fi
  after=$(cpu_ticks "$CONN_PID")
  local rss
  rss=$(peak_rss_kib "$CONN_PID")
  curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" >"$OUT/metrics-$tag.txt" 2>/dev/null || true
  stop_connector
  [[ -n $out ]] || { log "loadgen gave no summary ($tag), see $OUT/loadgen-$tag.err"; return 0; }
  jq -c --arg mode "$mode" --argjson run "$i" --argjson rc "$rc" --argjson ticks "$((after - before))" \
    --argjson tck "$CLK_TCK" --argjson rss "$rss" --arg bin "${CONN_BIN:-$BENCH_BIN}" \
    --argjson p99Submit "$(histogram_p99_ms "$SUBMIT_LATENCY_METRIC" "$OUT/metrics-$tag.txt")" \
    --argjson p99Receipt "$(histogram_p99_ms "$RECEIPT_LATENCY_METRIC" "$OUT/metrics-$tag.txt")" \
    --argjson p99Response "$(histogram_p99_ms "$RESPONSE_LATENCY_METRIC" "$OUT/metrics-$tag.txt")" \
    '. + {mode: $mode, run: $run, exitCode: $rc, bin: $bin, cpuMsPerMsg: ($ticks * 1000 / $tck / .sent),
          peakRssKib: $rss, p99PublishToSubmitMs: $p99Submit, p99ReceiptToEventMs: $p99Receipt,
          p99SubmitToResponseMs: $p99Response}' \
    <<<"$out" | tee -a "$OUT/connector.jsonl" >&2
}

ceiling_run() {
  local i=$1 out
  out=$("$BENCH_BIN/loadgen" --nats-url "$NATS_URL" --operator "bench-ceiling-$(random_hex 4)" \
    --ceiling --count "$COUNT" --json 2>"$OUT/ceiling-$i.err") || { log "ceiling run $i failed"; return 0; }
  jq -c --argjson run "$i" '. + {mode: "ceiling", run: $run, exitCode: 0}' <<<"$out" |
    tee -a "$OUT/connector.jsonl" >&2
}

cmedian() {
  [[ -s $OUT/connector.jsonl ]] || { echo null; return; }
  jq -r --arg mode "$1" "select(.mode == \$mode and .exitCode == 0) | $2 // empty" "$OUT/connector.jsonl" | median
}

# The correlation table as autovacuum keeps it in production: a PostgreSQL with autovacuum off
# (this machine's CI configuration) never removes the dead rows of receipt updates nor gathers
# statistics, and the figures then fall run after run. Reports the table's size.
maintain_tables() {
  if ! command -v psql >/dev/null; then
    say "correlation table: not vacuumed (no psql)"
    return 0
  fi
  local rows
  if ! psql "$DATABASE_URL" -qAtc "VACUUM (ANALYZE) smpp.message_correlations" >/dev/null 2>&1; then
    say "correlation table: not vacuumed (missing before the first connector start?)"
    return 0
  fi
  rows=$(psql "$DATABASE_URL" -qAtc "SELECT reltuples::bigint FROM pg_class WHERE oid = 'smpp.message_correlations'::regclass")
  say "correlation table: about $rows rows, vacuumed and analyzed first (autovacuum is $(psql "$DATABASE_URL" -qAtc 'SHOW autovacuum'))"
}

run_connector() {
  say ""
  say "## connector end to end (smsc-sim, NATS, Redis, PostgreSQL on this machine)"
  if ! connector_ready; then
    say "connector: NOT RUN: $CONNECTOR_READY_REASON"
    return 0
  fi
  : >"$OUT/connector.jsonl"
  maintain_tables
  local i
  for ((i = 1; i <= RUNS; i++)); do
    ceiling_run "$i"
    connector_run submit "$i"
    connector_run full "$i"
    connector_run steady "$i"
  done
  CEILING=$(cmedian ceiling .ceiling)
  SUBMIT=$(cmedian submit .throughput)
  FULL=$(cmedian full .throughput)
  say "bare ceiling (loadgen --ceiling):        $(fmt_num 0 "$CEILING") msg/s"
  say "submit path (--no-receipts --wait acked): $(fmt_num 0 "$SUBMIT") msg/s, ratio to ceiling $(ratio "$SUBMIT" "$CEILING") (target >= 25000 msg/s, ratio >= 0.6)"
  say "  CPU $(fmt_num 3 "$(cmedian submit .cpuMsPerMsg)") ms/msg"
  say "full path (receipts on sms.dlr.inbound):  $(fmt_num 0 "$FULL") msg/s (target >= 10000)"
  say "  CPU $(fmt_num 3 "$(cmedian full .cpuMsPerMsg)") ms/msg, RSS peak $(fmt_num 1 "$(kib_to_mib "$(cmedian full .peakRssKib)")") MiB (target <= 64)"
  local p99s p99r
  p99s=$(cmedian steady .p99PublishToSubmitMs)
  p99r=$(cmedian steady .p99ReceiptToEventMs)
  say "steady $STEADY_RATE msg/s ($STEADY_COUNT messages, receipts after ${RECEIPT_DELAY_MS} ms), from the connector's /metrics:"
  say "  p99 submit_sm->submit_sm_resp: <= $(fmt_num 2 "$(cmedian steady .p99SubmitToResponseMs)") ms"
  if [[ $p99s == null ]]; then
    say "  p99 publish->submit_sm: not measured: the connector's /metrics has no histogram $SUBMIT_LATENCY_METRIC"
    say "    (needed: time from the JetStream message's publish timestamp to the submit_sm write)"
  else
    say "  p99 publish->submit_sm: <= $p99s ms (target <= 10)"
  fi
  if [[ $p99r == null ]]; then
    say "  p99 receipt->event published: not measured: the connector's /metrics has no histogram $RECEIPT_LATENCY_METRIC"
  else
    say "  p99 receipt->event published: <= $p99r ms (target <= 10)"
  fi
}

ratio() {
  if [[ $1 == null || $2 == null || -z $1 || -z $2 ]]; then echo "n/a"; else awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; fi
}
kib_to_mib() {
  if [[ $1 == null ]]; then echo null; else awk -v k="$1" 'BEGIN { print k / 1024 }'; fi
}

# ---- 5. tracing -----------------------------------------------------------------------------
run_tracing() {
  say ""
  say "## tracing off vs on (10 % sampling, OTLP/HTTP protobuf to a sink), steady $STEADY_RATE msg/s with receipts"
  if ! connector_ready; then
    say "tracing: NOT RUN: $CONNECTOR_READY_REASON"
    return 0
  fi
  local sink_port sink_pid i
  sink_port=$(free_port)
  python3 - "$sink_port" >"$OUT/otlp-sink.log" 2>&1 <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
  sink_pid=$!
  : >"$OUT/connector.jsonl"
  for ((i = 1; i <= RUNS; i++)); do
    TRACING_YAML="" connector_run untraced "$i"
    TRACING_YAML="tracing: {endpoint: \"http://127.0.0.1:$sink_port\", samplingRatio: 0.1}" connector_run traced "$i"
  done
  kill "$sink_pid" 2>/dev/null || true
  say "tracing off: CPU $(fmt_num 3 "$(cmedian untraced .cpuMsPerMsg)") ms/msg [$(jq -r 'select(.mode == "untraced") | .cpuMsPerMsg' "$OUT/connector.jsonl" | xargs printf '%.3f ')]"
  say "tracing on, 10 %: CPU $(fmt_num 3 "$(cmedian traced .cpuMsPerMsg)") ms/msg [$(jq -r 'select(.mode == "traced") | .cpuMsPerMsg' "$OUT/connector.jsonl" | xargs printf '%.3f ')]"
  say "  ratio on/off $(ratio "$(cmedian traced .cpuMsPerMsg)" "$(cmedian untraced .cpuMsPerMsg)")"
}

# ---- 6. cpu ---------------------------------------------------------------------------------
# The values of FIELD of MODE's runs with binary BIN, space-separated with DECIMALS decimals.
cvalues() {
  jq -r --arg mode "$1" --arg bin "$2" "select(.mode == \$mode and .bin == \$bin and .exitCode == 0) | $3 // empty" \
    "$OUT/connector.jsonl" | xargs -r printf "%.${4}f "
}
# The median of FIELD of MODE's runs with binary BIN.
cbmedian() {
  jq -r --arg mode "$1" --arg bin "$2" "select(.mode == \$mode and .bin == \$bin and .exitCode == 0) | $3 // empty" \
    "$OUT/connector.jsonl" | median
}

run_cpu() {
  say ""
  say "## connector CPU: idle ${IDLE_SECONDS} s, steady 100 and 1,000 msg/s with receipts (receipts after ${RECEIPT_DELAY_MS} ms)"
  if ! connector_ready; then
    say "cpu: NOT RUN: $CONNECTOR_READY_REASON"
    return 0
  fi
  local bins=("$BENCH_BIN") bin i mode
  if [[ -n $BASELINE_BIN ]]; then
    [[ -x $BASELINE_BIN/smpp-connector ]] || die "BENCH_BASELINE_BIN=$BASELINE_BIN has no smpp-connector"
    bins=("$BASELINE_BIN" "$BENCH_BIN")
  fi
  : >"$OUT/connector.jsonl"
  maintain_tables
  for ((i = 1; i <= RUNS; i++)); do
    for mode in idle steady100 steady1000; do
      for bin in "${bins[@]}"; do
        CONN_BIN=$bin connector_run "$mode" "$i"
      done
    done
  done
  CONN_BIN=""
  for bin in "${bins[@]}"; do
    say "connector $bin:"
    say "  idle: $(fmt_num 2 "$(cbmedian idle "$bin" .cpuPercentOfCore)") % of a core [$(cvalues idle "$bin" .cpuPercentOfCore 2)] (target <= 1)"
    say "  steady 100 msg/s: $(fmt_num 0 "$(cbmedian steady100 "$bin" '.cpuMsPerMsg * 1000')") us CPU/msg [$(cvalues steady100 "$bin" '.cpuMsPerMsg * 1000' 0)] (target <= 150)"
    say "  steady 1000 msg/s: $(fmt_num 0 "$(cbmedian steady1000 "$bin" '.cpuMsPerMsg * 1000')") us CPU/msg [$(cvalues steady1000 "$bin" '.cpuMsPerMsg * 1000' 0)] (target <= 60)"
    for mode in steady100 steady1000; do
      say "    $mode p99 publish->submit_sm <= $(fmt_num 1 "$(cbmedian "$mode" "$bin" .p99PublishToSubmitMs)") ms, receipt->event <= $(fmt_num 1 "$(cbmedian "$mode" "$bin" .p99ReceiptToEventMs)") ms, RSS peak $(fmt_num 1 "$(kib_to_mib "$(cbmedian "$mode" "$bin" .peakRssKib)")") MiB"
    done
  done
}

# ---- 4. Kannel ----------------------------------------------------------------------------
run_kannel() {
  say ""
  say "## Kannel via HTTP to smsc-sim (e2e/bench/kannel.sh)"
  if ! "$BENCH_ROOT/e2e/bench/kannel.sh" --runs "$RUNS" --count "$COUNT" --window "$WINDOW" \
    --receipt-delay-ms "$RECEIPT_DELAY_MS" --json "$OUT/kannel.json" >"$OUT/kannel.txt" 2>"$OUT/kannel.err"; then
    say "kannel: some runs FAILED, see $OUT/kannel.err"
  fi
  [[ -s $OUT/kannel.txt ]] && tee -a "$SUMMARY" <"$OUT/kannel.txt"
  if [[ -s $OUT/kannel.json ]]; then
    KANNEL_SUBMIT=$(jq -r '.median.submitRate' "$OUT/kannel.json")
    KANNEL_RECEIPTS=$(jq -r '.median.receiptRate' "$OUT/kannel.json")
  fi
}

CEILING=null SUBMIT=null FULL=null KANNEL_SUBMIT=null KANNEL_RECEIPTS=null
wants criterion && run_criterion
wants session && run_session
wants pool && run_pool
wants connector && run_connector
wants kannel && run_kannel
wants tracing && run_tracing
wants cpu && run_cpu

say ""
say "## ratios (medians)"
say "connector submit path / bare ceiling:   $(ratio "$SUBMIT" "$CEILING")"
say "connector / Kannel without receipts:    $(ratio "$SUBMIT" "$KANNEL_SUBMIT")"
say "connector / Kannel with receipts:       $(ratio "$FULL" "$KANNEL_RECEIPTS")"
log "summary in $SUMMARY"
