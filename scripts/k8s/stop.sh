#!/usr/bin/env bash
# Stop what scripts/k8s/start.sh started in <state-dir> (by the pids it recorded; each runs in its own process
# group), then remove the state dir unless DYFF_K8S_KEEP=1. The control plane is throw-away, so all three get
# SIGTERM at once (≈3 s instead of ≈7 s one after the other), and SIGKILL after 10 s.
set -uo pipefail
DIR="${1:?usage: stop.sh <state-dir>}"
[[ -d "$DIR" ]] || exit 0

pids=()
for name in kube-controller-manager kube-apiserver etcd; do
  f="$DIR/$name.pid"
  [[ -f "$f" ]] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    pids+=("$pid")
  fi
  rm -f "$f"
done
for pid in "${pids[@]}"; do
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
done
[[ "${DYFF_K8S_KEEP:-0}" == 1 ]] || rm -rf "$DIR"
