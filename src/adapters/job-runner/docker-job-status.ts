import type Docker from 'dockerode';
import type { JobEnding } from '../../domain/job-outcome.js';
import { failedExitOutcome } from '../../domain/job-outcome.js';
import type { JobStatus } from '../../ports/job-runner.js';
import { LABEL_DEADLINE } from '../docker/hardening.js';
import { parseLogTail } from './log-tail.js';

/** The engine's zero time: a container never started (or not yet finished). */
const ZERO = '0001-01-01T00:00:00Z';
const time = (t: string | undefined) => (t && t !== ZERO ? t : undefined);

/**
 * A job's status from the container's inspect data and its output. Endings are typed as the Kubernetes runner
 * types a pod's: OOMKilled is `oom`, a kill by this runner on cancel is `cancelled`, a signal death past the job's
 * deadline label is `deadline`, and any other exit code reads as `failedExitOutcome` reads it.
 */
export function containerJobStatus(
  name: string,
  info: Docker.ContainerInspectInfo,
  output: string,
  cancelled: boolean,
): JobStatus {
  const tail = parseLogTail(output);
  const state = info.State;
  const base = {
    name,
    startTime: time(state.StartedAt) ?? info.Created,
    logTail: tail.lines,
    ...(tail.progress ? { progress: tail.progress } : {}),
  };
  if (state.Status === 'created') {
    return cancelled
      ? { ...base, phase: 'failed', outcome: 'cancelled', reason: 'cancelled' }
      : { ...base, phase: 'pending' };
  }
  if (state.Status !== 'exited' && state.Status !== 'dead') {
    return cancelled
      ? { ...base, phase: 'failed', outcome: 'cancelled', reason: 'cancelled' }
      : { ...base, phase: 'running' };
  }
  const completionTime = time(state.FinishedAt);
  const code = state.ExitCode;
  if (code === 0 && !state.OOMKilled) {
    return { ...base, phase: 'succeeded', outcome: 'succeeded', exitCode: 0, completionTime };
  }
  return { ...base, phase: 'failed', exitCode: code, completionTime, ...ending(info, code, cancelled) };
}

function ending(info: Docker.ContainerInspectInfo, code: number, cancelled: boolean): JobEnding {
  if (cancelled) return { outcome: 'cancelled', reason: 'cancelled' };
  if (info.State.OOMKilled)
    return { outcome: 'oom', reason: 'OOMKilled: the step used more than its memory limit' };
  const deadline = Number(info.Config.Labels?.[LABEL_DEADLINE] ?? 0);
  const started = Date.parse(info.State.StartedAt);
  const finished = Date.parse(info.State.FinishedAt);
  if (deadline && code > 128 && finished - started >= deadline * 1000) {
    return {
      outcome: 'deadline',
      reason: `deadline exceeded: ran longer than activeDeadlineSeconds=${deadline}`,
    };
  }
  const outcome = failedExitOutcome(code);
  if (outcome === 'signal') return { outcome, reason: `killed by signal ${code - 128}` };
  if (outcome === 'transient') return { outcome, reason: `exit code ${code} (transient failure)` };
  return { outcome, reason: `exit code ${code}` };
}
