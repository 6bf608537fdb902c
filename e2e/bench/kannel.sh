#!/usr/bin/env bash
# Kannel (Debian package `kannel`, 1.4.5) sending through its HTTP sendsms interface to
# smsc-sim: the side-by-side part of the connector benchmark (issue 4, BENCHMARKS.md).
#
# For each run and mode (without receipts, then with dlr-mask 3), it starts a fresh smsc-sim,
# bearerbox and smsbox on free loopback ports with e2e/bench/kannel/kannel.conf.in rendered into
# a temporary directory, runs `kannel-load`, records Kannel's CPU time and peak memory, and stops
# everything. It prints each run and the medians.
#
# Usage: e2e/bench/kannel.sh [--count N] [--runs N] [--window N] [--concurrency N]
#                            [--receipt-delay-ms MS] [--timeout S] [--json FILE] [--keep]
# Environment: BENCH_SKIP_BUILD=1 uses the binaries in $BENCH_BIN as they are.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNT=${KANNEL_COUNT:-20000}
RUNS=${BENCH_RUNS:-3}
WINDOW=${BENCH_WINDOW:-256}
CONCURRENCY=${KANNEL_CONCURRENCY:-64}
RECEIPT_DELAY_MS=${BENCH_RECEIPT_DELAY_MS:-100}
TIMEOUT=${KANNEL_TIMEOUT:-180}
JSON_OUT=""
KEEP=0

while (($#)); do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --receipt-delay-ms) RECEIPT_DELAY_MS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for n in "$COUNT" "$RUNS" "$WINDOW" "$CONCURRENCY" "$RECEIPT_DELAY_MS" "$TIMEOUT"; do
  [[ $n =~ ^[0-9]+$ ]] || die "not a number: $n"
done
((COUNT > 0 && COUNT <= 1000000)) || die "--count must be 1..1000000"
((RUNS > 0 && RUNS <= 20)) || die "--runs must be 1..20"

# Installs Kannel if missing; makes sure the package's own service is not running.
ensure_kannel() {
  if ! command -v bearerbox >/dev/null || ! command -v smsbox >/dev/null; then
    [[ $(id -u) == 0 ]] || die "kannel is not installed; as root: apt-get install -y kannel"
    log "installing kannel"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q kannel >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q kannel >&2; }
  fi
  if command -v systemctl >/dev/null && systemctl is-active --quiet kannel 2>/dev/null; then
    log "stopping and disabling the kannel service"
    systemctl stop kannel
    systemctl disable --quiet kannel || true
  elif [[ -s /var/run/kannel/kannel_bearerbox.pid ]] && command -v invoke-rc.d >/dev/null; then
    log "stopping the kannel init service"
    invoke-rc.d kannel stop || true
  fi
}

random_secret() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

RUN_DIR=$(mktemp -d /tmp/kannel-bench.XXXXXX)
SIM_PID="" BB_PID="" SB_PID=""

stop_stack() {
  local pid
  for pid in "$SB_PID" "$BB_PID" "$SIM_PID"; do
    [[ -n $pid ]] && stop_pid "$pid"
  done
  SIM_PID="" BB_PID="" SB_PID=""
}

cleanup() {
  local rc=$?
  stop_stack
  if ((KEEP == 1 || rc != 0)); then
    log "logs kept in $RUN_DIR"
  else
    rm -rf "$RUN_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Four distinct free ports: sim, admin, smsbox, sendsms.
pick_ports() {
  local p
  PORTS=()
  while ((${#PORTS[@]} < 4)); do
    p=$(free_port)
    [[ " ${PORTS[*]} " == *" $p "* ]] || PORTS+=("$p")
  done
}

# Starts smsc-sim, bearerbox and smsbox for run TAG; waits until Kannel can take requests.
start_stack() {
  local tag=$1
  pick_ports
  SIM_PORT=${PORTS[0]} ADMIN_PORT=${PORTS[1]} SMSBOX_PORT=${PORTS[2]} SENDSMS_PORT=${PORTS[3]}
  SIM_PASSWORD=$(random_secret) ADMIN_PASSWORD=$(random_secret) SENDSMS_PASSWORD=$(random_secret)
  SMSC_SIM_PASSWORD=$SIM_PASSWORD "$BENCH_BIN/smsc-sim" --listen "127.0.0.1:$SIM_PORT" \
    --system-id bench --id-form decimal --receipt-delay-ms "$RECEIPT_DELAY_MS" \
    --enquire-link-secs 0 --capture-submits false \
    >"$RUN_DIR/sim-$tag.out" 2>"$RUN_DIR/sim-$tag.err" &
  SIM_PID=$!
  wait_port "$SIM_PORT"
  local conf=$RUN_DIR/kannel-$tag.conf
  mkdir -p "$RUN_DIR/$tag"
  sed -e "s#@ADMIN_PORT@#$ADMIN_PORT#g" -e "s#@ADMIN_PASSWORD@#$ADMIN_PASSWORD#g" \
    -e "s#@SMSBOX_PORT@#$SMSBOX_PORT#g" -e "s#@SENDSMS_PORT@#$SENDSMS_PORT#g" \
    -e "s#@SIM_PORT@#$SIM_PORT#g" -e "s#@SYSTEM_ID@#bench#g" -e "s#@PASSWORD@#$SIM_PASSWORD#g" \
    -e "s#@WINDOW@#$WINDOW#g" -e "s#@SENDSMS_USER@#bench#g" \
    -e "s#@SENDSMS_PASSWORD@#$SENDSMS_PASSWORD#g" -e "s#@RUN_DIR@#$RUN_DIR/$tag#g" \
    "$BENCH_ROOT/e2e/bench/kannel/kannel.conf.in" >"$conf"
  if grep -v '^#' "$conf" | grep -q '@[A-Z_]*@'; then die "unreplaced placeholder in $conf"; fi
  bearerbox "$conf" >"$RUN_DIR/bearerbox-$tag.out" 2>&1 &
  BB_PID=$!
  wait_port "$ADMIN_PORT"
  wait_port "$SMSBOX_PORT"
  smsbox "$conf" >"$RUN_DIR/smsbox-$tag.out" 2>&1 &
  SB_PID=$!
  wait_port "$SENDSMS_PORT"
}

# Submits the simulator answered with ESME_ROK, from its exit statistics.
sim_accepted() {
  awk '$1 == "out" && $2 == "submit_sm_resp" && $3 == "ESME_ROK" {n += $4} END {print n + 0}' "$1"
}

# One run of MODE (submit or receipts), number I; appends a JSON line to results.jsonl.
run_once() {
  local mode=$1 i=$2 tag="$1-$2" flags=() before_bb before_sb out rc=0
  [[ $mode == receipts ]] && flags+=(--receipts)
  start_stack "$tag"
  before_bb=$(cpu_ticks "$BB_PID")
  before_sb=$(cpu_ticks "$SB_PID")
  out=$(KANNEL_SENDSMS_PASSWORD=$SENDSMS_PASSWORD KANNEL_STATUS_PASSWORD=$ADMIN_PASSWORD \
    "$BENCH_BIN/kannel-load" --json --count "$COUNT" --concurrency "$CONCURRENCY" \
    --sendsms-url "http://127.0.0.1:$SENDSMS_PORT/cgi-bin/sendsms" \
    --status-url "http://127.0.0.1:$ADMIN_PORT/status.xml" \
    --timeout "$TIMEOUT" "${flags[@]}") || rc=$?
  local cpu_ticks_used=$(($(cpu_ticks "$BB_PID") - before_bb + $(cpu_ticks "$SB_PID") - before_sb))
  local rss=$(($(peak_rss_kib "$BB_PID") + $(peak_rss_kib "$SB_PID")))
  stop_stack
  [[ -n $out ]] || die "kannel-load gave no summary ($mode run $i); logs in $RUN_DIR"
  local accepted
  accepted=$(sim_accepted "$RUN_DIR/sim-$tag.out")
  jq -c --arg mode "$mode" --argjson run "$i" --argjson rc "$rc" \
    --argjson cpu "$cpu_ticks_used" --argjson tck "$CLK_TCK" --argjson rss "$rss" \
    --argjson simAccepted "$accepted" \
    '. + {mode: $mode, run: $run, exitCode: $rc, simAccepted: $simAccepted,
          kannelCpuMsPerMsg: ($cpu * 1000 / $tck / .count), kannelPeakRssKib: $rss}' \
    <<<"$out" | tee -a "$RUN_DIR/results.jsonl" >&2
  ((rc == 0)) || log "warning: $mode run $i did not complete (exit $rc)"
}

field_median() {
  jq -r --arg mode "$1" "select(.mode == \$mode and .exitCode == 0) | $2" "$RUN_DIR/results.jsonl" | median
}

ensure_kannel
build_bins smsc-sim kannel-load
log "Kannel $(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo '?'): $COUNT messages, $RUNS runs, window $WINDOW, $CONCURRENCY HTTP requests in flight, receipt delay ${RECEIPT_DELAY_MS} ms"
for ((i = 1; i <= RUNS; i++)); do
  run_once submit "$i"
  run_once receipts "$i"
done

SUBMIT_RATE=$(field_median submit .submitRate)
SUBMIT_CPU=$(field_median submit .kannelCpuMsPerMsg)
RECEIPT_SUBMIT_RATE=$(field_median receipts .submitRate)
RECEIPT_RATE=$(field_median receipts .receiptRate)
RECEIPT_CPU=$(field_median receipts .kannelCpuMsPerMsg)
RECEIPT_RSS=$(field_median receipts .kannelPeakRssKib)
COMPLETE=$(jq -s 'map(select(.exitCode == 0)) | length' "$RUN_DIR/results.jsonl")

printf '\nKannel %s via HTTP sendsms to smsc-sim, %s messages, medians of %s runs (%s complete)\n' \
  "$(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo '?')" "$COUNT" "$RUNS" "$COMPLETE"
printf '  without receipts: %8s submit_sm/s   Kannel CPU %s ms/msg\n' \
  "$(fmt_num 0 "$SUBMIT_RATE")" "$(fmt_num 3 "$SUBMIT_CPU")"
printf '  with receipts:    %8s receipts/s    (%s submit_sm/s)   Kannel CPU %s ms/msg   RSS peak %s KiB\n' \
  "$(fmt_num 0 "$RECEIPT_RATE")" "$(fmt_num 0 "$RECEIPT_SUBMIT_RATE")" \
  "$(fmt_num 3 "$RECEIPT_CPU")" "$(fmt_num 0 "$RECEIPT_RSS")"

if [[ -n $JSON_OUT ]]; then
  jq -s --argjson count "$COUNT" --argjson runs "$RUNS" --argjson window "$WINDOW" \
    --argjson submitRate "$SUBMIT_RATE" --argjson submitCpu "$SUBMIT_CPU" \
    --argjson receiptRate "$RECEIPT_RATE" --argjson receiptSubmitRate "$RECEIPT_SUBMIT_RATE" \
    --argjson receiptCpu "$RECEIPT_CPU" \
    '{count: $count, runs: $runs, window: $window,
      median: {submitRate: $submitRate, submitCpuMsPerMsg: $submitCpu,
               receiptRate: $receiptRate, receiptSubmitRate: $receiptSubmitRate,
               receiptCpuMsPerMsg: $receiptCpu},
      runDetails: .}' "$RUN_DIR/results.jsonl" >"$JSON_OUT"
  log "summary written to $JSON_OUT"
fi
((COMPLETE == 2 * RUNS)) || die "$((2 * RUNS - COMPLETE)) runs did not complete"
