import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/adapters/process-group.js';
import { docker, noDocker } from '../../support/docker.js';

/*
 * docker-compose.yml brought up for real, on the images built on this machine (deploy/compose.local.yml): Temporal
 * with its UI, the Datastore and GCS emulators, the search-attribute setup and the buckets, and the worker. The
 * demo pipeline runs through it the way a user runs it, with `dyffctl` inside the worker container (the dataset,
 * then the pipeline), and the model trained on this machine from the dataset's shards in the stack's object store.
 * Then `down -v` must leave no container, network or volume of the project behind.
 */
const ROOT = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);
const PROJECT = `dyff-compose-${randomBytes(4).toString('hex')}`;
const FILES = ['-f', join(ROOT, 'docker-compose.yml'), '-f', join(ROOT, 'deploy', 'compose.local.yml')];
// The project image under a tag of this test's own, so that another checkout rebuilding dyff-temporal:dev meanwhile
// cannot change what the stack runs.
const PROJECT_IMAGE = 'dyff-temporal:compose-test';
const ports = { TEMPORAL_PORT: 0, TEMPORAL_UI_PORT: 0, DATASTORE_PORT: 0, GCS_PORT: 0 };
let env: NodeJS.ProcessEnv = {};
let work = '';
let up = false;

/** The setup scripts' answer: undefined when they succeeded, else the last lines of what they said. */
async function script(name: string, ...args: string[]): Promise<string | undefined> {
  try {
    await run(process.execPath, [join(ROOT, 'scripts', name), ...args], { maxBuffer: 16 << 20 });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return `${name}: ${(e.stderr?.trim() || e.message).split('\n').slice(-3).join(' ')}`;
  }
}

async function compose(args: string[], timeoutMs = 1_500_000): Promise<string> {
  try {
    const { stdout } = await run('docker', ['compose', '-p', PROJECT, ...FILES, ...args], {
      cwd: ROOT,
      env,
      maxBuffer: 64 << 20,
      timeout: timeoutMs,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `docker compose ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`,
    );
  }
}

/** `dyffctl …` in the worker container, as a user of the stack runs it. */
const dyffctl = (...args: string[]) => compose(['exec', '-T', 'worker', 'dyffctl', ...args]);

/** Every object under gs://<bucket>/<prefix>, downloaded from the stack's fake-gcs-server into dir. */
async function download(location: string, dir: string): Promise<string[]> {
  const m = /^gs:\/\/([^/]+)\/(.*)$/.exec(location);
  if (!m) throw new Error(`not a gs:// location: ${location}`);
  const [, bucket, prefix] = m as unknown as [string, string, string];
  const gcs = `http://127.0.0.1:${ports.GCS_PORT}/storage/v1/b/${bucket}/o`;
  const list = (await (await fetch(`${gcs}?prefix=${encodeURIComponent(prefix)}`)).json()) as {
    items?: { name: string }[];
  };
  const names = (list.items ?? []).map((o) => o.name);
  for (const name of names) {
    const res = await fetch(`${gcs}/${encodeURIComponent(name)}?alt=media`);
    if (!res.ok) throw new Error(`download ${name}: ${res.status}`);
    const file = join(dir, name.slice(prefix.length));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
  }
  return names;
}

/** What the engine still holds of the project: containers, networks, volumes (compose labels them all). */
async function leftovers(): Promise<string[]> {
  const label = { label: [`com.docker.compose.project=${PROJECT}`] };
  const containers = await docker.listContainers({ all: true, filters: label });
  const networks = await docker.listNetworks({ filters: label });
  const { Volumes } = await docker.listVolumes({ filters: label });
  return [
    ...containers.map((c) => `container ${c.Names.join(',')}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...(Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

const unavailable =
  noDocker ??
  (await script('docker-compose-install.mjs', '--quiet')) ??
  (await script('docker-compose-images.mjs', '--quiet', '--project-tag', PROJECT_IMAGE));
if (unavailable && !noDocker) console.warn(`docker compose test skipped: ${unavailable}`);

// Minutes on a loaded two-core machine (the dataset's ingest through the Datastore emulator dominates): it runs in
// `npm run test:docker`, not `npm test`.
describe.skipIf(unavailable)('docker-compose.yml on this machine', { timeout: 1_800_000 }, () => {
  beforeAll(async () => {
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('DYFF_') || k.startsWith('COMPOSE_')) delete env[k];
    Object.assign(env, Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])));
    env.DYFF_IMAGE = PROJECT_IMAGE;
    work = await mkdtemp(join(tmpdir(), 'dyff-compose-'));
    up = true;
    await compose(['up', '--detach', '--wait', '--wait-timeout', '600'], 660_000);
  }, 700_000);

  afterAll(async () => {
    if (up) await compose(['down', '--volumes', '--remove-orphans', '--timeout', '10']).catch(() => {});
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it('serves Temporal with its UI on the published loopback ports, the search attributes registered', async () => {
    const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/<html/i);
    const out = await dyffctl('setup');
    expect(out).toMatch(/already has all \d+ search attributes/);
    const published = await compose(['ps', '--format', '{{.Service}} {{.Publishers}}']);
    expect(published).not.toMatch(/0\.0\.0\.0|::/);
  });

  let dataset = { id: '', location: '' };

  it('ingests the demo dataset through the stack: entity in Datastore, shards in fake-gcs-server', async () => {
    const created = JSON.parse(
      (await dyffctl('create', '-f', 'examples/spamassassin-dataset.yaml', '--wait', '-o', 'json')).split(
        '\n',
      )[0]!,
    ) as { id: string };
    const view = JSON.parse(await dyffctl('get', created.id, '-o', 'json')) as {
      status: string;
      details: { location: string; rowCount: number };
    };
    expect(view.status).toBe('Ready');
    expect(view.details.rowCount).toBe(6046);
    expect(view.details.location).toMatch(/^gs:\/\/dyff-datasets-local\//);
    dataset = { id: created.id, location: view.details.location };
  });

  it('runs the demo pipeline: model trained on the train split, service, evaluation, report', async (ctx) => {
    if (!dataset.id) ctx.skip('the dataset did not become Ready');
    // The demo's model: naive Bayes trained here on the shards the stack's worker wrote to its object store.
    const shards = join(work, 'dataset');
    const names = await download(`${dataset.location}data/`, shards);
    expect(names.some((n) => n.endsWith('.parquet'))).toBe(true);
    const model = join(work, 'dotdyff', 'demo', 'naive-bayes');
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'examples', 'train-naive-bayes.ts'),
        '--dataset-dir',
        shards,
        '--out',
        model,
      ],
      { cwd: ROOT },
    );
    expect(await readdir(model)).toContain('model.json');
    // Where examples/spamassassin-pipeline.yaml looks for it in the container (../.dyff/demo/naive-bayes).
    await compose(['cp', join(work, 'dotdyff'), 'worker:/app/.dyff']);

    const out = await dyffctl('pipeline', 'run', '-f', 'examples/spamassassin-pipeline.yaml', '--wait');
    expect(out).toMatch(/pipeline \S+: Complete/);
    const stage = (name: string) => new RegExp(`^\\s+${name}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(out);
    expect(stage('dataset')?.[2], out).toBe(dataset.id);
    const reportId = stage('report')?.[2];
    expect(reportId, out).toBeTruthy();
    const report = JSON.parse(await dyffctl('get', reportId!, '-o', 'json')) as {
      status: string;
      details: { metrics: { accuracy: number; scored: number } };
    };
    expect(report.status).toBe('Complete');
    expect(report.details.metrics.accuracy).toBeGreaterThan(0.9);
    for (const s of ['model', 'inferenceService', 'evaluation']) {
      const view = JSON.parse(await dyffctl('get', stage(s)![2]!, '-o', 'json')) as { status: string };
      expect([s, view.status]).toEqual([s, expect.stringMatching(/^(Ready|Complete)$/)]);
    }
    // The report's files are in the stack's object store.
    const files = await download(`gs://dyff-reports-local/${reportId}/`, join(work, 'report'));
    expect(files.map((f) => f.split('/').pop())).toEqual(expect.arrayContaining(['report.json']));
  });

  it('comes down clean: no container, network or volume of the project is left', async () => {
    await compose(['down', '--volumes', '--remove-orphans', '--timeout', '10'], 300_000);
    up = false;
    expect(await leftovers()).toEqual([]);
  });
});
