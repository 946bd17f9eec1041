#!/usr/bin/env bash
# scripts/e2e-env.sh: a real kube-apiserver backed by etcd on 127.0.0.1 for
# casebook's live end-to-end tests.
#
#   eval "$(scripts/e2e-env.sh up)"   # prints export lines on stdout, logs on stderr
#   go test ./...                     # the e2e tests read CASEBOOK_E2E_KUBECONFIG
#   scripts/e2e-env.sh down
#
# up installs etcd (Debian's etcd-server) if it is missing, builds
# kube-apiserver v1.37.2 once from the e2e/tools module into
# $CASEBOOK_CACHE (default ~/.cache/casebook; later runs reuse it), makes
# certificates and keys with openssl, starts etcd and kube-apiserver on free
# loopback ports, waits until the API server is ready and writes an admin
# kubeconfig (token auth). Only the API server runs: no scheduler,
# controller-manager or kubelet. down stops what up started and removes
# its working directory.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K8S_VERSION="v1.37.2"
CACHE="${CASEBOOK_CACHE:-$HOME/.cache/casebook}"
APISERVER="$CACHE/kube-apiserver-$K8S_VERSION"
WORK="${CASEBOOK_E2E_WORK:-$ROOT/e2e/.work}"

log() { echo "e2e-env: $*" >&2; }

. "$ROOT/scripts/env-lib.sh"

ensure_tools() {
  local missing=()
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
  fi
}

build_apiserver() {
  if [ -x "$APISERVER" ]; then
    return
  fi
  log "building kube-apiserver $K8S_VERSION into $CACHE (once; about 5 minutes on 2 cores)"
  mkdir -p "$CACHE"
  (cd "$ROOT/e2e/tools" && go build -trimpath \
    -ldflags "-X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
    -o "$APISERVER.tmp" k8s.io/kubernetes/cmd/kube-apiserver) >&2
  mv "$APISERVER.tmp" "$APISERVER"
}

make_certs() {
  local d="$WORK/pki"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=casebook-e2e-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$d/san.ext"
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/san.ext" -out "$d/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
}

wait_ready() {
  local url="$1" token="$2"
  for _ in $(seq 1 120); do
    if curl -fsS --cacert "$WORK/pki/ca.crt" -H "Authorization: Bearer $token" "$url/readyz" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$(cat "$WORK/apiserver.pid")" 2>/dev/null; then
      log "kube-apiserver exited; last log lines:"
      tail -20 "$WORK/apiserver.log" >&2
      return 1
    fi
    sleep 1
  done
  log "kube-apiserver not ready after 120s; last log lines:"
  tail -20 "$WORK/apiserver.log" >&2
  return 1
}

up() {
  if [ -f "$WORK/apiserver.pid" ] && kill -0 "$(cat "$WORK/apiserver.pid")" 2>/dev/null; then
    log "already up"
    cat "$WORK/env"
    return
  fi
  ensure_tools
  build_apiserver
  rm -rf "$WORK"
  mkdir -p "$WORK"
  make_certs

  local etcd_port peer_port api_port token
  etcd_port=$(free_port)
  peer_port=$(free_port)
  api_port=$(free_port)
  token=$(openssl rand -hex 24)
  printf '%s,casebook-e2e-admin,casebook-e2e-admin,system:masters\n' "$token" >"$WORK/tokens.csv"

  etcd --name casebook-e2e --data-dir "$WORK/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "casebook-e2e=http://127.0.0.1:$peer_port" \
    --quota-backend-bytes 4294967296 >"$WORK/etcd.log" 2>&1 &
  echo $! >"$WORK/etcd.pid"

  # --advertise-address must not be loopback; 192.0.2.1 is a documentation
  # address (RFC 5737): it is only written into the kubernetes Endpoints and
  # nothing ever connects to it.
  "$APISERVER" \
    --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address=192.0.2.1 \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$WORK/pki/apiserver.crt" --tls-private-key-file="$WORK/pki/apiserver.key" \
    --client-ca-file="$WORK/pki/ca.crt" \
    --token-auth-file="$WORK/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$WORK/pki/sa.pub" --service-account-signing-key-file="$WORK/pki/sa.key" \
    --service-cluster-ip-range=10.43.0.0/16 \
    --allow-privileged=true \
    --max-requests-inflight=800 --max-mutating-requests-inflight=400 \
    >"$WORK/apiserver.log" 2>&1 &
  echo $! >"$WORK/apiserver.pid"

  local url="https://127.0.0.1:$api_port"
  wait_ready "$url" "$token"
  cat >"$WORK/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: casebook-e2e
  cluster:
    server: $url
    certificate-authority: $WORK/pki/ca.crt
users:
- name: casebook-e2e-admin
  user:
    token: $token
contexts:
- name: casebook-e2e
  context:
    cluster: casebook-e2e
    user: casebook-e2e-admin
current-context: casebook-e2e
EOF
  cat >"$WORK/env" <<EOF
export CASEBOOK_E2E_KUBECONFIG=$WORK/kubeconfig
export CASEBOOK_E2E_WORK=$WORK
EOF
  log "kube-apiserver $K8S_VERSION ready at $url (etcd 127.0.0.1:$etcd_port); kubeconfig $WORK/kubeconfig"
  cat "$WORK/env"
}

down() {
  stop_pid "$WORK/apiserver.pid"
  stop_pid "$WORK/etcd.pid"
  rm -rf "$WORK"
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  build) ensure_tools; build_apiserver ;;
  *) echo "usage: $0 up|down|build" >&2; exit 2 ;;
esac
