#!/usr/bin/env bash
# Static checks of everything Kubernetes in the repository (no cluster needed):
#   - helm lint and helm template of charts/smpp-connector, with the default values and with
#     every option on; values that the schema must refuse are refused;
#   - the rendered manifests, the CRD and e2e/kind/manifests validated with kubernetes-validate
#     --strict against the oldest and the newest Kubernetes versions the chart supports;
#   - MnoConnection documents validated against the CRD's own schema;
#   - shellcheck on every shell script of the repository.
# Exits non-zero on the first failing group of checks. Installs its tools with .ci/tools.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

export TOOLS_BIN_DIR="${TOOLS_BIN_DIR:-$HOME/.local/bin}"
export PATH="$TOOLS_BIN_DIR:$PATH"
bash .ci/tools.sh

CHART=charts/smpp-connector
CRD_DIR="$CHART/crds"
CRD="$CRD_DIR/mnoconnections.smpp.ghasi.io.yaml"
ALL_OPTIONS="$CHART/ci/all-options-values.yaml"
# Oldest supported (Chart.yaml kubeVersion) and newest known to kubernetes-validate.
K8S_VERSIONS=(-k 1.30 -k 1.35)
# Kinds without a schema in kubernetes-validate: Prometheus Operator CRDs (not installed here)
# and our own MnoConnection (checked against its CRD below).
ALLOWED_UNKNOWN='kind (ServiceMonitor|PodMonitor) with api version monitoring\.coreos\.com/v1|kind MnoConnection with api version smpp\.ghasi\.io/v1alpha1'

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'k8s-checks: FAILED: %s\n' "$*" >&2; exit 1; }

# kubernetes-validate --strict that also fails on kinds it has no schema for (it only warns).
kvalidate() {
  local log="$out/kvalidate.log" rc=0
  python3 -m kubernetes_validate --strict --quiet "${K8S_VERSIONS[@]}" "$@" >"$log" 2>&1 || rc=$?
  cat "$log"
  [[ "$rc" -eq 0 ]] || fail "kubernetes-validate: $*"
  if grep '^WARN' "$log" | grep -Ev "$ALLOWED_UNKNOWN" >/dev/null; then
    fail "kubernetes-validate found kinds it cannot check: $*"
  fi
  echo "kubernetes-validate: $# file(s) valid"
}

step "CRD present"
[[ -s "$CRD" ]] || fail "$CRD is missing (generate it: cargo run -p crds --bin crdgen)"

step "helm lint"
helm lint --strict "$CHART" || fail "helm lint (default values)"
helm lint --strict "$CHART" -f "$ALL_OPTIONS" || fail "helm lint (all options)"

step "helm template"
helm template smpp "$CHART" --namespace smpp-system >"$out/default.yaml" \
  || fail "helm template (default values)"
helm template smpp "$CHART" --namespace smpp-system -f "$ALL_OPTIONS" >"$out/all-options.yaml" \
  || fail "helm template (all options)"
helm template smpp "$CHART" --namespace smpp-system --set controller.watchNamespace=sms \
  >"$out/watch-namespace.yaml" || fail "helm template (watchNamespace)"

step "values the chart must refuse"
refuse() {
  if helm template smpp "$CHART" "$@" >/dev/null 2>&1; then
    fail "helm template accepted invalid values: $*"
  fi
  echo "refused as expected: $*"
}
refuse --set unknownKey=1
refuse --set controller.unknownKey=1
refuse --set controller.resources.requests.gpu=1
refuse --set controller.logFormat=xml
refuse --set controller.replicas=2
refuse --set controller.podAntiAffinityPreset=maybe
refuse --set serviceAccount.create=false

step "kubernetes-validate: rendered chart and CRD"
kvalidate "$out/default.yaml" "$out/all-options.yaml" "$out/watch-namespace.yaml" "$CRD"

step "kubernetes-validate: e2e/kind manifests"
mapfile -t kind_manifests < <(find e2e/kind -name '*.yaml' -type f | sort)
[[ "${#kind_manifests[@]}" -gt 0 ]] || fail "no manifests under e2e/kind"
kvalidate "${kind_manifests[@]}"

step "MnoConnection documents against the CRD schema"
mapfile -t cr_files < <(grep -rl --include='*.yaml' -E '^kind: MnoConnection' e2e/kind examples deploy/argocd 2>/dev/null | sort)
[[ "${#cr_files[@]}" -gt 0 ]] || fail "no MnoConnection manifests found"
python3 .ci/validate_custom_resources.py --crd "$CRD" "${cr_files[@]}" \
  || fail "MnoConnection manifests do not match the CRD"

step "shellcheck"
mapfile -t scripts < <(
  git ls-files -z | while IFS= read -r -d '' f; do
    [[ -f "$f" ]] || continue
    if [[ "$f" == *.sh ]] || head -n1 "$f" | grep -Eq '^#!.*[/ ](ba|da|k)?sh( |$)'; then
      printf '%s\n' "$f"
    fi
  done
)
[[ "${#scripts[@]}" -gt 0 ]] || fail "no shell scripts found"
printf '  %s\n' "${scripts[@]}"
shellcheck --severity=style --external-sources "${scripts[@]}" || fail "shellcheck"

printf '\nk8s-checks: all checks passed\n'
