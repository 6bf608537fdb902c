#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run).

# The repository root and where the release binaries are.
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$BENCH_ROOT/target}/release}
export BENCH_ROOT BENCH_BIN

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Builds the named release binaries of the workspace unless BENCH_SKIP_BUILD=1.
build_bins() {
  if [[ ${BENCH_SKIP_BUILD:-0} == 1 ]]; then
    return 0
  fi
  local args=()
  local bin
  for bin in "$@"; do args+=(--bin "$bin"); done
  (cd "$BENCH_ROOT" && cargo build --release --quiet "${args[@]}") || die "cargo build ${args[*]} failed"
}

# A TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local port tries=0
  while ((tries < 200)); do
    port=$((20000 + RANDOM % 40000))
    if [[ -z $(ss -Hltn "sport = :$port") ]]; then
      echo "$port"
      return 0
    fi
    tries=$((tries + 1))
  done
  die "no free TCP port found"
}

# Waits until 127.0.0.1:PORT accepts connections, at most SECONDS (default 30).
wait_port() {
  local port=$1 limit=${2:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$port after ${limit}s"
}

# User + system CPU time of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
  local stat rest
  stat=$(<"/proc/$1/stat") || return 1
  rest=${stat##*) }
  # shellcheck disable=SC2206 # word splitting into fields is the point
  local f=($rest)
  echo $((f[11] + f[12]))
}

# Peak resident memory of PID in KiB (VmHWM).
peak_rss_kib() {
  awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}

# Clock ticks per second.
CLK_TCK=$(getconf CLK_TCK)
export CLK_TCK

# The median of the numbers on standard input (one per line), "null" when there are none.
median() {
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "null"; exit }
    if (NR % 2) { print v[(NR + 1) / 2] } else { print (v[NR / 2] + v[NR / 2 + 1]) / 2 }
  }'
}

# Stops PID (SIGTERM, then SIGKILL after SECONDS, default 10) and reaps it.
stop_pid() {
  local pid=$1 limit=${2:-10} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# NUMBER with DECIMALS decimals, or "n/a" for null.
fmt_num() {
  if [[ $2 == null || -z $2 ]]; then echo "n/a"; else printf "%.${1}f" "$2"; fi
}
