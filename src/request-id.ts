import type { EntityKind } from './domain/kinds.js';
import { uuid5Hex } from './uuid5.js';

/** The namespace of entity ids made from request ids: uuid5(NAMESPACE_URL, 'https://dyff.io/request-id'). */
const REQUEST_NAMESPACE = uuid5Hex('6ba7b8119dad11d180b400c04fd430c8', 'https://dyff.io/request-id');

/**
 * The entity id a create with this request id gets: the same account, kind and request id always give the same
 * id (and so the same workflow id), which is what makes a retried or concurrent create land on one entity.
 */
export function entityIdForRequest(account: string, kind: EntityKind, requestId: string): string {
  return uuid5Hex(REQUEST_NAMESPACE, `${account}/${kind}/${requestId}`);
}
