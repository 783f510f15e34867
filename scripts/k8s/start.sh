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
ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); API_PORT=$(free_port); KCM_PORT=$(free_port)

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

# --- processes (setsid: own process group, so stop.sh can end each one and its children) ---
launch() { # launch <name> <cmd...>
  local name=$1; shift
  setsid "$@" >"$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
}

launch etcd "$BIN/etcd" --name=dyff-test --data-dir="$DIR/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="dyff-test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level=warn

wait_for() { # wait_for <what> <cmd...>
  local what=$1; shift
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS > deadline )); then
      echo "start.sh: $what not ready after ${READY_TIMEOUT}s; logs in $DIR" >&2
      tail -n 30 "$DIR"/*.log >&2 || true
      "$HERE/stop.sh" "$DIR" || true
      exit 1
    fi
    sleep 0.3
  done
}
wait_for etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

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

wait_for kube-apiserver curl -sf --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
  "https://127.0.0.1:$API_PORT/readyz"

if [[ "$WITH_KCM" == 1 ]]; then
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
  wait_for kube-controller-manager curl -sfk "https://127.0.0.1:$KCM_PORT/healthz"
  # Ready means the service-account controller is at work: new namespaces get "default".
  wait_for "kube-controller-manager (default service account)" \
    "$BIN/kubectl" --kubeconfig="$DIR/kubeconfig" -n default get serviceaccount default
fi

echo "KUBECONFIG=$DIR/kubeconfig"
