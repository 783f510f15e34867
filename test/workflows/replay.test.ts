import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { expect, inject, it } from 'vitest';

const DIR = join(import.meta.dirname, '../histories');

/*
 * Histories recorded from earlier versions must replay without nondeterminism: a change to a workflow's command
 * sequence needs patched(). Re-record with `npx tsx scripts/record-histories.ts` only for deliberate changes.
 */
it('recorded histories of every workflow type replay against the current workflow code', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.pb'));
  expect(files.length).toBeGreaterThanOrEqual(6);
  const histories = await Promise.all(
    files.map(async (f) => ({
      workflowId: f,
      history: proto.temporal.api.history.v1.History.decode(await readFile(join(DIR, f))),
    })),
  );
  const results = Worker.runReplayHistories(
    { workflowBundle: { code: inject('workflowBundleCode') } },
    histories,
  );
  for await (const r of results) expect(r.error, `${r.workflowId}: ${r.error?.message}`).toBeUndefined();
});
