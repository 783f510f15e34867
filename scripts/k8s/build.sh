#!/usr/bin/env bash
# Build the test control plane (etcd, kube-apiserver, kube-controller-manager, kubectl)
# from the Go module proxy into $HOME/.cache/dyff-temporal/k8s-<version>/bin, once.
#
#   scripts/k8s/build.sh            # build if missing, print the directory
#   scripts/k8s/build.sh --force    # rebuild
#   scripts/k8s/build.sh --print    # print the directory only
#
# Wall-clock time and peak memory of the build (GNU time -v) go to build.log there.
# Runs under `nice -n 15` with CGO_ENABLED=0; needs Go >= 1.26 and the module proxy.
set -euo pipefail

K8S_VERSION=v1.37.2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOD_DIR="$ROOT/tools/k8s"
OUT="${DYFF_K8S_DIR:-${HOME}/.cache/dyff-temporal/k8s-${K8S_VERSION}}"
BIN="$OUT/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)

if [[ "${1:-}" == "--print" ]]; then
  echo "$OUT"
  exit 0
fi

have_all() {
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if [[ "${1:-}" != "--force" ]] && have_all; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: go is not on PATH" >&2; exit 1; }
mkdir -p "$BIN"

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
VPKG_K=k8s.io/component-base/version
VPKG_C=k8s.io/client-go/pkg/version
LDFLAGS="-s -w"
for p in "$VPKG_K" "$VPKG_C"; do
  LDFLAGS+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=${minor}"
  LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
cd "$MOD_DIR"

# One `go build` for everything: the shared dependency graph compiles once.
set +e
/usr/bin/time -v -o "$OUT/build.time" \
  nice -n 15 go build -trimpath -ldflags "$LDFLAGS" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl \
    go.etcd.io/etcd/server/v3 \
  2>&1 | tee "$OUT/build.log"
status=${PIPESTATUS[0]}
set -e
# The etcd main package is the module root go.etcd.io/etcd/server/v3, so Go names the binary "server".
if [[ -x "$BIN/server" ]]; then mv -f "$BIN/server" "$BIN/etcd"; fi

{
  echo "k8s=${K8S_VERSION} etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3) go=$(go env GOVERSION)"
  grep -E 'Elapsed \(wall clock\)|Maximum resident set size|Exit status' "$OUT/build.time" || true
} | tee "$OUT/build.summary"
[[ $status -eq 0 ]] || { echo "build.sh: go build failed ($status)" >&2; exit "$status"; }
have_all || { echo "build.sh: binaries missing in $BIN" >&2; exit 1; }
echo "$OUT"
