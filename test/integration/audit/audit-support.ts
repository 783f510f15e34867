import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DyffClient, EntityView } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import type { AuditSpec } from '../../../src/domain/audit-spec.js';
import { newId } from '../../../src/domain/ids.js';
import { workflowIdFor } from '../../../src/domain/kinds.js';
import { AuditWorkflow, startWorkflow } from '../../../src/workflows/definitions.js';

export const EXAMPLES = resolve(import.meta.dirname, '../../../examples');
/** The example procedure shipped with the repository. */
export const SPAM_ROBUSTNESS = join(EXAMPLES, 'procedures/spam-robustness');

type AuditSpecInput = Partial<AuditSpec> & Pick<AuditSpec, 'procedure'>;

/** Start an audit the way a client does (its workflow by definition, id = entity id); its id. */
export async function startAudit(client: DyffClient, config: Config, spec: AuditSpecInput): Promise<string> {
  const id = newId();
  await startWorkflow(client.temporal, AuditWorkflow, {
    taskQueue: config.temporal.taskQueue,
    workflowId: workflowIdFor('Audit', id),
    args: [{ id, account: 'audit', spec: { parameters: {}, ...spec } }],
  });
  return id;
}

/** Start an audit and wait for its ending. */
export async function runAudit(
  client: DyffClient,
  config: Config,
  spec: AuditSpecInput,
): Promise<EntityView> {
  return client.wait(await startAudit(client, config, spec));
}

/** The tree checksum of a directory computed independently of the step: sha256 of sha256sum's lines. */
export async function treeSha256(dir: string): Promise<string> {
  const files: string[] = [];
  const walk = async (d: string, rel: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(join(d, e.name), path);
      else files.push(path);
    }
  };
  await walk(dir, '');
  const lines = await Promise.all(
    files.sort().map(async (p) => {
      const sum = createHash('sha256')
        .update(await readFile(join(dir, p)))
        .digest('hex');
      return `${sum}  ${p}\n`;
    }),
  );
  return createHash('sha256').update(lines.join('')).digest('hex');
}
