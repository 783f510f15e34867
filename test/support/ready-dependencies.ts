import { newId } from '../../src/domain/ids.js';
import type { EntityStore } from '../../src/ports/entity-store.js';
import type { ObjectStore } from '../../src/ports/object-store.js';

/**
 * A Ready dataset and a Ready inference service of the account, the service with its description, for tests that
 * start an evaluation directly instead of through a pipeline.
 */
export async function readyDependencies(
  stores: { entities: EntityStore; objects: ObjectStore },
  account: string,
  /** The service's description, from its id. */
  describe: (service: string) => object = () => ({ runner: 'http' }),
): Promise<{ dataset: string; service: string }> {
  const ready = async (kind: 'Dataset' | 'InferenceService') => {
    const id = newId();
    await stores.entities.create({ id, kind, account, spec: {} });
    await stores.entities.transition({ id, allowedFrom: ['Created'], to: 'Admitted' });
    await stores.entities.transition({ id, allowedFrom: ['Admitted'], to: 'Ready' });
    return id;
  };
  const dataset = await ready('Dataset');
  const service = await ready('InferenceService');
  await stores.objects.put('inferenceservices', `${service}/service.json`, JSON.stringify(describe(service)));
  return { dataset, service };
}
