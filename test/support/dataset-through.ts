import { join } from 'node:path';
import { inject } from 'vitest';
import { DyffClient } from '../../src/client.js';
import type { Config } from '../../src/config.js';
import type { EntityView } from '../../src/client.js';
import { parseManifest } from '../../src/domain/manifest.js';
import { createWorker } from '../../src/worker.js';
import { tinyCorpus } from './tiny-corpus.js';

/**
 * A worker and DyffClient on `config` (however it reaches Temporal: TLS, mTLS, an API key) make a Dataset of a
 * tiny corpus under `account`; resolves with the finished entity and the account's Datasets as listed.
 */
export async function datasetThrough(
  config: Config,
  account: string,
): Promise<{ done: EntityView; listed: string[] }> {
  const w = await createWorker({ config, workflowBundle: { code: inject('workflowBundleCode') } });
  const running = w.run();
  const client = await DyffClient.connect(config);
  try {
    const corpus = await tinyCorpus(join(config.dataHome, account));
    const { id } = await client.create(
      parseManifest(`
kind: Dataset
account: ${account}
metadata: { name: ${account}-dataset }
spec:
  source: { kind: local, path: ${corpus.dataDir} }
  ingest: { format: text-folders }
`),
    );
    const done = await client.wait(id);
    const listed = (await client.list({ kind: 'Dataset', account })).map((e) => e.id);
    return { done, listed };
  } finally {
    await client.close();
    w.worker.shutdown();
    await running;
  }
}
