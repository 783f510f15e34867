import { setTimeout as sleep } from 'node:timers/promises';
import { DyffError, ErrorType } from './domain/errors.js';
import { SEARCH_ATTRIBUTES } from './domain/search-attributes.js';

/** The part of a client's or worker's connection that manages a namespace's search attributes. */
export interface SearchAttributeAdmin {
  listSearchAttributes(req: {
    namespace: string;
  }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
  addSearchAttributes(req: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
}

/** The part of a connection that runs visibility queries: how a registration checks that the attributes are usable. */
export interface VisibilityQuery {
  countWorkflowExecutions(req: { namespace: string; query: string }): Promise<unknown>;
}

export interface UsableOptions {
  /** Give up after this long. @default 60000 */
  timeoutMs?: number;
  /**
   * After the frontend accepts the attributes, wait this long more: each service (history validates the runs'
   * upserts) keeps its own namespace cache, refreshed every `system.namespaceCacheRefreshInterval` (2 s by default).
   * @default 2500
   */
  settleMs?: number;
}

/** `IndexedValueType` of the API for each key type the project uses. */
const INDEXED_VALUE_TYPE: Partial<Record<string, number>> = { TEXT: 1, KEYWORD: 2 };

/** The project's search attributes the namespace does not have yet. */
export async function missingSearchAttributes(
  admin: SearchAttributeAdmin,
  namespace: string,
): Promise<string[]> {
  const { customAttributes } = await admin.listSearchAttributes({ namespace });
  return SEARCH_ATTRIBUTES.map((k) => k.name).filter((name) => !(name in (customAttributes ?? {})));
}

/**
 * Register the project's search attributes on the namespace; idempotent (those already there are kept), so it
 * serves the dev server at every start, an existing database and `dyffctl setup` on any cluster. Returns the
 * names it added.
 */
export async function registerSearchAttributes(
  admin: SearchAttributeAdmin,
  namespace: string,
  usable?: { visibility: VisibilityQuery } & UsableOptions,
): Promise<string[]> {
  const missing = await missingSearchAttributes(admin, namespace);
  if (missing.length === 0) return [];
  await admin.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTES.filter((k) => missing.includes(k.name)).map((k) => [
        k.name,
        INDEXED_VALUE_TYPE[k.type]!,
      ]),
    ),
  });
  if (usable) await untilUsable(usable.visibility, namespace, missing, usable);
  return missing;
}

/**
 * Wait until attributes just added can be used. The server stores them at once, but its services read them from
 * caches: a cluster on Temporal's defaults (and every dev server the project starts, see `src/dev/latency.ts`)
 * refuses a run that sets one ("no mapping defined for search attribute …") until its namespace cache has
 * refreshed. A count query naming each attribute goes through the same check in the frontend; once it is
 * accepted, the other services' caches are given one more refresh period.
 */
export async function untilUsable(
  visibility: VisibilityQuery,
  namespace: string,
  names: string[],
  opts: UsableOptions = {},
): Promise<void> {
  const query = names.map((name) => `${name} = 'dyff-setup-probe'`).join(' OR ');
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    try {
      await visibility.countWorkflowExecutions({ namespace, query });
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new DyffError(
          ErrorType.NotConfigured,
          `namespace ${namespace}: the search attributes ${names.join(', ')} were registered but are still not ` +
            `usable (${(err as Error).message}); wait for the server's namespace cache to refresh and try again`,
        );
      await sleep(100);
    }
  }
  await sleep(opts.settleMs ?? 2500);
}

/**
 * A worker refuses to start on a namespace that lacks any of them: a workflow that sets an unregistered search
 * attribute fails its workflow task again and again, and the run would hang instead of saying why. A cluster that
 * does not let this identity list them is trusted.
 */
export async function requireSearchAttributes(admin: SearchAttributeAdmin, namespace: string): Promise<void> {
  let missing: string[];
  try {
    missing = await missingSearchAttributes(admin, namespace);
  } catch {
    return;
  }
  if (missing.length === 0) return;
  throw new DyffError(
    ErrorType.InvalidSpec,
    `namespace ${namespace} lacks the search attributes ${missing.join(', ')} that the workflows set; ` +
      'register them once with `dyffctl setup` (an operator of the cluster may have to)',
  );
}
