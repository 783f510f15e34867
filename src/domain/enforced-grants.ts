import { SESSION_ENTRY, STEP_CATALOGUE, grantsOf, isStepName } from './step-catalogue.js';
import type { Grant } from './step-contract.js';
import { WORKER_IDENTITY, workloadIdentities } from './identities.js';

/**
 * Who calls the object store, and with which grants, when `storage.enforceGrants` is on: a step program by its
 * catalogue entry, the inference session, or the worker. `storage.withholdGrants` takes grants away again, one
 * `<caller>:<category>:<pattern>` each (`evaluate:outputs:<id>/`): a test proves that a step needs a grant, an
 * operator rehearses a narrower IAM plan before applying it.
 */

export const SESSION_CALLER = 'session';
export type GrantCaller = string;

export interface CallerGrants {
  /** The identity named in denials (`evaluation-client`, `dyff-worker`). */
  identity: string;
  grants: Grant[];
}

function catalogueGrants(caller: GrantCaller): CallerGrants | undefined {
  if (isStepName(caller)) {
    const entry = STEP_CATALOGUE[caller];
    return { identity: entry.identity, grants: grantsOf(entry) };
  }
  if (caller === SESSION_CALLER)
    return { identity: SESSION_ENTRY.identity, grants: [...SESSION_ENTRY.grants] };
  if (caller === WORKER_IDENTITY) {
    const worker = workloadIdentities().find((w) => w.kind === 'worker');
    return worker && { identity: worker.name, grants: worker.grants };
  }
  return undefined;
}

const grantId = (caller: GrantCaller, g: Grant) => `${caller}:${g.category}:${g.prefix}`;

/** A caller's grants from the catalogue, less the withheld ones. */
export function callerGrants(caller: GrantCaller, withheld: readonly string[] = []): CallerGrants {
  const found = catalogueGrants(caller);
  if (!found) throw new Error(`no grants are declared for ${JSON.stringify(caller)} (step catalogue)`);
  return { ...found, grants: found.grants.filter((g) => !withheld.includes(grantId(caller, g))) };
}

/** Why a `storage.withholdGrants` entry is wrong, or undefined when it names a grant of the catalogue. */
export function withheldGrantProblem(entry: string): string | undefined {
  const caller = entry.split(':')[0] ?? '';
  const found = catalogueGrants(caller);
  if (!found)
    return `${JSON.stringify(entry)}: expected <step|${SESSION_CALLER}|${WORKER_IDENTITY}>:<category>:<prefix pattern>`;
  const ids = found.grants.map((g) => grantId(caller, g));
  if (!ids.includes(entry)) return `${JSON.stringify(entry)}: no such grant; ${caller} has ${ids.join(', ')}`;
  return undefined;
}
