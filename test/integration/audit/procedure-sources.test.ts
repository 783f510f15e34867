import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DyffClient } from '../../../src/client.js';
import type { Config } from '../../../src/config.js';
import { parseManifest } from '../../../src/domain/manifest.js';
import type { GitHttpsServer } from '../../support/git-https-server.js';
import { publishRepo, startGitHttpsServer } from '../../support/git-https-server.js';
import type { RunningWorker } from '../../support/temporal.js';
import { startWorker, testConfig } from '../../support/temporal.js';
import { tinyCorpus } from '../../support/tiny-corpus.js';
import { runAudit, treeSha256 } from './audit-support.js';

/*
 * Where procedures come from and what they may do, with no model in the way (they only read a dataset): a Git
 * repository over HTTPS with a token (git http-backend behind a loopback HTTPS server that checks it), a wrong
 * token, and procedures that break the contract. The procedure fetched over Git also reports what its sandbox let
 * it see and do.
 */
const TOKEN = 'glpat-audit-reader-0123456789';
let config: Config;
let cleanup: () => Promise<void>;
let worker: RunningWorker;
let client: DyffClient;
let git: GitHttpsServer;
let dataset: string;
let procedures: string;

/** A procedure that summarises the dataset and probes its sandbox. */
const SUMMARY_MAIN = `
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
const out = process.env.DYFF_AUDIT_OUTPUT;
const inputs = process.env.DYFF_AUDIT_INPUTS;
const params = JSON.parse(await readFile(process.env.DYFF_AUDIT_PARAMETERS, 'utf8'));
const rows = (await readFile(join(inputs, 'dataset', 'rows.jsonl'), 'utf8')).split('\\n').filter(Boolean);
const attempt = async (fn) => { try { await fn(); return 'allowed'; } catch (e) { return e.code ?? e.message; } };
const sandbox = {
  env: Object.keys(process.env).sort(),
  writeInputs: await attempt(() => writeFile(join(inputs, 'parameters.json'), '{}')),
  readDataHome: await attempt(() => readFile(join(params.dataHome, 'secrets', 'git-reader.json'))),
  spawn: await attempt(async () => (await import('node:child_process')).execFileSync('/bin/true')),
};
await writeFile(join(out, 'summary.json'), JSON.stringify({ rows: rows.length, sandbox }));
await writeFile(join(out, 'index.html'), '<!doctype html><p id="rows">' + rows.length + '</p>');
`;

async function procedure(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(procedures, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}
const descriptor = (entrypoint = 'main.mjs') =>
  JSON.stringify({ name: 'dataset-summary', entrypoint, inputs: ['dataset'] });

beforeAll(async () => {
  ({ config, cleanup } = await testConfig());
  procedures = join(config.dataHome, 'procedures');
  git = await startGitHttpsServer(join(config.dataHome, 'git'), TOKEN);
  // Step processes trust the test CA as a deployment would trust its Git host's.
  process.env.NODE_EXTRA_CA_CERTS = git.caFile;
  await mkdir(join(config.dataHome, 'secrets'), { recursive: true });
  for (const [name, token] of [
    ['git-reader', TOKEN],
    ['git-wrong', 'glpat-not-the-token'],
  ])
    await writeFile(join(config.dataHome, 'secrets', `${name}.json`), JSON.stringify({ token }), {
      mode: 0o600,
    });
  worker = await startWorker(config);
  client = await DyffClient.connect(config, worker.adapters);
  const corpus = await tinyCorpus(join(config.dataHome, 'tiny'));
  const { id } = await client.create(
    parseManifest(`
kind: Dataset
account: audit
spec:
  source: { kind: local, path: ${corpus.dataDir} }
  ingest: { format: text-folders }
`),
  );
  expect((await client.wait(id)).status).toBe('Ready');
  dataset = id;
}, 180_000);

afterAll(async () => {
  delete process.env.NODE_EXTRA_CA_CERTS;
  await client?.close();
  await worker?.stop();
  await git?.close();
  await cleanup?.();
});

describe('audit procedures from Git over HTTPS', () => {
  it('with the token: fetched at the pinned commit, its tree checksum recorded, run in the sandbox', async () => {
    const source = await procedure('summary', { 'procedure.json': descriptor(), 'main.mjs': SUMMARY_MAIN });
    const revision = await publishRepo(join(config.dataHome, 'git'), 'summary', source);
    const view = await runAudit(client, config, {
      procedure: {
        kind: 'git',
        url: git.url('summary'),
        revision,
        token: { secretRef: { name: 'git-reader', key: 'token' } },
      },
      dataset,
      parameters: { dataHome: config.dataHome },
    });
    expect(view.status, view.message).toBe('Complete');
    const details = view.details as { procedure: { treeSha256: string; source: { revision: string } } };
    expect(details.procedure.treeSha256).toBe(await treeSha256(source));
    expect(details.procedure.source.revision).toBe(revision);
    const manifest = JSON.parse(
      (await worker.adapters.objectStore.getBuffer('auditprocedures', `${view.id}/manifest.json`)).toString(),
    ) as { treeSha256: string; files: { path: string }[] };
    expect(manifest.treeSha256).toBe(details.procedure.treeSha256);
    expect(manifest.files.map((f) => f.path)).toEqual(['main.mjs', 'procedure.json']);
    const summary = JSON.parse(
      (await worker.adapters.objectStore.getBuffer('auditreports', `${view.id}/summary.json`)).toString(),
    ) as { rows: number; sandbox: Record<string, unknown> };
    expect(summary.rows).toBe(36);
    // Only the contract's variables; the inputs stay as staged; no data home, no child processes.
    expect(summary.sandbox).toEqual({
      env: [
        'DYFF_AUDIT_ID',
        'DYFF_AUDIT_INPUTS',
        'DYFF_AUDIT_OUTPUT',
        'DYFF_AUDIT_PARAMETERS',
        'HOME',
        'LANG',
        'PATH',
        'TMPDIR',
      ],
      writeInputs: 'ERR_ACCESS_DENIED',
      readDataHome: 'ERR_ACCESS_DENIED',
      spawn: 'ERR_ACCESS_DENIED',
    });
    // The token reached the server and nowhere else a user can read.
    const logs = (await client.logs(view.id)).text;
    expect(logs).toContain(`checked out ${git.url('summary')} at ${revision}`);
    expect(JSON.stringify(view) + logs).not.toContain(TOKEN);
  }, 120_000);

  it('with a wrong token: Failed, naming the token reference and the HTTP status', async () => {
    const source = await procedure('summary-2', { 'procedure.json': descriptor(), 'main.mjs': SUMMARY_MAIN });
    const revision = await publishRepo(join(config.dataHome, 'git'), 'summary-2', source);
    const refusedBefore = git.refused;
    const view = await runAudit(client, config, {
      procedure: {
        kind: 'git',
        url: git.url('summary-2'),
        revision,
        token: { secretRef: { name: 'git-wrong', key: 'token' } },
      },
      dataset,
    });
    expect(view.status).toBe('Failed');
    expect(view.reason).toBe('ProcedureFailed');
    expect(view.message).toMatch(
      /the server refused the token of spec\.procedure\.token \(secret git-wrong\/token\): HTTP 401/,
    );
    expect(git.refused).toBeGreaterThan(refusedBefore);
  }, 120_000);
});

describe('audit procedures from the auditprocedures bucket', () => {
  it('a folder of the bucket is copied into the audit, with the same tree checksum as its files', async () => {
    const files = { 'procedure.json': descriptor(), 'main.mjs': SUMMARY_MAIN };
    const source = await procedure('summary-object', files);
    for (const [name, text] of Object.entries(files))
      await worker.adapters.objectStore.put('auditprocedures', `shared-summary/${name}`, text);
    const view = await runAudit(client, config, {
      procedure: { kind: 'object', prefix: 'shared-summary/' },
      dataset,
      parameters: { dataHome: config.dataHome },
    });
    expect(view.status, view.message).toBe('Complete');
    const details = view.details as { procedure: { treeSha256: string; source: { location: string } } };
    expect(details.procedure.treeSha256).toBe(await treeSha256(source));
    expect(details.procedure.source.location).toBe('auditprocedures/shared-summary/');
  }, 120_000);
});

describe('procedures that break the contract fail with a reason naming what is wrong', () => {
  it('a missing entrypoint, a non-zero exit, no index.html', async () => {
    const [missing, exits, silent] = await Promise.all([
      procedure('missing', { 'procedure.json': descriptor('run.mjs'), 'main.mjs': '' }),
      procedure('exits', {
        'procedure.json': descriptor(),
        'main.mjs': 'console.error("no model today"); process.exit(3);',
      }),
      procedure('silent', { 'procedure.json': descriptor(), 'main.mjs': 'console.log("done");' }),
    ]);
    const [a, b, c] = await Promise.all(
      [missing, exits, silent].map((path) =>
        runAudit(client, config, { procedure: { kind: 'local', path }, dataset }),
      ),
    );
    expect([a!.status, a!.reason]).toEqual(['Failed', 'ProcedureFailed']);
    expect(a!.message).toContain('procedure.json: entrypoint run.mjs is not a file of the procedure');
    expect([b!.status, b!.reason]).toEqual(['Failed', 'AuditFailed']);
    expect(b!.message).toContain("the procedure's entrypoint main.mjs exited with code 3");
    expect(b!.message).toContain('no model today');
    expect([c!.status, c!.reason]).toEqual(['Failed', 'AuditFailed']);
    expect(c!.message).toContain('the procedure wrote no index.html to its output folder');
  }, 180_000);
});
