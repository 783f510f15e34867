import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Client } from '@temporalio/client';
// A CommonJS module: named imports do not survive Node's ESM loader.
import proto from '@temporalio/proto';

const { temporal } = proto;

/** Files under `root` (recursively) whose bytes contain `needle`, as paths relative to root. */
export async function filesContaining(root: string, needle: string, skip: (rel: string) => boolean) {
  const hits: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (skip(rel)) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && (await readFile(path)).includes(needle)) hits.push(rel);
    }
  };
  await walk(root);
  return hits;
}

/**
 * Workflow ids on a task queue whose recorded history (every event, every payload, as the server stores them)
 * contains `needle`. Encoded as protobuf, payload bytes appear as they are, so a plain search finds a value.
 */
export async function historiesContaining(client: Client, taskQueue: string, needle: string) {
  const hits: string[] = [];
  let count = 0;
  for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) {
    count++;
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    if (bytes.includes(needle)) hits.push(wf.workflowId);
  }
  return { count, hits };
}
