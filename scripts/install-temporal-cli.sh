#!/usr/bin/env bash
# Builds the pinned Temporal CLI (dev server + UI) once into a cache outside the repository and prints its path.
# Order: $TEMPORAL_CLI_PATH, the cache, `temporal` on PATH, a build with Go. Exit 3 when none is possible, so the
# caller can fall back to the SDK's own download on a machine with internet and no Go.
set -euo pipefail
VERSION="${TEMPORAL_CLI_VERSION:-1.5.1}"
CACHE="${DYFF_CACHE_DIR:-$HOME/.cache/dyff-temporal}/temporal-v$VERSION"
BIN="$CACHE/temporal"

if [[ -n "${TEMPORAL_CLI_PATH:-}" ]]; then
  [[ -x "$TEMPORAL_CLI_PATH" ]] || { echo "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable" >&2; exit 2; }
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi

GO="$(command -v go || true)"
[[ -z "$GO" && -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go
if [[ -z "$GO" ]]; then
  echo "no Temporal CLI and no Go toolchain: falling back to the SDK's download" >&2
  exit 3
fi
mkdir -p "$CACHE"
echo "building Temporal CLI v$VERSION into $CACHE (once; a few minutes)…" >&2
# v1.5.1 is the newest tag whose go.mod has no replace directive, which `go install pkg@version` requires.
CGO_ENABLED=0 GOBIN="$CACHE" "$GO" install \
  -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
  "github.com/temporalio/cli/cmd/temporal@v$VERSION" >&2
"$BIN" --version >&2
echo "$BIN"
