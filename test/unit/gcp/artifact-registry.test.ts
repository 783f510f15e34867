import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { registryPlan, registryPlanToShell } from '../../../src/gcp/artifact-registry.js';
import { gcpCli } from '../../support/gcp-cli.js';

const NOTES = resolve(import.meta.dirname, '../../../../shared/reference/gcp-deployment-notes.md');

/** Run the plan's script with a stand-in gcloud; `existing` repositories answer `describe`. */
async function runScript(script: string, existing: string[]): Promise<string[][]> {
  const dir = await mkdtemp(join(tmpdir(), 'dyff-registries-'));
  try {
    const log = join(dir, 'calls');
    const known = existing.map((r) => `*" describe ${r} "*`).join('|') || '__none__';
    await writeFile(
      join(dir, 'gcloud'),
      `#!/bin/sh\ncase "$* " in ${known}) exit 0;; *" describe "*) exit 1;; esac\n{ printf gcloud; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >>"${log}"\n`,
    );
    await chmod(join(dir, 'gcloud'), 0o755);
    await writeFile(join(dir, 'plan.sh'), script);
    await promisify(execFile)('bash', [join(dir, 'plan.sh')], { env: { PATH: `${dir}:/usr/bin:/bin` } });
    return (await readFile(log, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => l.split('\x1f'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('Artifact Registry repositories', () => {
  it.skipIf(!existsSync(NOTES))('creates every docker repository the deployment notes create', async () => {
    const notes = await readFile(NOTES, 'utf8');
    const named = [...notes.matchAll(/gcloud artifacts repositories create ([a-z0-9-]+)/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThanOrEqual(2);
    const created = registryPlan({ project: 'p1' })
      .filter((c) => c.step === 'create')
      .map((c) => c.argv[4]);
    expect(created.sort()).toEqual([...new Set(named)].sort());
  });

  it('the script enables the API and creates the missing repositories only; re-running is safe', async () => {
    const commands = registryPlan({
      project: 'p1',
      location: 'europe-west4',
      nodeServiceAccount: 'n@p1.iam',
    });
    const script = registryPlanToShell('p1', commands);
    expect(await runScript(script, [])).toEqual(commands.map((c) => c.argv));
    const again = await runScript(script, ['dyff-system', 'dyff-models']);
    expect(again.map((argv) => argv.slice(1, 4).join(' '))).toEqual([
      'services enable artifactregistry.googleapis.com',
      'artifacts repositories add-iam-policy-binding',
    ]);
    expect(commands.find((c) => c.step === 'create')!.argv).toEqual(
      expect.arrayContaining(['--repository-format=docker', '--project=p1', '--location=europe-west4']),
    );
  });

  it('`dyffctl gcp registries` prints the plan for the models repository it is given; no project is refused', async () => {
    const json = JSON.parse(
      await gcpCli('gcp', 'registries', '--project', 'p2', '--repository', 'models-x', '--format', 'json'),
    ) as { step: string; argv: string[] }[];
    expect(json.filter((c) => c.step === 'create').map((c) => c.argv[4])).toEqual([
      'dyff-system',
      'models-x',
    ]);
    await expect(gcpCli('gcp', 'registries')).rejects.toThrow(/no GCP project.*cloudbuild\.projectId/);
  });
});
