import { DyffError, ErrorType } from './errors.js';
import type { Category } from './kinds.js';
import type { Access, Grant } from './step-contract.js';

/**
 * A grant of the step catalogue made concrete for one caller: its prefix pattern (`<id>/`, `<spec.dataset>/`,
 * `<dataset>/data/`) filled in from what the caller works on. The worker serves every entity, so its placeholders
 * match any one key segment. Pure, so that the catalogue's tests and the enforcing store share it.
 *
 *   const scope = scopeGrants(grantsOf(entry), stepBindings(id, spec, options));
 *   missingAccess(scope, 'outputs', `${id}/data/part-00000.parquet`, ['create']) // [] when a grant covers it
 */

/** A placeholder's value: one key segment, or any segment (the worker, which serves every entity). */
export const ANY_SEGMENT = Symbol('any segment');
export type Binding = string | typeof ANY_SEGMENT;
/** The value of a placeholder (`id`, `spec.dataset`, `dataset`); undefined leaves the grant out. */
export type Bindings = (name: string) => Binding | undefined;

export interface ScopedGrant {
  category: Category;
  /** The catalogue's pattern, for messages. */
  pattern: string;
  /** The folders the grant covers, outermost first. */
  folders: readonly Binding[];
  access: readonly Access[];
}

const PLACEHOLDER = /^<([a-zA-Z][\w.]*)>$/;

/** A value that is one plain key segment: a spec field holding `a/b` or `..` must not widen a grant. */
const isSegment = (v: string) => v !== '' && v !== '.' && v !== '..' && !v.includes('/');

/**
 * The grants with their patterns filled in. A grant whose placeholder has no value (a spec without that field)
 * covers nothing and is left out: a grant never widens because an input is missing.
 */
export function scopeGrants(grants: readonly Grant[], bindings: Bindings): ScopedGrant[] {
  const out: ScopedGrant[] = [];
  for (const g of grants) {
    if (!g.prefix.endsWith('/'))
      throw new DyffError(ErrorType.InvalidSpec, `grant prefix ${JSON.stringify(g.prefix)}: must end with /`);
    const folders: Binding[] = [];
    for (const part of g.prefix.slice(0, -1).split('/')) {
      const name = PLACEHOLDER.exec(part)?.[1];
      const value = name === undefined ? part : bindings(name);
      if (value === undefined || (typeof value === 'string' && !isSegment(value))) break;
      folders.push(value);
    }
    if (folders.length === g.prefix.split('/').length - 1)
      out.push({ category: g.category, pattern: g.prefix, folders, access: g.access });
  }
  return out;
}

/** Whether `path` (an object key, or a listing prefix) lies inside the grant's folders. */
export function covers(grant: ScopedGrant, category: Category, path: string): boolean {
  if (grant.category !== category) return false;
  // Only whole folders count: the listing prefix `abc/data/part-` lies in `abc/data/`, `abc/da` does not.
  const folders = path.split('/').slice(0, -1);
  return (
    folders.length >= grant.folders.length &&
    grant.folders.every((f, i) => (f === ANY_SEGMENT ? isSegment(folders[i]!) : f === folders[i]))
  );
}

/** The accesses of `needed` that no grant gives for `path`; empty when the call is allowed. */
export function missingAccess(
  grants: readonly ScopedGrant[],
  category: Category,
  path: string,
  needed: readonly Access[],
): Access[] {
  const given = new Set(grants.filter((g) => covers(g, category, path)).flatMap((g) => g.access));
  return needed.filter((a) => !given.has(a));
}

/**
 * How a step's grants are filled in: `<id>` is the entity it works for, `<spec.x>` a field of its spec (dotted for nested ones), and any
 * other `<x>` its option `--x` (report's `--dataset`).
 */
export function stepBindings(
  id: string,
  spec: unknown,
  options: Record<string, string | undefined> = {},
): Bindings {
  return (name) => {
    if (name === 'id') return id;
    if (name.startsWith('spec.')) {
      // A dotted path walks nested fields (`spec.source.dataset`).
      let value: unknown = spec;
      for (const field of name.slice(5).split('.'))
        value = (value as Record<string, unknown> | undefined)?.[field];
      return typeof value === 'string' ? value : undefined;
    }
    return options[name];
  };
}

/** The worker's placeholders match every entity: it reads back what any step wrote. */
export const anyEntity: Bindings = () => ANY_SEGMENT;
