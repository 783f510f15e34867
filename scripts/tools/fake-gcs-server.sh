#!/usr/bin/env bash
# Builds fake-gcs-server (a local GCS API emulator) once from the Go module proxy and prints the binary's path.
# Only the Go module proxy is reachable on the project's machines, so the release binaries and the Docker image are
# not an option; the build is cached outside the repository and reused by the tests and the bench.
#
#   scripts/tools/fake-gcs-server.sh            # build if needed (about a minute), print the path
#   scripts/tools/fake-gcs-server.sh --path     # print the path only if it is already built; exit 1 otherwise
#   FAKE_GCS_SERVER_VERSION=v1.55.0 scripts/tools/fake-gcs-server.sh
set -euo pipefail

# v1.55.1 is the newest v1.55 patch on the module proxy (`go list -m -versions github.com/fsouza/fake-gcs-server`).
version="${FAKE_GCS_SERVER_VERSION:-v1.55.1}"
cache="${DYFF_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dyff-temporal}"
dir="$cache/fake-gcs-server-$version"
bin="$dir/fake-gcs-server"

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1 && command -v fake-gcs-server >/dev/null 2>&1; then
  command -v fake-gcs-server
  exit 0
fi
if [[ "${1:-}" == "--path" ]]; then
  echo "fake-gcs-server.sh: $bin is not built yet; run scripts/tools/fake-gcs-server.sh" >&2
  exit 1
fi
if ! command -v go >/dev/null 2>&1; then
  echo "fake-gcs-server.sh: Go is not installed and no fake-gcs-server is on PATH." >&2
  echo "  Install Go 1.25+ and run this script again." >&2
  exit 1
fi

mkdir -p "$dir"
echo "fake-gcs-server.sh: building github.com/fsouza/fake-gcs-server@$version into $dir (one time)" >&2
start=$(date +%s)
# Build into a temporary directory and rename, so that an interrupted build never leaves a half-written binary
# that the `-x` check above would accept.
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="${GOFLAGS:--buildvcs=false}" \
  nice -n 10 go install "github.com/fsouza/fake-gcs-server@$version"
mv "$tmp/fake-gcs-server" "$bin"
echo "fake-gcs-server.sh: built in $(($(date +%s) - start))s" >&2
echo "$bin"
