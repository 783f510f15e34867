import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Adapters } from '../../src/adapters/index.js';
import { createAdapters } from '../../src/adapters/index.js';
import { LocalSessionRunner } from '../../src/adapters/session-runner/local-process.js';
import { DyffClient } from '../../src/client.js';
import { Pipelines } from '../../src/client-pipelines.js';
import type { Config } from '../../src/config.js';
import { newId } from '../../src/domain/ids.js';
import { parseManifest, parsePipelineManifest } from '../../src/domain/manifest.js';
import type { JobSpec } from '../../src/ports/job-runner.js';
import { localSecrets } from '../../src/secrets/resolver.js';
import type { RunningWorker } from '../support/temporal.js';
import { startWorker, testConfig } from '../support/temporal.js';
import { makePki } from '../support/test-pki.js';
import { tinyCorpus } from '../support/tiny-corpus.js';
import { cliEnv, run } from '../support/worker-process.js';
import { DYFF_CANARY, HF_CANARY, environOf, filesWithCanary, leakingNodeOptions } from './helpers/canary.js';

/*
 * The worker holds secrets (HF_TOKEN, DYFF_CANARY_SECRET) that the specs it runs must never reach. The worker here
 * runs in this process with those variables set, on the embedded default: local step processes and sessions.
 */
process.env.HF_TOKEN = HF_CANARY;
process.env.DYFF_CANARY_SECRET = DYFF_CANARY;

let config: Config;
let cleanup: () => Promise<void>;
let adapters: Adapters;
let worker: RunningWorker;
let client: DyffClient;
let pipelines: Pipelines;
let corpus: Awaited<ReturnType<typeof tinyCorpus>>;
/** The environment each step and session process was started with, read from /proc while it ran. */
const seen: { program: string; env: Record<string, string> }[] = [];
/** Certificates the worker trusts besides the system's (NODE_EXTRA_CA_CERTS), as behind a TLS-inspecting proxy. */
let extraCaCerts: string;
const callersCaCerts = process.env.NODE_EXTRA_CA_CERTS;

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  await mkdir(join(config.dataHome, 'pki'), { recursive: true });
  extraCaCerts = (await makePki(join(config.dataHome, 'pki'))).ca;
  process.env.NODE_EXTRA_CA_CERTS = extraCaCerts;
  adapters = await createAdapters(config);
  // Observers, not stand-ins: the real runners start the real processes; these read /proc while they run.
  const jobs = adapters.jobRunner;
  const startJob = jobs.start.bind(jobs);
  jobs.start = async (spec: JobSpec) => {
    const started = await startJob(spec);
    const pid = Number(await readFile(join(config.dataHome, 'jobs', spec.name, 'pid'), 'utf8'));
    if (!started.adopted) seen.push({ program: spec.args[0]!, env: await environOf(pid) });
    return started;
  };
  const sessions = adapters.sessionRunner;
  const waitReady = sessions.waitReady.bind(sessions);
  sessions.waitReady = async (name, opts) => {
    const ready = await waitReady(name, opts);
    const pid = Number(await readFile(join(config.dataHome, 'sessions', name, 'pid'), 'utf8'));
    seen.push({ program: 'session', env: await environOf(pid) });
    return ready;
  };
  worker = await startWorker(config, adapters);
  client = await DyffClient.connect(config, adapters);
  pipelines = new Pipelines(client.temporal, config.temporal.taskQueue);
  corpus = await tinyCorpus(config.dataHome, 6);
});
afterAll(async () => {
  if (callersCaCerts === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
  else process.env.NODE_EXTRA_CA_CERTS = callersCaCerts;
  await worker?.stop();
  await client?.close();
  await adapters?.close();
  await cleanup();
});

const pipelineYaml = (env: Record<string, string>) => `
kind: Pipeline
account: attacker
metadata: { name: env-attack }
spec:
  dataset:
    source: { kind: local, path: ${corpus.dataDir} }
    ingest: { format: text-folders, split: { fractions: { train: 1, test: 1 } } }
  model: { source: { kind: local, path: ${corpus.modelDir} } }
  service: { runner: { kind: standalone, env: ${JSON.stringify(env)} } }
  evaluation: { replications: 1, workersPerReplica: 2 }
  report: { rubric: classification.accuracy }
`;

describe("a service's environment cannot carry code or reach the worker's secrets", () => {
  it("the issue's NODE_OPTIONS pipeline is refused by dyffctl (exit 2, naming the variable), and runs nothing", async () => {
    const canaryFile = join(config.dataHome, 'leaked-by-dyffctl.txt');
    const file = join(config.dataHome, 'attack.yaml');
    await writeFile(file, pipelineYaml({ NODE_OPTIONS: leakingNodeOptions(canaryFile) }));
    const out = await run(['pipeline', 'run', '-f', file, '--wait'], cliEnv(config));
    expect(out.code, out.stderr).toBe(2);
    expect(out.stderr).toMatch(
      /spec\.service\.runner\.env\.NODE_OPTIONS: NODE_OPTIONS may not be set by a spec/,
    );
    expect(existsSync(canaryFile)).toBe(false);
    expect(await client.list({ account: 'attacker' })).toEqual([]);
  });

  it.each([
    'LD_PRELOAD',
    'DYLD_INSERT_LIBRARIES',
    'PATH',
    'HOME',
    'DYFF_DATA_HOME',
    'PYTHONPATH',
    'BASH_ENV',
    'JAVA_TOOL_OPTIONS',
    'HF_TOKEN',
    'GOOGLE_APPLICATION_CREDENTIALS',
  ])('a service env setting %s is refused at validation, naming it', (name) => {
    expect(() => parsePipelineManifest(pipelineYaml({ [name]: '/tmp/x' }))).toThrow(
      new RegExp(`spec\\.service\\.runner\\.env\\.${name}: ${name} may not be set by a spec`),
    );
  });

  it('the same pipeline started with the plain Temporal client fails InvalidSpec, and the canary file is not written', async () => {
    const canaryFile = join(config.dataHome, 'leaked-by-temporal.txt');
    const handle = await client.temporal.workflow.start('pipelineWorkflow', {
      workflowId: `pipeline-${newId()}`,
      taskQueue: config.temporal.taskQueue,
      args: [
        {
          id: newId(),
          account: 'attacker',
          spec: {
            ...parsePipelineManifest(pipelineYaml({})).spec,
            service: {
              runner: { kind: 'standalone', env: { NODE_OPTIONS: leakingNodeOptions(canaryFile) } },
            },
          },
          hashes: { dataset: '0'.repeat(32), model: '1'.repeat(32) },
        },
      ],
    });
    await expect(handle.result()).rejects.toMatchObject({
      cause: {
        type: 'InvalidSpec',
        message: expect.stringMatching(/spec\.service\.runner\.env\.NODE_OPTIONS/),
      },
    });
    expect(existsSync(canaryFile)).toBe(false);
    expect(await client.list({ account: 'attacker' })).toEqual([]);
  });

  it('a service description stored before the check existed is refused by the session runner: no process', async () => {
    const canaryFile = join(config.dataHome, 'leaked-by-session.txt');
    const runner = new LocalSessionRunner({
      root: join(config.dataHome, 'old-sessions'),
      command: [process.execPath],
      secrets: localSecrets({ dataHome: config.dataHome }),
    });
    await expect(
      runner.start({
        name: `session-${newId()}`,
        entityId: newId(),
        description: {
          serviceId: newId(),
          runner: 'standalone',
          command: ['-e', '0'],
          env: { NODE_OPTIONS: leakingNodeOptions(canaryFile) },
          endpoint: '/generate',
          interface: {},
        },
      } as Parameters<LocalSessionRunner['start']>[0]),
    ).rejects.toThrow(/runner\.env may not set NODE_OPTIONS/);
    expect(existsSync(canaryFile)).toBe(false);
  });

  it('through a whole pipeline, a permitted variable reaches the session and no secret reaches anything', async () => {
    const { id, workflowId } = await pipelines.start(
      parsePipelineManifest(pipelineYaml({ GREETING: 'hello' })),
      {
        force: true,
      },
    );
    const view = await pipelines.wait(id);
    expect(view.status, JSON.stringify(view)).toBe('Complete');

    const session = seen.filter((s) => s.program === 'session');
    expect(session).toHaveLength(1);
    expect(session[0]!.env.GREETING).toBe('hello');
    for (const { program, env } of seen) {
      const values = Object.values(env).join('\n');
      expect(values, program).not.toContain(DYFF_CANARY);
      expect(Object.keys(env), program).not.toContain('DYFF_CANARY_SECRET');
      // The Hub token is the fetch steps' own credential (Hub models and datasets), and no one else's.
      if (program === 'fetch-model' || program === 'fetch-data') expect(env.HF_TOKEN).toBe(HF_CANARY);
      else expect(values, program).not.toContain(HF_CANARY);
      expect(
        Object.keys(env).filter((k) => k.startsWith('NODE_') && k !== 'NODE_EXTRA_CA_CERTS'),
        program,
      ).toEqual([]);
      // The worker's extra trust reaches what may open TLS connections. A storage-only step on the filesystem
      // store opens none, and starts without it; another step gets the file under the name it reads it by at its
      // first TLS connection, so that Node does not parse it as the step starts; a session gets Node's own.
      const trust = {
        NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS,
        DYFF_EXTRA_CA_CERTS: env.DYFF_EXTRA_CA_CERTS,
      };
      if (['ingest-dataset', 'build-service', 'verify-outputs', 'report'].includes(program))
        expect(trust, program).toEqual({});
      else if (program === 'session') expect(trust, program).toEqual({ NODE_EXTRA_CA_CERTS: extraCaCerts });
      else expect(trust, program).toEqual({ DYFF_EXTRA_CA_CERTS: extraCaCerts });
    }
    expect(new Set(seen.map((s) => s.program))).toEqual(
      new Set([
        'fetch-data',
        'ingest-dataset',
        'fetch-model',
        'build-service',
        'evaluate',
        'verify-outputs',
        'report',
        'session',
      ]),
    );

    // Nothing written anywhere (objects, step logs, job arguments, sessions, the entity store) holds a canary...
    expect(await filesWithCanary(config.dataHome)).toEqual([]);
    // ...nor does any workflow history of the run.
    const children = (await client.list({ account: 'attacker' })).map(
      (e) => `${e.kind.toLowerCase()}-${e.id}`,
    );
    expect(children.length).toBeGreaterThanOrEqual(5);
    for (const wf of [workflowId, ...children]) {
      const history = JSON.stringify(await client.temporal.workflow.getHandle(wf).fetchHistory());
      expect(history, wf).not.toContain(HF_CANARY);
      expect(history, wf).not.toContain(DYFF_CANARY);
    }
  });

  it("the issue's /proc/self/environ dataset ends Error/FetchFailed with nothing fetched", async () => {
    const manifest = parseManifest(`
kind: Dataset
account: attacker2
spec: { source: { kind: local, path: /proc/self/environ }, ingest: { format: csv } }
`);
    const { id } = await client.create(manifest);
    const view = await client.wait(id, { intervalMs: 100 });
    expect(view).toMatchObject({ status: 'Error', reason: 'FetchFailed' });
    expect(view.message).toMatch(/\/proc, \/sys and \/dev are never sources/);
    expect(existsSync(join(config.dataHome, 'objects', 'rawdata', id))).toBe(false);
    expect(await filesWithCanary(config.dataHome)).toEqual([]);
  });
});
