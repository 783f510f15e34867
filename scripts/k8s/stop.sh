#!/usr/bin/env bash
# Stop what scripts/k8s/start.sh started in <state-dir> (by the pids it recorded), then
# remove the state dir unless DYFF_K8S_KEEP=1.
set -uo pipefail
DIR="${1:?usage: stop.sh <state-dir>}"
[[ -d "$DIR" ]] || exit 0

stop_one() { # SIGTERM the process group, SIGKILL after 10 s
  local f="$DIR/$1.pid"
  [[ -f "$f" ]] || return 0
  local pid; pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}
# Reverse start order: clients before the servers they talk to.
stop_one kube-controller-manager
stop_one kube-apiserver
stop_one etcd
[[ "${DYFF_K8S_KEEP:-0}" == 1 ]] || rm -rf "$DIR"
