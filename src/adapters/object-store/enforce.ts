import type { Config } from '../../config.js';
import { callerGrants } from '../../domain/enforced-grants.js';
import type { GrantCaller } from '../../domain/enforced-grants.js';
import type { Bindings } from '../../domain/grant-scope.js';
import { scopeGrants } from '../../domain/grant-scope.js';
import type { ObjectStore } from '../../ports/object-store.js';
import { GrantEnforcingObjectStore } from './grant-enforcing.js';

/**
 * The store a caller gets: the store itself, or with `storage.enforceGrants` on, the store restricted to the
 * caller's grants (a step by its catalogue entry, `session`, or `dyff-worker`), their patterns filled in by
 * `bindings` and less `storage.withholdGrants`.
 *
 *   const store = storeFor(objectStore, config, 'evaluate', stepBindings(id, spec, options));
 */
export function storeFor(
  store: ObjectStore,
  config: Pick<Config, 'storage'>,
  caller: GrantCaller,
  bindings: Bindings,
): ObjectStore {
  if (!config.storage.enforceGrants) return store;
  const { identity, grants } = callerGrants(caller, config.storage.withholdGrants);
  return new GrantEnforcingObjectStore(store, { identity, grants: scopeGrants(grants, bindings) });
}

/** The calls an enforcing store refused so far (none for a store that does not enforce). */
export function deniedCalls(store: ObjectStore): readonly string[] {
  return store instanceof GrantEnforcingObjectStore ? store.denials : [];
}
