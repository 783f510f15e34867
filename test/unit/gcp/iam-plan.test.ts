import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gcpCli } from '../../support/gcp-cli.js';
import type { IamPlan } from '../../../src/gcp/iam-plan.js';
import { NOT_CREATED, buildIamPlan, planToShell } from '../../../src/gcp/iam-plan.js';

/**
 * What each account must be granted, worked out by hand from what the programs running as it do (not from the
 * plan's code): storage roles per bucket category, unconditional project roles, and push rights on the model image
 * repository. Overwriting or deleting needs Object Admin (Object Creator may only create new keys, and reads
 * nothing). docs/gcp.md gives the reasons and the differences from the deployment notes.
 */
const VIEWER = 'roles/storage.objectViewer';
const OBJECT_ADMIN = 'roles/storage.objectAdmin';
const OBJECT_CREATOR = 'roles/storage.objectCreator';
const INTENDED: Record<string, { storage: Record<string, string[]>; project: string[]; images?: true }> = {
  // refetches rewrite and delete rawdata/<id>/; its log chunks under datasets/<id>/.dyff/logs/ are created once
  'data-fetcher': { storage: { [OBJECT_ADMIN]: ['rawdata'], [OBJECT_CREATOR]: ['datasets'] }, project: [] },
  // reads rawdata/<id>/; rewrites shards and the manifest, deletes stale shards in datasets/<id>/
  'dataset-ingester': { storage: { [VIEWER]: ['rawdata'], [OBJECT_ADMIN]: ['datasets'] }, project: [] },
  // refetches rewrite and delete models/<id>/
  'model-fetcher': { storage: { [OBJECT_ADMIN]: ['models'] }, project: [] },
  // reads the model's manifest, rewrites inferenceservices/<id>/service.json; submits image builds
  'inference-service-builder': {
    storage: { [VIEWER]: ['models'], [OBJECT_ADMIN]: ['inferenceservices'] },
    project: ['roles/cloudbuild.builds.editor'],
    images: true,
  },
  // evaluate and verify-outputs: read the dataset and service description, rewrite checkpoints, skipped.json and
  // verified parts, delete stale verified parts
  'evaluation-client': {
    storage: { [VIEWER]: ['datasets', 'inferenceservices'], [OBJECT_ADMIN]: ['outputs'] },
    project: [],
  },
  // reads verified outputs and dataset shards, rewrites reports/<id>/ on a rerun
  'report-runner': {
    storage: { [VIEWER]: ['outputs', 'datasets'], [OBJECT_ADMIN]: ['reports'] },
    project: [],
  },
  // the inference session reads the model it serves
  'model-runner': { storage: { [VIEWER]: ['models'] }, project: [] },
  // refetches rewrite and delete auditprocedures/<id>/ (and read an `object` procedure's folder); its log chunks
  // under auditreports/<id>/.dyff/logs/ are created once
  'procedure-fetcher': {
    storage: { [OBJECT_ADMIN]: ['auditprocedures'], [OBJECT_CREATOR]: ['auditreports'] },
    project: [],
  },
  // run-audit reads its procedure and the inputs it stages, and rewrites its report on a rerun
  'audit-runner': {
    storage: {
      [VIEWER]: ['auditprocedures', 'datasets', 'outputs', 'reports'],
      [OBJECT_ADMIN]: ['auditreports'],
    },
    project: [],
  },
  // the worker reads manifests, descriptions, summaries, reports and step logs, and keeps entity state
  'dyff-worker': {
    storage: {
      [VIEWER]: ['datasets', 'models', 'outputs', 'auditprocedures', 'auditreports'],
      // the image-build activity packs each service's build context (again on a retry) and submits the build;
      // a benchmark writes its report across corruptions
      [OBJECT_ADMIN]: ['inferenceservices', 'reports'],
    },
    project: ['roles/datastore.user', 'roles/cloudbuild.builds.editor'],
  },
};

const NOTES = resolve(import.meta.dirname, '../../../../shared/reference/gcp-deployment-notes.md');
const PROJECT = 'dyff-354017';
const options = { project: PROJECT, prefix: 'alignmentlabs', namespace: 'default' };

/** Every grant a plan makes to one account, in one comparable string each. */
function grantsOf(plan: IamPlan, account: string): string[] {
  const email = `${account}@${PROJECT}.iam.gserviceaccount.com`;
  const member = `--member=serviceAccount:${email}`;
  const grants: string[] = [];
  for (const { argv } of plan.commands) {
    const line = argv.join(' ');
    if (line.startsWith('gcloud projects add-iam-policy-binding') && argv.includes(member)) {
      expect(argv[3]).toBe(PROJECT);
      const role = argv.find((a) => a.startsWith('--role='))!.slice(7);
      const condition = argv.find((a) => a.startsWith('--condition='))!.slice(12);
      grants.push(`${role} if ${condition}`);
    } else if (
      line.startsWith('gcloud artifacts repositories add-iam-policy-binding') &&
      argv.includes(member)
    ) {
      grants.push(`${argv.find((a) => a.startsWith('--role='))!.slice(7)} on ${argv[4]}`);
    } else if (line.startsWith(`gcloud iam service-accounts add-iam-policy-binding ${email} `)) {
      grants.push(
        `${argv.find((a) => a.startsWith('--role='))!.slice(7)} to ${argv.find((a) => a.startsWith('--member='))!.slice(9)}`,
      );
    }
  }
  return grants.sort();
}

function intendedGrants(account: string): string[] {
  const spec = INTENDED[account]!;
  const grants = Object.entries(spec.storage).flatMap(([role, categories]) =>
    categories.map(
      (c) =>
        `${role} if expression=resource.name.startsWith("projects/_/buckets/alignmentlabs-${c}-"),title=is-${c}-bucket`,
    ),
  );
  grants.push(...spec.project.map((role) => `${role} if None`));
  if (spec.images) grants.push('roles/artifactregistry.writer on dyff-models');
  grants.push(`roles/iam.workloadIdentityUser to serviceAccount:${PROJECT}.svc.id.goog[default/${account}]`);
  return grants.sort();
}

describe('gcp IAM plan', () => {
  const plan = buildIamPlan(options);

  it('gives each account exactly the grants its programs need, nothing more', () => {
    expect(plan.serviceAccounts.map((s) => s.name).sort()).toEqual(Object.keys(INTENDED).sort());
    for (const account of Object.keys(INTENDED)) {
      expect({ account, grants: grantsOf(plan, account) }).toEqual({
        account,
        grants: intendedGrants(account),
      });
    }
    // No binding names an account outside the table.
    const members = plan.commands.flatMap((c) =>
      c.argv.filter((a) => a.startsWith('--member=serviceAccount:')),
    );
    for (const m of members) expect(Object.keys(INTENDED)).toContain(/[:[/]([a-z0-9-]+)[@\]]/.exec(m)?.[1]);
  });

  it.skipIf(!existsSync(NOTES))(
    'creates every account the deployment notes name, or says why not',
    async () => {
      const notes = await readFile(NOTES, 'utf8');
      const named = new Set<string>();
      for (const re of [
        /gcloud iam service-accounts create ([a-z0-9-]+)/g,
        /kubectl create serviceaccount ([a-z0-9-]+)/g,
        /^### `([a-z0-9-]+)` service account/gm,
        /^- `([a-z0-9-]+)`\n\s+- Storage/gm,
      ]) {
        for (const m of notes.matchAll(re)) named.add(m[1]!);
      }
      expect(named.size).toBeGreaterThanOrEqual(14);
      const planned = plan.serviceAccounts.map((s) => s.name);
      for (const name of named) {
        expect({ name, covered: planned.includes(name) || Object.hasOwn(NOT_CREATED, name) }).toEqual({
          name,
          covered: true,
        });
      }
      // Accounts the notes do not have: the worker's own and the audits' two.
      expect(planned.filter((n) => !named.has(n)).sort()).toEqual([
        'audit-runner',
        'dyff-worker',
        'procedure-fetcher',
      ]);
    },
  );

  it('docs/gcp.md names every account of the plan and every account of the notes it leaves out', async () => {
    const doc = await readFile(resolve(import.meta.dirname, '../../../docs/gcp.md'), 'utf8');
    for (const name of [...plan.serviceAccounts.map((s) => s.name), ...Object.keys(NOT_CREATED)]) {
      expect({ name, documented: doc.includes(`\`${name}\``) }).toEqual({ name, documented: true });
    }
  });

  it('creates each account, its Kubernetes account, and annotates it for Workload Identity', () => {
    for (const sa of plan.serviceAccounts) {
      const mine = plan.commands.filter((c) => c.account === sa.name).map((c) => c.argv.join(' '));
      expect(mine).toContain(
        `gcloud iam service-accounts create ${sa.name} --project=${PROJECT} --display-name=dyff ${sa.name}`,
      );
      expect(mine).toContain(`kubectl create serviceaccount ${sa.name} --namespace=default`);
      expect(mine).toContain(
        `kubectl annotate serviceaccount ${sa.name} --namespace=default --overwrite iam.gke.io/gcp-service-account=${sa.name}@${PROJECT}.iam.gserviceaccount.com`,
      );
    }
  });

  it('grants no account on the webassets buckets, only the docs publishers it is given', async () => {
    // The notes create the webassets bucket (the API docs) and grant no workload on it; nothing here runs there.
    const webassets = (p: IamPlan) =>
      p.commands.filter((c) => c.argv.join(' ').includes('is-webassets-bucket'));
    expect(webassets(plan)).toEqual([]);

    const published = buildIamPlan({ ...options, webassetsPublishers: ['group:docs@example.org'] });
    expect(webassets(published).map((c) => c.argv)).toEqual([
      [
        'gcloud',
        'projects',
        'add-iam-policy-binding',
        PROJECT,
        '--member=group:docs@example.org',
        `--role=${OBJECT_ADMIN}`,
        '--condition=expression=resource.name.startsWith("projects/_/buckets/alignmentlabs-webassets-"),title=is-webassets-bucket',
      ],
    ]);
    // Every other command is the plain plan's: a publisher changes nothing for the accounts.
    expect(published.commands.filter((c) => c.account !== 'webassets')).toEqual(plan.commands);
    expect(planToShell(published)).toContain('# webassets: the publishers of the API docs');
    expect(() => buildIamPlan({ ...options, webassetsPublishers: ['docs@example.org'] })).toThrow(
      /--webassets-publisher: "docs@example.org" is not an IAM member/,
    );
    const cli = await gcpCli(
      'gcp',
      'plan',
      '--project',
      PROJECT,
      '--webassets-publisher',
      'serviceAccount:ci@p.iam.gserviceaccount.com',
    );
    expect(cli).toContain(
      `--member=serviceAccount:ci@p.iam.gserviceaccount.com --role=${OBJECT_ADMIN} '--condition=expression=resource.name.startsWith("projects/_/buckets/dyff-webassets-"),title=is-webassets-bucket'`,
    );
  });

  it('follows --prefix and --namespace', () => {
    const other = buildIamPlan({ project: 'p1', prefix: 'acme', namespace: 'eval' });
    const text = JSON.stringify(other.commands);
    expect(text).toContain('projects/_/buckets/acme-datasets-');
    expect(text).not.toContain('alignmentlabs');
    expect(text).toContain('serviceAccount:p1.svc.id.goog[eval/model-runner]');
    expect(text).toContain('serviceAccount:p1.svc.id.goog[eval/dyff-worker]');
    expect(text).toContain('--namespace=eval');
  });

  it('the shell script passes every argument to gcloud and kubectl exactly as planned', async () => {
    // Stand-ins for gcloud and kubectl record their arguments; "describe"/"get" fail, so everything is created.
    const dir = await mkdtemp(join(tmpdir(), 'dyff-plan-'));
    try {
      const log = join(dir, 'calls');
      for (const tool of ['gcloud', 'kubectl']) {
        await writeFile(
          join(dir, tool),
          `#!/bin/sh\ncase "$*" in *" describe "*|"get "*) exit 1;; esac\n{ printf '%s' "${tool}"; for a in "$@"; do printf '\\037%s' "$a"; done; printf '\\n'; } >>"${log}"\n`,
        );
        await chmod(join(dir, tool), 0o755);
      }
      await writeFile(join(dir, 'plan.sh'), planToShell(plan));
      await promisify(execFile)('bash', [join(dir, 'plan.sh')], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      const calls = (await readFile(log, 'utf8'))
        .trimEnd()
        .split('\n')
        .map((l) => l.split('\x1f'));
      expect(calls).toEqual(plan.commands.map((c) => c.argv));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('dyffctl gcp plan prints the plan from flags or config, and needs a project', async () => {
    const run = gcpCli;
    const json = JSON.parse(
      await run(
        'gcp',
        'plan',
        '--project',
        PROJECT,
        '--prefix',
        'alignmentlabs',
        '--namespace',
        'default',
        '--format',
        'json',
      ),
    ) as IamPlan;
    expect(json).toEqual(plan);
    const shell = await run('gcp', 'plan', '--project', PROJECT);
    expect(shell).toContain(
      `'--condition=expression=resource.name.startsWith("projects/_/buckets/dyff-models-"),title=is-models-bucket'`,
    );
    expect(shell).toContain('--namespace=dyff');
    await expect(run('gcp', 'plan')).rejects.toMatchObject({
      type: 'InvalidSpec',
      message: expect.stringContaining('--project'),
    });
  });
});
