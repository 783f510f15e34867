#!/usr/bin/env bash
# Start a throw-away control plane on loopback: etcd, kube-apiserver and (unless
# DYFF_K8S_CONTROLLER_MANAGER=0) kube-controller-manager, with self-signed certs,
# RBAC, a static token file holding one admin token, and service-account keys.
#
#   scripts/k8s/start.sh <state-dir>     # prints KUBECONFIG=<state-dir>/kubeconfig
#   scripts/k8s/stop.sh <state-dir>
#
# The state dir gets: pki/ (CA, serving and client certs, SA keys, the fake kubelet's
# serving cert), tokens.csv, kubeconfig (admin), env (ports), *.pid, *.log, etcd/.
# Binaries come from scripts/k8s/build.sh (DYFF_K8S_BIN overrides the directory).
# Nothing is bound outside 127.0.0.1. No kubelet and no scheduler run here: tests
# play those parts with test/support/k8s-fake-kubelet.ts.
set -euo pipefail

DIR="${1:?usage: start.sh <state-dir>}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${DYFF_K8S_BIN:-$("$HERE/build.sh" --print)/bin}"
WITH_KCM="${DYFF_K8S_CONTROLLER_MANAGER:-1}"
READY_TIMEOUT="${DYFF_K8S_READY_TIMEOUT:-90}"

for b in etcd kube-apiserver kubectl; do
  [[ -x "$BIN/$b" ]] || { echo "start.sh: $BIN/$b is missing: run scripts/k8s/build.sh first" >&2; exit 2; }
done
if [[ "$WITH_KCM" == 1 && ! -x "$BIN/kube-controller-manager" ]]; then
  echo "start.sh: $BIN/kube-controller-manager is missing: run scripts/k8s/build.sh first" >&2; exit 2
fi

mkdir -p "$DIR/pki" "$DIR/etcd"
DIR="$(cd "$DIR" && pwd)"
PKI="$DIR/pki"
chmod 700 "$DIR" "$DIR/etcd"

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

# --- certificates (openssl, one CA for everything; 2 days is plenty for a test run) ---
ossl() { openssl "$@" >/dev/null 2>&1 || { echo "start.sh: openssl $1 failed" >&2; openssl "$@"; exit 1; }; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dyff-test-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt"
# cert <name> <subject> [subjectAltName]: a leaf signed by the CA
cert() {
  local name=$1 subj=$2 san=${3:-}
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$name.key" -out "$PKI/$name.csr"
  local ext="$PKI/$name.ext"
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    if [[ -n "$san" ]]; then echo "extendedKeyUsage=serverAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 2 -extfile "$ext" -out "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$ext"
}
cert apiserver "/CN=kube-apiserver" \
  "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
cert apiserver-kubelet-client "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client"
cert controller-manager "/CN=system:kube-controller-manager"
# Served by the fake kubelet so that `kubectl logs` / pods/log work through the real apiserver.
cert kubelet "/CN=system:node:fake-node/O=system:nodes" "IP:127.0.0.1,DNS:localhost,DNS:fake-node"
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
chmod 600 "$PKI"/*.key

# The admin token and nothing else: every other identity is a cert or a service account.
ADMIN_TOKEN=$(openssl rand -hex 32)
echo "${ADMIN_TOKEN},dyff-admin,dyff-admin-uid,system:masters" > "$DIR/tokens.csv"
chmod 600 "$DIR/tokens.csv"

kubeconfig() { # kubeconfig <file> <user-args...>
  local f=$1; shift
  "$BIN/kubectl" --kubeconfig="$f" config set-cluster dyff-test --server="https://127.0.0.1:$API_PORT" \
    --certificate-authority="$PKI/ca.crt" --embed-certs=true >/dev/null
  "$BIN/kubectl" --kubeconfig="$f" config set-credentials user "$@" >/dev/null
  "$BIN/kubectl" --kubeconfig="$f" config set-context dyff-test --cluster=dyff-test --user=user >/dev/null
  "$BIN/kubectl" --kubeconfig="$f" config use-context dyff-test >/dev/null
  chmod 600 "$f"
}
write_config() { # the kubeconfigs and env name the ports, so they are written again when a port changes
  kubeconfig "$DIR/kubeconfig" --token="$ADMIN_TOKEN"
  kubeconfig "$DIR/controller-manager.kubeconfig" --client-certificate="$PKI/controller-manager.crt" \
    --client-key="$PKI/controller-manager.key" --embed-certs=true
  cat > "$DIR/env" <<ENV
ETCD_PORT=$ETCD_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
API_SERVER=https://127.0.0.1:$API_PORT
KUBECONFIG=$DIR/kubeconfig
WITH_KCM=$WITH_KCM
BIN=$BIN
ENV
}

# --- processes (setsid: own process group, so stop.sh can end each one and its children) ---
launch() { # launch <name> <cmd...>
  local name=$1; shift
  setsid "$@" >"$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
}

fail() {
  echo "start.sh: $1; logs in $DIR" >&2
  tail -n 30 "$DIR"/*.log >&2 || true
  "$HERE/stop.sh" "$DIR" || true
  exit 1
}

# wait_up <name> <cmd...>: 0 once <cmd> succeeds (each check has its own time limit: a port held by something else
# may accept and never answer), 1 if the process <name> exits first, 2 after READY_TIMEOUT.
wait_up() {
  local name=$1; shift
  local pid; pid=$(cat "$DIR/$name.pid")
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || return 1
    (( SECONDS > deadline )) && return 2
    sleep 0.3
  done
}

# bring_up <name>: start_<name> launches it, ready_<name> waits for it. free_port's ports are only free when it
# looks: another process on the machine (a test suite starts many) can bind one before ours does, and ours then
# exits at once ("bind: address already in use"). A process that exits before it is ready is started again on
# fresh ports, up to three times; one that stays up but is not ready in READY_TIMEOUT fails the start.
bring_up() {
  local name=$1 try rc
  for try in 1 2 3; do
    "start_$name"
    rc=0; "ready_$name" || rc=$?
    (( rc == 0 )) && return 0
    (( rc == 2 )) && fail "$name not ready after ${READY_TIMEOUT}s"
    cp "$DIR/$name.log" "$DIR/$name.exit-$try.log"
    echo "start.sh: $name exited before it was ready (try $try of 3): $(tail -n 1 "$DIR/$name.log")" >&2
  done
  fail "$name exited before it was ready, three times"
}

start_etcd() {
  ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port)
  rm -rf "$DIR/etcd"; mkdir -p "$DIR/etcd"; chmod 700 "$DIR/etcd"
  launch etcd "$BIN/etcd" --name=dyff-test --data-dir="$DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="dyff-test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level=warn
}
ready_etcd() { wait_up etcd curl -sf -m 5 "http://127.0.0.1:$ETCD_PORT/health"; }

start_kube-apiserver() {
  API_PORT=$(free_port)
  write_config
  launch kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$DIR/tokens.csv" --anonymous-auth=false \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --allow-privileged=false --profiling=false --enable-priority-and-fairness=false
}
ready_kube-apiserver() {
  wait_up kube-apiserver curl -sf -m 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "https://127.0.0.1:$API_PORT/readyz"
}

start_kube-controller-manager() {
  KCM_PORT=$(free_port)
  write_config
  # Only the controllers a Job/Deployment lifecycle needs; node-lifecycle would taint the fake node.
  launch kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
    --use-service-account-credentials=true --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --controllers=job-controller,garbage-collector-controller,ttl-after-finished-controller,serviceaccount-controller,serviceaccount-token-controller,deployment-controller,replicaset-controller,endpointslice-controller,namespace-controller \
    --concurrent-job-syncs=10 --profiling=false
}
ready_kube-controller-manager() {
  wait_up kube-controller-manager curl -sfk -m 5 "https://127.0.0.1:$KCM_PORT/healthz" || return
  # Ready means the service-account controller is at work: new namespaces get "default".
  wait_up kube-controller-manager "$BIN/kubectl" --kubeconfig="$DIR/kubeconfig" --request-timeout=5s -n default get serviceaccount default
}

KCM_PORT=0
bring_up etcd
bring_up kube-apiserver
[[ "$WITH_KCM" == 1 ]] && bring_up kube-controller-manager

echo "KUBECONFIG=$DIR/kubeconfig"
