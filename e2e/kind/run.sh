#!/usr/bin/env bash
# End-to-end suite on a throw-away kind cluster. One command:
#
#     e2e/kind/run.sh
#
# Needs Docker, kind, kubectl and helm on PATH. It creates the cluster, builds and loads the
# three images, installs NATS (JetStream), Redis and PostgreSQL from e2e/kind/manifests, installs
# the chart, starts two SMSC simulators (primary and backup), applies an MnoConnection and then
# checks: Ready; messages published and every receipt seen on sms.dlr.inbound; failover to the
# backup (Degraded, FAILBACK) when the primary stops; failback when it returns; two replicas
# (active and standby) where the standby takes over when the active pod is killed; everything
# removed when the resource is deleted. The cluster is deleted at the end, pass or fail.
#
# Environment:
#   KIND_CLUSTER   cluster name (default smpp-e2e)
#   KEEP_CLUSTER   1 keeps the cluster afterwards, for debugging (default 0)
#   SKIP_BUILD     1 uses images already built and tagged *:e2e (default 0)
#   TIMEOUT        seconds allowed for each wait (default 240)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
manifests="$here/manifests"

CLUSTER="${KIND_CLUSTER:-smpp-e2e}"
KEEP_CLUSTER="${KEEP_CLUSTER:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
TIMEOUT="${TIMEOUT:-240}"
NS=smpp-e2e
SYSTEM_NS=smpp-system
MNO=e2e-mno
KUBECTL=(kubectl --context "kind-$CLUSTER")

log() { printf '\n\033[1m[%(%H:%M:%S)T] %s\033[0m\n' -1 "$*"; }
die() { printf '\n[e2e] FAILED: %s\n' "$*" >&2; exit 1; }
k() { "${KUBECTL[@]}" "$@"; }

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || die "$tool is required on PATH"
done

diagnostics() {
  echo "---- diagnostics ----"
  k get nodes -o wide || true
  k get all,mno,configmaps,serviceaccounts,roles,rolebindings -n "$NS" -o wide || true
  k describe mno -n "$NS" || true
  k get events -n "$NS" --sort-by=.lastTimestamp || true
  k logs -n "$SYSTEM_NS" -l app.kubernetes.io/component=controller --tail=200 || true
  k logs -n "$NS" -l app.kubernetes.io/component=connector --tail=200 --all-containers || true
  k logs -n "$NS" -l app=loadgen --tail=100 || true
}

created=0
cleanup() {
  local rc=$?
  if [[ "$created" -eq 0 ]]; then
    exit "$rc"
  fi
  if [[ "$rc" -ne 0 ]]; then
    diagnostics
  fi
  if [[ "$KEEP_CLUSTER" == "1" ]]; then
    log "keeping cluster $CLUSTER (kind delete cluster --name $CLUSTER)"
  else
    log "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  if [[ "$rc" -eq 0 ]]; then
    log "e2e: PASSED"
  else
    log "e2e: FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls until a jsonpath of the MnoConnection has the expected value.
wait_status() {
  local path="$1" want="$2" what="$3" deadline=$((SECONDS + TIMEOUT)) got=""
  while ((SECONDS < deadline)); do
    got="$(k get mno "$MNO" -n "$NS" -o jsonpath="{$path}" 2>/dev/null || true)"
    if [[ "$got" == "$want" ]]; then
      echo "ok: $what ($path=$want)"
      return 0
    fi
    sleep 2
  done
  die "$what: $path is '$got', expected '$want' after ${TIMEOUT}s"
}

condition() { echo ".status.conditions[?(@.type==\"$1\")].status"; }

# Polls until a jsonpath of the MnoConnection is set and differs from `old`; prints it.
wait_changed() {
  local path="$1" old="$2" what="$3" deadline=$((SECONDS + TIMEOUT)) got=""
  while ((SECONDS < deadline)); do
    got="$(k get mno "$MNO" -n "$NS" -o jsonpath="{$path}" 2>/dev/null || true)"
    if [[ -n "$got" && "$got" != "$old" ]]; then
      echo "ok: $what ($path=$got)" >&2
      echo "$got"
      return 0
    fi
    sleep 1
  done
  die "$what: $path is still '$got' after ${TIMEOUT}s"
}

# Names of the running connector pods of the MnoConnection, one per line.
connector_pods() {
  k get pods -n "$NS" -l "app.kubernetes.io/instance=$MNO" \
    --field-selector=status.phase=Running -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}'
}

# Runs the loadgen Job under a new name and waits until it succeeds (or fails: no waiting
# out the timeout on a failed Job).
run_loadgen() {
  local name="loadgen-$1" deadline=$((SECONDS + TIMEOUT)) succeeded failed
  sed "s/^  name: loadgen$/  name: $name/" "$manifests/50-loadgen-job.yaml" | k apply -f -
  while true; do
    succeeded="$(k get job "$name" -n "$NS" -o jsonpath='{.status.succeeded}')"
    failed="$(k get job "$name" -n "$NS" -o jsonpath='{.status.failed}')"
    if [[ "${succeeded:-0}" -ge 1 ]]; then
      break
    fi
    if [[ "${failed:-0}" -ge 1 ]] || ((SECONDS >= deadline)); then
      k logs -n "$NS" "job/$name" --tail=100 || true
      die "loadgen $name did not receive every receipt"
    fi
    sleep 2
  done
  k logs -n "$NS" "job/$name" --tail=20
}

# Objects in the namespace owned by the MnoConnection with this uid, one KIND/NAME per line.
owned_by() {
  k get deployments,configmaps,services,serviceaccounts,roles,rolebindings -n "$NS" -o \
    jsonpath='{range .items[*]}{.kind}/{.metadata.name} {.metadata.ownerReferences[*].uid}{"\n"}{end}' |
    awk -v uid="$1" '{ for (i = 2; i <= NF; i++) if ($i == uid) print $1 }'
}

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  die "a kind cluster named $CLUSTER exists already: delete it or set KIND_CLUSTER"
fi
log "creating kind cluster $CLUSTER"
created=1
kind create cluster --name "$CLUSTER" --wait 120s

if [[ "$SKIP_BUILD" != "1" ]]; then
  log "building images"
  DOCKER_BUILDKIT=1 docker build -f "$repo/connector/Dockerfile" -t smpp-connector:e2e "$repo"
  DOCKER_BUILDKIT=1 docker build -f "$repo/controller/Dockerfile" -t mno-controller:e2e "$repo"
  DOCKER_BUILDKIT=1 docker build -f "$repo/e2e/Dockerfile.smsc-sim" -t smsc-sim:e2e "$repo"
fi
log "loading images into the cluster"
kind load docker-image --name "$CLUSTER" smpp-connector:e2e mno-controller:e2e smsc-sim:e2e

log "installing NATS, Redis and PostgreSQL"
k apply -f "$manifests/00-namespaces.yaml"
k apply -f "$manifests/10-nats.yaml" -f "$manifests/11-redis.yaml" -f "$manifests/12-postgres.yaml"
for d in nats redis postgres; do
  k rollout status -n "$NS" "deployment/$d" --timeout="${TIMEOUT}s"
done

log "installing the chart (CRD applied server-side first, as for an upgrade)"
k apply --server-side -f "$repo/charts/smpp-connector/crds/"
k wait --for=condition=Established crd/mnoconnections.smpp.ghasi.io --timeout=60s
helm --kube-context "kind-$CLUSTER" upgrade --install smpp "$repo/charts/smpp-connector" \
  --namespace "$SYSTEM_NS" \
  --set controller.image.repository=mno-controller \
  --set controller.image.tag=e2e \
  --set controller.image.pullPolicy=Never \
  --set connector.image.repository=smpp-connector \
  --set connector.image.tag=e2e \
  --set controller.logLevel=info,controller=debug \
  --wait --timeout "${TIMEOUT}s"

log "starting the SMSC simulators"
k apply -f "$manifests/20-smsc-sim.yaml" -f "$manifests/30-credentials.yaml"
for d in smsc-primary smsc-backup; do
  k rollout status -n "$NS" "deployment/$d" --timeout="${TIMEOUT}s"
done

log "applying the MnoConnection; waiting for Ready on the primary"
k apply -f "$manifests/40-mnoconnection.yaml"
k wait -n "$NS" "mno/$MNO" --for=condition=Ready --timeout="${TIMEOUT}s"
wait_status .status.session.bindState BOUND "bound"
wait_status .status.session.activeEndpoint primary "on the primary"
wait_status "$(condition Degraded)" False "not degraded"
wait_status .status.observedGeneration "$(k get mno "$MNO" -n "$NS" -o jsonpath='{.metadata.generation}')" "generation observed"
k get mno -n "$NS" -o wide

log "publishing messages; waiting for every receipt on sms.dlr.inbound"
run_loadgen primary

log "stopping the primary SMSC; waiting for failover"
k scale -n "$NS" deployment/smsc-primary --replicas=0
wait_status .status.session.bindState FAILBACK "failed over"
wait_status .status.session.activeEndpoint backup "on the backup"
wait_status "$(condition Degraded)" True "degraded on the backup"
wait_status "$(condition Ready)" True "still ready on the backup"
k get mno -n "$NS" -o wide
run_loadgen backup

log "restoring the primary SMSC; waiting for failback"
k scale -n "$NS" deployment/smsc-primary --replicas=1
k rollout status -n "$NS" deployment/smsc-primary --timeout="${TIMEOUT}s"
wait_status .status.session.bindState BOUND "failed back"
wait_status .status.session.activeEndpoint primary "on the primary again"
wait_status "$(condition Degraded)" False "no longer degraded"
k get mno -n "$NS" -o wide
run_loadgen failback

log "two replicas with two binds each: waiting for an active and a ready standby"
k patch mno "$MNO" -n "$NS" --type merge -p '{"spec":{"replicas":2,"binds":2}}'
k rollout status -n "$NS" "deployment/$MNO-connector" --timeout="${TIMEOUT}s"
wait_status .status.bindsReady 2/2 "both binds of the active pod up"
wait_status "$(condition StandbyReady)" True "the standby is ready"
wait_status "$(condition Ready)" True "ready with two replicas"
active="$(k get mno "$MNO" -n "$NS" -o jsonpath='{.status.activePod}')"
[[ -n "$active" ]] || die "the status names no active pod"
connector_pods | grep -qx "$active" || die "the active pod $active is not a running connector pod"
holder="$(k get lease "$MNO-connector" -n "$NS" -o jsonpath='{.spec.holderIdentity}')"
[[ "$holder" == "$active" ]] || die "the Lease is held by '$holder', the status says '$active'"
k get mno -n "$NS" -o wide

log "killing the active pod $active; waiting for the standby to take over"
k delete pod "$active" -n "$NS" --grace-period=0 --force
taken="$(wait_changed .status.activePod "$active" "another pod is active")"
[[ "$taken" != "$active" ]] || die "the killed pod $active is still active"
wait_status .status.bindsReady 2/2 "both binds up again on $taken"
wait_status .status.session.bindState BOUND "bound after the takeover"
holder="$(k get lease "$MNO-connector" -n "$NS" -o jsonpath='{.spec.holderIdentity}')"
[[ "$holder" == "$taken" ]] || die "the Lease is held by '$holder' after the takeover, not $taken"
wait_status "$(condition StandbyReady)" True "a new standby is ready"
k get mno -n "$NS" -o wide
run_loadgen takeover

log "deleting the MnoConnection; waiting until everything it owned is gone"
uid="$(k get mno "$MNO" -n "$NS" -o jsonpath='{.metadata.uid}')"
pod="$(k get mno "$MNO" -n "$NS" -o jsonpath='{.status.session.connectorPod}')"
[[ -n "$pod" ]] || die "the status names no connector pod"
children="$(owned_by "$uid")"
[[ -n "$children" ]] || die "found no objects owned by the MnoConnection"
printf 'owned objects:\n%s\n' "$children"
k delete mno "$MNO" -n "$NS" --wait --timeout="${TIMEOUT}s"
deadline=$((SECONDS + TIMEOUT))
while [[ -n "$(owned_by "$uid")" ]]; do
  ((SECONDS < deadline)) || die "still present after ${TIMEOUT}s: $(owned_by "$uid")"
  sleep 2
done
k wait -n "$NS" "pod/$pod" --for=delete --timeout="${TIMEOUT}s"
echo "ok: every owned object and the connector pod $pod removed"
