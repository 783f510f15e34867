/**
 * Records runs that start on an earlier version of the workflow code and end on this one, as a worker upgrade in
 * the middle of a run makes them, into test/histories/ (`*-upgraded.pb`), for the replay test. A pipeline runs on
 * the earlier code until its evaluation waits for the account's one quota slot; then that worker stops and this
 * code's worker takes over, and the evaluation's first try fails transiently, so that both runs ask for patches
 * (a retry, the audits) after the upgrade. Run it when a change makes an upgraded run take another path:
 *
 *   git worktree add /tmp/earlier <rev> && ln -s "$PWD/node_modules" /tmp/earlier/node_modules
 *   UPGRADE_FROM=/tmp/earlier npx tsx scripts/record-upgraded-histories.ts
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { specHash } from '../src/activities/lookups.js';
import { createActivities } from '../src/activities/index.js';
import { SqliteEntityStore } from '../src/adapters/entity-store/sqlite.js';
import { FilesystemObjectStore } from '../src/adapters/object-store/filesystem.js';
import { startDevServer } from '../src/dev/dev-server.js';
import { newId } from '../src/domain/ids.js';
import { installRuntime } from '../src/worker.js';
import { scriptedPipelineSpec } from '../bench/lifecycle-runs.js';
import { bundleWorkflows } from '../src/workflow-bundle.js';
import { readyDependencies } from '../test/support/ready-dependencies.js';
import { RecordingSessions } from '../test/support/recording-sessions.js';
import { ScriptedJobRunner } from '../test/support/scripted-runner.js';
import { stepEffects } from '../test/support/step-effects.js';
import { until } from '../test/support/worker-process.js';

installRuntime('ERROR');
const from = process.env.UPGRADE_FROM;
if (!from)
  throw new Error('UPGRADE_FROM: the directory of a checkout of the earlier code (see the comment above)');
const { bundleWorkflows: bundleEarlier } = (await import(resolve(from, 'src/workflow-bundle.ts'))) as {
  bundleWorkflows: typeof bundleWorkflows;
};
// HISTORIES_OUT: record elsewhere, to pick single files.
const out = process.env.HISTORIES_OUT ?? resolve(import.meta.dirname, '../test/histories');
const server = await startDevServer({ port: 0 });
const home = await mkdtemp(join(tmpdir(), 'dyff-upgrade-'));
const objects = new FilesystemObjectStore({ root: join(home, 'objects') });
const entities = new SqliteEntityStore({ path: join(home, 'entities.sqlite') });
let holderStarted = false;
const runner = new ScriptedJobRunner((stage, attempt) => {
  if (stage === 'evaluate' && !holderStarted) {
    holderStarted = true;
    return { outcome: 'hang' };
  }
  if (stage === 'evaluate' && attempt === 1)
    return { outcome: 'fail', exitCode: 75, logTail: ['503 from the endpoint'] };
  return { outcome: 'succeed', effect: stepEffects(objects) };
});
const activities = createActivities({
  entityStore: entities,
  objectStore: objects,
  jobRunner: runner,
  sessionRunner: new RecordingSessions(),
  quota: { checkEveryMs: 1000 },
});
const connection = await NativeConnection.connect({ address: server.address });
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const account = 'upgrade';
const spec = scriptedPipelineSpec({
  audits: [{ procedure: { kind: 'local', path: '/procedures/probe' } }],
  concurrencyQuota: 1,
});

const earlier = await Worker.create({
  connection,
  taskQueue: 'record',
  workflowBundle: await bundleEarlier(),
  activities,
});
const earlierRun = earlier.run();
// A standalone evaluation holds the account's one slot, its job running.
const { dataset, service } = await readyDependencies({ entities, objects }, account);
const holder = newId();
const holderHandle = await client.workflow.start('evaluationWorkflow', {
  workflowId: `evaluation-${holder}`,
  taskQueue: 'record',
  args: [{ id: holder, account, spec: { dataset, inferenceService: service }, concurrencyQuota: 1 }],
});
await until('holder evaluating', async () => runner.started.find((j) => j.entityId === holder));
// The pipeline on the earlier code, up to its evaluation queued behind the holder.
const id = newId();
const pipeline = await client.workflow.start('pipelineWorkflow', {
  workflowId: `pipeline-${id}`,
  taskQueue: 'record',
  args: [{ id, account, spec, hashes: { dataset: specHash(spec.dataset), model: specHash(spec.model) } }],
});
const evalId = await until('pipeline evaluation queued', async () => {
  const v = (await pipeline.query('pipeline')) as {
    reason?: string;
    stages: Record<string, { id?: string }>;
  };
  return v.reason === 'QuotaLimit' && v.stages.evaluation?.id;
});
console.log('the evaluation waits for its slot on the earlier code: upgrading');
earlier.shutdown();
await earlierRun;
await holderHandle.terminate('upgrade');
const fresh = await Worker.create({
  connection,
  taskQueue: 'record',
  workflowBundle: await bundleWorkflows(),
  activities,
});
await fresh.runUntil(async () => {
  const view = (await pipeline.result()) as { stages: Record<string, { id: string }> };
  console.log('pipeline done', JSON.stringify(Object.keys(view.stages)));
  for (const [name, workflowId] of [
    ['pipeline-upgraded', `pipeline-${id}`],
    ['evaluation-upgraded', `evaluation-${evalId}`],
  ]) {
    const history = await client.workflow.getHandle(workflowId!).fetchHistory();
    await writeFile(join(out, `${name}.pb`), proto.temporal.api.history.v1.History.encode(history).finish());
    console.log(`recorded ${name} (${history.events?.length} events)`);
  }
});
await entities.close();
await server.stop();
