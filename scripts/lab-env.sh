#!/usr/bin/env bash
# scripts/lab-env.sh: a lab cluster on 127.0.0.1 for casebook's reproduction
# tests (e2e/lab_test.go) and for trying `casebook reproduce` by hand.
#
#   eval "$(scripts/lab-env.sh up)"   # export lines on stdout, logs on stderr
#   go test ./e2e -run Lab            # the lab tests read CASEBOOK_LAB_KUBECONFIG
#   scripts/lab-env.sh down
#
# It is a second, separate API server (scripts/e2e-env.sh with its own work
# directory, so the fixture tests' server never sees a controller), and on
# top of it what a real cluster runs:
#
#   - kube-controller-manager and kube-scheduler v1.37.2, built from
#     k8s.io/kubernetes in the e2e/tools module (the same module and replace
#     set as the API server) in one `go build`, cached beside it;
#   - kwok (sigs.k8s.io/kwok, `go install` from the module proxy) managing
#     three simulated nodes shaped like a K3s cluster: a tainted server and an
#     arm64 and an amd64 agent, with k3s.io/node-args, flannel annotations and
#     status.runtimeHandlers; its stages are kwok's own (read from the module
#     cache) plus the lab's in e2e/lab/stages.yaml.
#
# Everything listens on 127.0.0.1 only. Binaries are cached in
# $CASEBOOK_CACHE (default ~/.cache/casebook); `build` only builds them.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K8S_VERSION="v1.37.2"
KWOK_VERSION="v0.8.0"
CACHE="${CASEBOOK_CACHE:-$HOME/.cache/casebook}"
KCM="$CACHE/kube-controller-manager-$K8S_VERSION"
SCHED="$CACHE/kube-scheduler-$K8S_VERSION"
KWOK="$CACHE/kwok-$KWOK_VERSION"
WORK="${CASEBOOK_LAB_WORK:-$ROOT/e2e/.lab}"

log() { echo "lab-env: $*" >&2; }

. "$ROOT/scripts/env-lib.sh"

build() {
  "$ROOT/scripts/e2e-env.sh" build
  mkdir -p "$CACHE"
  if [ ! -x "$KCM" ] || [ ! -x "$SCHED" ]; then
    log "building kube-controller-manager and kube-scheduler $K8S_VERSION into $CACHE (once)"
    local tmp
    tmp=$(mktemp -d "$CACHE/build.XXXXXX")
    (cd "$ROOT/e2e/tools" && go build -trimpath \
      -ldflags "-X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
      -o "$tmp/" k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler) >&2
    mv "$tmp/kube-controller-manager" "$KCM"
    mv "$tmp/kube-scheduler" "$SCHED"
    rmdir "$tmp"
  fi
  if [ ! -x "$KWOK" ]; then
    log "building kwok $KWOK_VERSION into $CACHE (once)"
    local tmp
    tmp=$(mktemp -d "$CACHE/build.XXXXXX")
    (cd "$tmp" && GOBIN="$tmp" GOFLAGS=-trimpath go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") >&2
    mv "$tmp/kwok" "$KWOK"
    rmdir "$tmp"
  fi
}

# kwok_config writes kwok's stages: its own (from the module cache, as the
# module proxy served them) and the lab's.
kwok_config() {
  local src
  src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  if [ ! -d "$src" ]; then
    (cd "$WORK" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION") >&2 || true
  fi
  local f first=1
  : >"$WORK/kwok.yaml"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/general/pod-create.yaml pod/general/pod-init-container-running.yaml \
    pod/general/pod-init-container-completed.yaml pod/general/pod-ready.yaml \
    pod/general/pod-complete.yaml pod/general/pod-delete.yaml \
    pod/chaos/pod-container-running-failed.yaml; do
    [ "$first" = 1 ] || echo "---" >>"$WORK/kwok.yaml"
    first=0
    # The stock pod stages wait 1 s plus up to 5 s of jitter at each step
    # (create, ready, complete); the lab waits 0.2 s plus up to 0.5 s so a
    # rollout of a few pods takes seconds, not a minute.
    case "$f" in
      pod/general/*) sed -e 's/durationMilliseconds: 1000$/durationMilliseconds: 200/' \
        -e 's/jitterDurationMilliseconds: 5000$/jitterDurationMilliseconds: 500/' "$src/$f" >>"$WORK/kwok.yaml" ;;
      *) cat "$src/$f" >>"$WORK/kwok.yaml" ;;
    esac
  done
  echo "---" >>"$WORK/kwok.yaml"
  cat "$ROOT/e2e/lab/stages.yaml" >>"$WORK/kwok.yaml"
}

start() {
  local name="$1"
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  echo $! >"$WORK/$name.pid"
}

api() {
  local method="$1" path="$2"
  shift 2
  curl -fsS --cacert "$WORK/base/pki/ca.crt" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" -X "$method" "$URL$path" "$@"
}

wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  log "$what not ready after ${tries}s"
  for f in "$WORK"/*.log; do
    log "--- $f"
    tail -15 "$f" >&2
  done
  return 1
}

nodes_ready() {
  local n
  n=$(api GET /api/v1/nodes | grep -c '"type": "Ready"' || true)
  [ "$n" -ge 3 ] && [ "$(api GET /api/v1/nodes | grep -A1 '"type": "Ready"' | grep -c '"status": "True"')" -ge 3 ]
}

up() {
  if [ -f "$WORK/kwok.pid" ] && kill -0 "$(cat "$WORK/kwok.pid")" 2>/dev/null; then
    log "already up"
    cat "$WORK/env"
    return
  fi
  local t0=$SECONDS
  build
  rm -rf "$WORK"
  mkdir -p "$WORK"
  CASEBOOK_E2E_WORK="$WORK/base" "$ROOT/scripts/e2e-env.sh" up >/dev/null
  local kc="$WORK/base/kubeconfig"
  URL=$(sed -n 's/^ *server: //p' "$kc")
  TOKEN=$(sed -n 's/^ *token: //p' "$kc")

  local kcm_port sched_port kwok_port
  kcm_port=$(free_port)
  sched_port=$(free_port)
  kwok_port=$(free_port)
  start kube-controller-manager "$KCM" --kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --leader-elect=false \
    --service-account-private-key-file="$WORK/base/pki/sa.key" --root-ca-file="$WORK/base/pki/ca.crt" \
    --use-service-account-credentials=false --cluster-name=casebook-lab \
    --concurrent-deployment-syncs=5 --node-monitor-grace-period=60s
  start kube-scheduler "$SCHED" --kubeconfig="$kc" \
    --bind-address=127.0.0.1 --secure-port="$sched_port" --leader-elect=false
  kwok_config
  start kwok "$KWOK" --config="$WORK/kwok.yaml" --kubeconfig="$kc" \
    --manage-all-nodes=true --server-address="127.0.0.1:$kwok_port" \
    --node-ip=127.0.0.1 --node-lease-duration-seconds=40

  local n
  for n in "$ROOT"/e2e/lab/nodes/*.json; do
    api POST /api/v1/nodes -d @"$n" >/dev/null
  done
  wait_for "nodes" 60 nodes_ready
  wait_for "scheduler" 30 curl -fsSk "https://127.0.0.1:$sched_port/healthz"
  wait_for "controller-manager" 30 curl -fsSk "https://127.0.0.1:$kcm_port/healthz"
  # The controller-manager's ServiceAccount controller makes "default";
  # pods cannot be created in a namespace before it has.
  wait_for "default ServiceAccount" 30 api GET /api/v1/namespaces/default/serviceaccounts/default

  cat >"$WORK/env" <<EOF
export CASEBOOK_LAB_KUBECONFIG=$kc
export CASEBOOK_LAB_WORK=$WORK
EOF
  log "lab up in $((SECONDS - t0))s: API server $URL, controller-manager :$kcm_port, scheduler :$sched_port, kwok :$kwok_port, 3 nodes; kubeconfig $kc"
  cat "$WORK/env"
}

down() {
  stop_pid "$WORK/kwok.pid"
  stop_pid "$WORK/kube-scheduler.pid"
  stop_pid "$WORK/kube-controller-manager.pid"
  CASEBOOK_E2E_WORK="$WORK/base" "$ROOT/scripts/e2e-env.sh" down 2>/dev/null || true
  rm -rf "$WORK"
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  build) build ;;
  *) echo "usage: $0 up|down|build" >&2; exit 2 ;;
esac
