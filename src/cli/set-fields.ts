import { DyffError, ErrorType } from '../domain/errors.js';

/**
 * `--set path=value` on a manifest before it is validated (`spec.inferenceService=<id>`): a shipped example
 * names the entities of this installation without being edited. Values stay strings (an id of digits must not
 * become a number); the path's mappings are made as needed, and a path through a non-mapping is refused.
 */
export function applySets(doc: unknown, sets: readonly string[], source: string): unknown {
  for (const set of sets) {
    const eq = set.indexOf('=');
    const path = eq > 0 ? set.slice(0, eq).split('.') : [];
    if (path.length === 0 || path.some((p) => p === '' || p === '__proto__' || p === 'constructor'))
      throw new DyffError(
        ErrorType.InvalidSpec,
        `--set ${set}: expected path=value, e.g. spec.evaluation=<id>`,
      );
    let node = doc as Record<string, unknown>;
    for (const [i, key] of path.slice(0, -1).entries()) {
      const next = node[key] ?? (node[key] = {});
      if (typeof next !== 'object' || next === null || Array.isArray(next))
        throw new DyffError(
          ErrorType.InvalidSpec,
          `--set ${set}: ${source}: ${path.slice(0, i + 1).join('.')} is not a mapping`,
        );
      node = next as Record<string, unknown>;
    }
    node[path.at(-1)!] = set.slice(eq + 1);
  }
  return doc;
}
