import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { gcpCli } from '../support/gcp-cli.js';
import { buildJob } from '../../src/adapters/job-runner/kubernetes-job-manifest.js';
import { sessionDeployment } from '../../src/adapters/session-runner/kubernetes-manifest.js';
import { AUDIT_IDENTITY, WORKER_IDENTITY } from '../../src/domain/identities.js';
import { newId } from '../../src/domain/ids.js';
import type { Access } from '../../src/domain/step-contract.js';
import {
  SESSION_ENTRY,
  STEP_CATALOGUE,
  STEP_NAMES,
  grantsOf,
  stepArgs,
} from '../../src/domain/step-catalogue.js';
import { stepEnvironment } from '../../src/domain/step-environment.js';
import { buildIamPlan } from '../../src/gcp/iam-plan.js';
import { stepServiceAccountsYaml } from '../../src/gcp/k8s-service-accounts.js';
import { STEPS } from '../../src/steps/index.js';

/*
 * The step catalogue, the IAM plan and the ServiceAccounts in k8s/ must agree: every grant a step declares is
 * covered by its account's roles and no role is wider than some grant needs, every identity a Job or session runs
 * as exists in k8s/ with the Workload Identity annotation of its Google account, and nothing else does.
 */
const K8S = resolve(import.meta.dirname, '../../k8s');
const PROJECT = 'PROJECT_ID';
const plan = buildIamPlan({ project: PROJECT, prefix: 'dyff', namespace: 'dyff' });

/** What each storage role allows, from Google's role descriptions. */
const PERMITS: Record<string, readonly Access[]> = {
  'roles/storage.objectViewer': ['read'],
  'roles/storage.objectCreator': ['create'],
  'roles/storage.objectAdmin': ['read', 'create', 'overwrite', 'delete'],
};

/** Every (identity, grant) the catalogue declares, step by step and for the session. */
const DECLARED = [
  ...STEP_NAMES.map((n) => ({
    program: n,
    identity: STEP_CATALOGUE[n].identity,
    grants: grantsOf(STEP_CATALOGUE[n]),
  })),
  { program: 'session', identity: SESSION_ENTRY.identity, grants: [...SESSION_ENTRY.grants] },
];

async function k8sAccounts(file: string) {
  const docs = parseAllDocuments(await readFile(resolve(K8S, file), 'utf8')).map((d) => d.toJS());
  return docs.filter((d) => d?.kind === 'ServiceAccount');
}

describe('step catalogue', () => {
  it('has one step program per entry, and the catalogue builds the arguments dyffctl step takes', () => {
    expect(Object.keys(STEPS).sort()).toEqual([...STEP_NAMES].sort());
    const id = newId();
    const spec = { source: { kind: 'http' as const, url: 'https://example.org/a.csv' } };
    expect(stepArgs('fetch-data', { id, spec } as never)).toEqual([
      'fetch-data',
      '--id',
      id,
      '--spec',
      JSON.stringify(spec),
    ]);
  });

  it('every grant of every step is covered by the storage roles of its account in the IAM plan', () => {
    for (const { program, identity, grants } of DECLARED) {
      const account = plan.serviceAccounts.find((s) => s.name === identity);
      expect({ program, identity, inPlan: Boolean(account) }).toEqual({ program, identity, inPlan: true });
      for (const grant of grants) {
        const allowed = new Set(
          account!.storage
            .filter((s) => s.categories.includes(grant.category))
            .flatMap((s) => PERMITS[s.role] ?? []),
        );
        const missing = grant.access.filter((a) => !allowed.has(a));
        expect({ program, identity, category: grant.category, missing }).toEqual({
          program,
          identity,
          category: grant.category,
          missing: [],
        });
      }
    }
  });

  it('no storage role of a step account is wider than what its programs declare', () => {
    for (const account of plan.serviceAccounts.filter((s) => DECLARED.some((d) => d.identity === s.name))) {
      const grants = DECLARED.filter((d) => d.identity === account.name).flatMap((d) => d.grants);
      for (const { role, categories } of account.storage) {
        for (const category of categories) {
          const needed = new Set(grants.filter((g) => g.category === category).flatMap((g) => g.access));
          // The role is needed (it allows something declared) and no narrower role would do.
          expect({
            account: account.name,
            role,
            category,
            used: PERMITS[role]!.some((a) => needed.has(a)),
          }).toMatchObject({
            used: true,
          });
          if (role === 'roles/storage.objectAdmin')
            expect({
              account: account.name,
              category,
              needsAdmin: needed.has('overwrite') || needed.has('delete'),
            }).toMatchObject({
              needsAdmin: true,
            });
        }
      }
    }
  });

  it('k8s/step-serviceaccounts.yaml is what the catalogue generates, one annotated account per identity', async () => {
    expect(await readFile(resolve(K8S, 'step-serviceaccounts.yaml'), 'utf8')).toBe(stepServiceAccountsYaml());
    const accounts = await k8sAccounts('step-serviceaccounts.yaml');
    const names = accounts.map((a) => a.metadata.name).sort();
    const expected = [...new Set([...DECLARED.map((d) => d.identity), AUDIT_IDENTITY])].sort();
    expect(names).toEqual(expected);
    const [worker] = await k8sAccounts('worker-rbac.yaml');
    // The IAM plan's accounts are exactly those of k8s/, each annotated with its Google account.
    expect(plan.serviceAccounts.map((s) => s.name).sort()).toEqual([...names, worker.metadata.name].sort());
    for (const sa of [...accounts, worker]) {
      const email = plan.serviceAccounts.find((s) => s.name === sa.metadata.name)!.email;
      expect(sa.metadata.annotations['iam.gke.io/gcp-service-account']).toBe(email);
      expect(plan.commands.map((c) => c.argv.join(' '))).toContain(
        `kubectl annotate serviceaccount ${sa.metadata.name} --namespace=dyff --overwrite iam.gke.io/gcp-service-account=${email}`,
      );
    }
    expect(worker.metadata.name).toBe(WORKER_IDENTITY);
    expect(accounts.every((a) => a.automountServiceAccountToken === false)).toBe(true);
  });

  it('dyffctl gcp k8s-accounts prints the file, for another namespace and project on request', async () => {
    const run = gcpCli;
    expect(await run('gcp', 'k8s-accounts')).toBe(
      await readFile(resolve(K8S, 'step-serviceaccounts.yaml'), 'utf8'),
    );
    const other = await run('gcp', 'k8s-accounts', '--namespace', 'eval', '--project', 'p1');
    expect(other).toContain('namespace: eval');
    expect(other).toContain('iam.gke.io/gcp-service-account: evaluation-client@p1.iam.gserviceaccount.com');
  });

  it("each step's Job and each session run as the catalogue's identity, with the catalogue's environment", () => {
    const entityId = newId();
    const worker = {
      HF_ENDPOINT: 'http://127.0.0.1:9',
      HF_TOKEN: 'never-in-a-manifest',
      SECRET_OF_WORKER: 'x',
    };
    for (const name of STEP_NAMES) {
      const entry = STEP_CATALOGUE[name];
      const job = buildJob(
        {
          name: `${entityId}-${entry.stage}-1`,
          entityId,
          stage: entry.stage,
          args: [name],
          serviceAccount: entry.identity,
        },
        {
          image: 'i',
          imagePullPolicy: 'Never',
          argsPrefix: ['step'],
          env: {},
          workerEnv: worker,
          ttlSecondsAfterFinished: 60,
          runAsUser: 1000,
        },
      );
      const pod = job.spec!.template.spec!;
      expect(pod.serviceAccountName).toBe(entry.identity);
      const env = Object.fromEntries((pod.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
      for (const setting of entry.environment.settings)
        expect(env[setting]).toBe(worker[setting as keyof typeof worker]);
      expect(Object.keys(env).filter((k) => k in worker && !entry.environment.settings.includes(k))).toEqual(
        [],
      );
    }
    const session = sessionDeployment(
      {
        name: `session-${entityId}`,
        entityId,
        serviceAccount: SESSION_ENTRY.identity,
        description: { serviceId: entityId, runner: 'standalone', endpoint: '/infer', interface: {} },
      },
      {},
    );
    expect(session.spec!.template.spec!.serviceAccountName).toBe('model-runner');
  });

  it("a local step gets the worker's NODE_EXTRA_CA_CERTS only where it may open a TLS connection, to read then", () => {
    const worker = { PATH: '/usr/bin', NODE_EXTRA_CA_CERTS: '/etc/proxy-ca.pem' };
    const trust = (program: string, objectStore: string, placement: 'local' | 'pod' = 'local') => {
      const env = stepEnvironment(program, { config: { DYFF_OBJECT_STORE: objectStore }, worker, placement });
      return { node: env.NODE_EXTRA_CA_CERTS, step: env.DYFF_EXTRA_CA_CERTS };
    };
    // A step reads the file at its first TLS connection (DYFF_EXTRA_CA_CERTS), never as Node starts.
    const read = { node: undefined, step: '/etc/proxy-ca.pem' };
    const none = { node: undefined, step: undefined };
    for (const name of STEP_NAMES) {
      const storageOnly = STEP_CATALOGUE[name].network !== 'internet';
      // With the filesystem store, a step that reaches only the store opens no TLS connection.
      expect(trust(name, 'filesystem'), name).toEqual(storageOnly ? none : read);
      // With Cloud Storage, every step may.
      expect(trust(name, 'gcs'), name).toEqual(read);
      // A pod has its image's trust, not the worker host's.
      expect(trust(name, 'gcs', 'pod'), name).toEqual(none);
    }
    expect(trust('session', 'filesystem')).toEqual({ node: '/etc/proxy-ca.pem', step: undefined });
    expect(trust('not-a-step', 'filesystem')).toEqual({ node: '/etc/proxy-ca.pem', step: undefined });
  });

  it('the fetch steps take the Hub token a spec names by reference, and only that one', () => {
    const token = { secretRef: { name: 'hub', key: 'token' } };
    const id = newId();
    const hubData = { kind: 'huggingFaceHub', repoID: 'acme/mails', revision: 'main', token } as const;
    const dataSpec = (source: unknown) => ({ id, spec: { source, ingest: { format: 'auto' } } }) as never;
    expect(STEP_CATALOGUE['fetch-data'].secrets?.(dataSpec(hubData))).toEqual([token]);
    expect(STEP_CATALOGUE['fetch-data'].secrets?.(dataSpec({ ...hubData, token: undefined }))).toEqual([]);
    expect(STEP_CATALOGUE['fetch-data'].secrets?.(dataSpec({ kind: 'gcs', uri: 'gs://b/x.csv' }))).toEqual(
      [],
    );
    const model = { id, spec: { source: { ...hubData, repoID: 'acme/bert' } } } as never;
    expect(STEP_CATALOGUE['fetch-model'].secrets?.(model)).toEqual([token]);
  });
});
