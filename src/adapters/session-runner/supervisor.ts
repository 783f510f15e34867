/**
 * The shell that keeps a local session's server running, as a Deployment's ReplicaSet keeps its pod: a server
 * killed from outside (by a signal: `kill -9`, the OOM killer) is started again on the same port, so the endpoint
 * an evaluation already sends to stays valid. Any other ending (exit 0 after SIGTERM, exit 1 for a model that
 * cannot load) is the server's own verdict and ends the session, so a broken service fails fast with its log.
 * Restarts are bounded; each one is counted in `<dir>/restarts` and said in the session's log.
 *
 * `stop()` signals the whole process group: this shell has no trap, so it dies with its server.
 */
export const MAX_SESSION_RESTARTS = 5;

export const SESSION_SUPERVISOR = [
  'd="$1"; shift; n=0',
  'while :; do',
  '  "$@" >>"$d/output.log" 2>&1 </dev/null; c=$?',
  `  if [ "$c" -le 128 ] || [ "$n" -ge ${MAX_SESSION_RESTARTS} ] || [ -e "$d/stopped" ]; then exit "$c"; fi`,
  '  n=$((n+1)); echo "$n" >"$d/restarts.tmp"; mv "$d/restarts.tmp" "$d/restarts"',
  `  echo "session: the server was killed by signal $((c-128)); restart $n of ${MAX_SESSION_RESTARTS}" >>"$d/output.log"`,
  '  sleep 1',
  'done',
].join('\n');
