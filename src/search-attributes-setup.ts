import { DyffError, ErrorType } from './domain/errors.js';
import { SEARCH_ATTRIBUTES } from './domain/search-attributes.js';

/** The part of a client's or worker's connection that manages a namespace's search attributes. */
export interface SearchAttributeAdmin {
  listSearchAttributes(req: {
    namespace: string;
  }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
  addSearchAttributes(req: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
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
  return missing;
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
