import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { AuditRunRecord, ProcedureManifest } from '../domain/audit-procedure.js';
import type { AuditSpec } from '../domain/audit-spec.js';
import { artifactRefs, objectPath } from '../domain/object-layout.js';
import type { ServiceDescription } from '../domain/service.js';
import type { EntityInput } from './entity-lifecycle.js';
import { sessions, state } from './activity-proxies.js';
import { EntityLifecycle, StageFailure } from './entity-lifecycle.js';
import { requireValidInput } from './input.js';

export type AuditWorkflowInput = EntityInput<AuditSpec>;

export interface AuditResult {
  id: string;
  status: 'Complete';
  /** What the procedure published under `auditreports/<id>/`. */
  files: string[];
  /** The fetched procedure tree's sha256 (manifest.json): what exactly ran. */
  treeSha256: string;
}

/**
 * targets Ready/Complete → fetch-procedure job (the tree and its checksum in auditprocedures/<id>/) → the audited
 * service's session, when the procedure probes the model, opened to this audit's pods alone → run-audit job (the
 * procedure in its sandbox) → the session stopped (always: success, failure and cancel) → Complete, with what the
 * procedure wrote to auditreports/<id>/.
 */
export async function auditWorkflow(input: AuditWorkflowInput): Promise<AuditResult> {
  requireValidInput('auditWorkflow', input);
  const { id, spec } = input;
  const life = new EntityLifecycle('Audit', input);
  await life.create();
  return life.run(async () => {
    const dataset = await admit(life, spec);
    await life.transition(['Created'], 'Admitted');
    await life.runJob('fetch-procedure', { id, spec }, 'ProcedureFailed');
    const manifest = (await state.readJson(artifactRefs.procedureManifest(id))) as
      ProcedureManifest | undefined;
    if (!manifest)
      throw new StageFailure(
        'ProcedureFailed',
        `${objectPath(artifactRefs.procedureManifest(id))} was not written`,
      );
    const probes = manifest.descriptor.probesModel;
    if (probes && !spec.inferenceService)
      throw new StageFailure(
        'ProcedureFailed',
        'procedure.json says probesModel, but spec.inferenceService names no service to probe',
      );
    const service = spec.inferenceService
      ? await state.loadServiceDescription({ serviceId: spec.inferenceService })
      : undefined;
    const run = (endpoint: string) =>
      life.runJob('run-audit', { id, spec, endpoint, service, dataset }, 'AuditFailed');
    if (probes) await withSession(life, id, spec.inferenceService!, service!, run);
    else await run('');
    const record = (await state.readJson(artifactRefs.auditRecord(id))) as AuditRunRecord | undefined;
    if (!record)
      throw new StageFailure('AuditFailed', `${objectPath(artifactRefs.auditRecord(id))} was not written`);
    const procedure = {
      name: manifest.descriptor.name,
      treeSha256: manifest.treeSha256,
      source: manifest.source,
    };
    await life.transition(
      ['Admitted'],
      'Complete',
      undefined,
      `${procedure.name}: ${record.files.length} file(s) in auditreports/${id}/`,
      { procedure, files: record.files },
    );
    return { id, status: 'Complete', files: record.files, treeSha256: manifest.treeSha256 };
  });
}

/** Wait for every target; returns the dataset staged for the procedure (the spec's, or its evaluation's). */
async function admit(life: EntityLifecycle, spec: AuditSpec): Promise<string | undefined> {
  if (spec.inferenceService) await life.requireReady(spec.inferenceService, 'FailedDependency');
  if (spec.dataset) await life.requireReady(spec.dataset, 'DataSourceMissing');
  let dataset = spec.dataset;
  if (spec.evaluation) {
    const evaluation = await life.requireReady(spec.evaluation, 'NoSuchEvaluation');
    dataset ??= (evaluation.spec as { dataset?: string } | undefined)?.dataset;
  }
  if (spec.report) await life.requireReady(spec.report, 'FailedDependency');
  return dataset;
}

/** The session of the audited service around `body`, reachable by this audit's pods only, stopped always. */
async function withSession(
  life: EntityLifecycle,
  id: string,
  serviceId: string,
  description: ServiceDescription,
  body: (endpoint: string) => Promise<unknown>,
): Promise<void> {
  const name = `session-${id}`;
  try {
    life.view.stage = 'session';
    const session = await sessions
      .startSession({ name, entityId: id, serviceId, description })
      .catch((err: unknown) => {
        if (isCancellation(err)) throw err;
        const cause = (err as { cause?: Error }).cause ?? (err as Error);
        throw new StageFailure('AuditFailed', `the inference session did not become ready: ${cause.message}`);
      });
    await state.allowAuditSession({ name, auditId: id });
    await body(session.endpoint ?? '');
  } finally {
    await CancellationScope.nonCancellable(() => state.stopSession({ name }));
  }
}
