import { Storage } from '@google-cloud/storage';
import { Command } from 'commander';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { registerBucketsCommands } from '../../../src/cli/commands/buckets.js';
import { loadConfig } from '../../../src/config.js';
import { bucketCreateOptions } from '../../../src/gcp/buckets.js';
import type { Emulator } from '../../support/gcp-emulators.js';
import { skipGcp, startFakeGcs } from '../../support/gcp-emulators.js';

describe.skipIf(skipGcp)('dyffctl buckets on fake-gcs-server', () => {
  let gcs: Emulator;
  let admin: Storage;
  let dir: string;
  let configFile: string;
  let prefix: string;

  beforeAll(async () => {
    gcs = await startFakeGcs();
    admin = new Storage({ apiEndpoint: gcs.endpoint, projectId: 'dyff-test' });
  });
  afterAll(async () => {
    await gcs?.stop();
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dyff-buckets-'));
    configFile = join(dir, 'dyff.config.yaml');
    // A prefix per test: the server is shared, and the checks look at every bucket in the project.
    prefix = `t${Math.random().toString(36).slice(2, 10)}`;
    await writeFile(
      configFile,
      `# my settings\ntemporal:\n  address: temporal.example:7233\ngcs:\n  bucketPrefix: ${prefix}\n`,
    );
    for (const name of Object.keys(process.env)) if (name.startsWith('DYFF_')) vi.stubEnv(name, undefined);
    vi.stubEnv('DYFF_CONFIG', configFile);
    vi.stubEnv('DYFF_GCS_ENDPOINT', gcs.endpoint);
    vi.stubEnv('DYFF_GCS_PROJECT', 'dyff-test');
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `dyffctl <args>` through the real command wiring; returns what it printed on stdout. */
  async function dyffctl(...args: string[]): Promise<string> {
    const program = new Command('dyffctl').exitOverride();
    registerBucketsCommands(program, { loadConfig });
    let out = '';
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    return out;
  }

  const projectBuckets = async () =>
    (await admin.getBuckets())[0].map((b) => b.name).filter((n) => n.startsWith(`${prefix}-`));
  const configured = async () =>
    (parse(await readFile(configFile, 'utf8')) as { gcs?: { buckets?: object } }).gcs?.buckets;

  it('creates <prefix>-<category>-<16 hex>, and records it in the config file keeping the other keys', async () => {
    const out = await dyffctl('buckets', 'create', '--category', 'datasets');
    const name = out.trim().replace(/^gs:\/\//, '');
    expect(name).toMatch(new RegExp(`^${prefix}-datasets-[0-9a-f]{16}$`));
    expect(await projectBuckets()).toEqual([name]);
    const text = await readFile(configFile, 'utf8');
    expect(text).toContain('# my settings');
    expect(parse(text)).toEqual({
      temporal: { address: 'temporal.example:7233' },
      gcs: { bucketPrefix: prefix, buckets: { datasets: name } },
    });
    expect(loadConfig().gcs.buckets.datasets).toBe(name);
  });

  it('refuses a second bucket for a category, whether the config or only the project has one', async () => {
    const name = (await dyffctl('buckets', 'create', '--category', 'models')).trim();
    await expect(dyffctl('buckets', 'create', '--category', 'models')).rejects.toMatchObject({
      type: 'AlreadyExists',
      message: expect.stringContaining('--if-exists'),
    });
    // A fresh config file that does not know the bucket: the project still has it.
    await writeFile(configFile, `gcs:\n  bucketPrefix: ${prefix}\n`);
    await expect(dyffctl('buckets', 'create', '--category', 'models')).rejects.toMatchObject({
      type: 'AlreadyExists',
      message: expect.stringContaining(name.replace('gs://', '')),
    });
    expect(await projectBuckets()).toHaveLength(1);
    expect(await configured()).toBeUndefined();
  });

  it('--if-exists returns the existing bucket, from the config or from the project, and records it', async () => {
    const name = (await dyffctl('buckets', 'create', '--category', 'outputs')).trim();
    expect((await dyffctl('buckets', 'create', '--category', 'outputs', '--if-exists')).trim()).toBe(name);
    await writeFile(configFile, `gcs:\n  bucketPrefix: ${prefix}\n`);
    expect((await dyffctl('buckets', 'create', '--category', 'outputs', '--if-exists')).trim()).toBe(name);
    expect(await configured()).toEqual({ outputs: name.replace('gs://', '') });
    expect(await projectBuckets()).toHaveLength(1);
  });

  it('--prefix overrides the configured prefix, and a bad category or prefix is refused', async () => {
    const other = `${prefix}x`;
    const name = (await dyffctl('buckets', 'create', '--category', 'reports', '--prefix', other)).trim();
    expect(name).toMatch(new RegExp(`^gs://${other}-reports-[0-9a-f]{16}$`));
    await expect(dyffctl('buckets', 'create', '--category', 'nope')).rejects.toMatchObject({
      type: 'InvalidSpec',
    });
    await expect(
      dyffctl('buckets', 'create', '--category', 'reports', '--prefix', 'Bad_Prefix'),
    ).rejects.toMatchObject({
      type: 'InvalidSpec',
    });
  });

  it('list shows each category with its bucket, and buckets the config does not name', async () => {
    const datasets = (await dyffctl('buckets', 'create', '--category', 'datasets')).trim().slice(5);
    const rawdata = (await dyffctl('buckets', 'create', '--category', 'rawdata')).trim().slice(5);
    // The API docs' bucket of the deployment notes, a category like the others.
    const webassets = (await dyffctl('buckets', 'create', '--category', 'webassets')).trim().slice(5);
    expect(webassets).toMatch(new RegExp(`^${prefix}-webassets-[0-9a-f]{16}$`));
    const stray = `${prefix}-models-0123456789abcdef`;
    await admin.createBucket(stray);
    const text = await dyffctl('buckets', 'list');
    const rows = text
      .trim()
      .split('\n')
      .map((l) => l.split(/\s{2,}/));
    expect(rows).toEqual([
      ['CATEGORY', 'BUCKET', 'STATE'],
      ['rawdata', rawdata, 'ok'],
      ['datasets', datasets, 'ok'],
      ['models', stray, 'not in config'],
      ['webassets', webassets, 'ok'],
    ]);
    const json = JSON.parse(await dyffctl('buckets', 'list', '-o', 'json')) as unknown[];
    expect(json).toContainEqual({ category: 'datasets', bucket: datasets, configured: true, exists: true });
  });

  it('creates buckets with uniform access, public access prevention and dyff labels', async () => {
    // fake-gcs-server ignores these fields, so they are checked on the request the command makes.
    const create = vi.spyOn(Storage.prototype, 'createBucket');
    await dyffctl('buckets', 'create', '--category', 'auditreports', '--location', 'europe-west4');
    expect(create).toHaveBeenCalledTimes(1);
    expect(create.mock.calls[0]?.[1]).toEqual(bucketCreateOptions('auditreports', 'europe-west4'));
    expect(bucketCreateOptions('auditreports', 'europe-west4')).toMatchObject({
      location: 'europe-west4',
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
      labels: { 'dyff-category': 'auditreports', 'dyff-managed': 'true' },
    });
  });
});
