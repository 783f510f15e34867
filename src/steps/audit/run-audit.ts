import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { AuditRunRecord, ProcedureManifest } from '../../domain/audit-procedure.js';
import type { AuditSpec } from '../../domain/audit-spec.js';
import { auditProcedureKeys, auditReportKeys } from '../../domain/object-layout.js';
import type { ServiceDescription } from '../../domain/service.js';
import type { StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import { hashFile } from '../fetch/hash.js';
import { runSandboxed } from './sandbox.js';
import { stageInputs } from './stage-inputs.js';

export interface RunAuditInput {
  id: string;
  spec: AuditSpec;
  options: Record<string, string | undefined>;
}

/** What a procedure may publish: its page, JSON results and standalone charts; everything else stays behind. */
const PUBLISHED = /^(index\.html|[\w.-]+\.(json|svg))$/;
const MAX_PUBLISHED_BYTES = 32 * 1024 * 1024;
const LOG_TAIL = 20;

/**
 * The run-audit step: the fetched procedure (each file checked against its manifest's sha256) and its inputs are
 * staged, the procedure runs sandboxed (sandbox.ts) with the session's URL as its one endpoint, and what it wrote
 * to its output folder (`index.html`, `*.json`, `*.svg`) becomes `auditreports/<id>/`, with the run's record in
 * `.dyff/audit.json`. A procedure that exits non-zero or writes no index.html fails with exit 2: a retry of the
 * same code on the same inputs cannot do better.
 */
export async function runAudit(
  ctx: StepContext,
  { id, spec, options }: RunAuditInput,
): Promise<AuditRunRecord> {
  const started = Date.now();
  const scratch = join(ctx.workDir, id);
  await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  const layout = {
    procedure: join(scratch, 'procedure'),
    inputs: join(scratch, 'inputs'),
    output: join(scratch, 'output'),
    home: join(scratch, 'home'),
  };
  for (const d of Object.values(layout)) await mkdir(d, { recursive: true });
  try {
    const manifest = await loadProcedure(ctx, id, layout.procedure);
    const service = options.service ? (JSON.parse(options.service) as ServiceDescription) : undefined;
    const req = { spec, descriptor: manifest.descriptor, dataset: options.dataset, service };
    const inputs = await stageInputs(ctx, req, layout.inputs);
    const endpoint = options.endpoint ? serviceUrl(options.endpoint, service) : '';
    if (manifest.descriptor.probesModel && !endpoint)
      throw invalidInput(
        'the procedure probes the model (procedure.json probesModel): set spec.inferenceService',
      );
    const tail: string[] = [];
    ctx.log.info(`run procedure ${manifest.descriptor.name} (${manifest.descriptor.entrypoint})`);
    const exitCode = await runSandboxed({
      entrypoint: manifest.descriptor.entrypoint,
      layout,
      env: {
        DYFF_AUDIT_ID: id,
        DYFF_AUDIT_INPUTS: layout.inputs,
        DYFF_AUDIT_OUTPUT: layout.output,
        DYFF_AUDIT_PARAMETERS: join(layout.inputs, 'parameters.json'),
        ...(endpoint ? { DYFF_AUDIT_ENDPOINT: endpoint } : {}),
      },
      onLine: (line) => {
        ctx.log.info(`procedure: ${line}`);
        tail.push(line);
        if (tail.length > LOG_TAIL) tail.shift();
      },
      signal: ctx.signal,
    });
    if (ctx.signal?.aborted) throw new Error('cancelled while the procedure ran');
    const entry = manifest.descriptor.entrypoint;
    if (exitCode !== 0)
      throw invalidInput(
        `the procedure's entrypoint ${entry} exited with code ${exitCode}${lastLines(tail)}`,
      );
    const files = await publish(ctx, id, layout.output);
    const record: AuditRunRecord = {
      auditId: id,
      procedure: { name: manifest.descriptor.name, treeSha256: manifest.treeSha256 },
      exitCode,
      files,
      inputs,
      ...(endpoint ? { endpoint } : {}),
      durationMs: Date.now() - started,
    };
    await ctx.objectStore.put('auditreports', auditReportKeys.record(id), JSON.stringify(record, null, 2), {
      contentType: 'application/json',
    });
    ctx.log.info(`wrote auditreports/${id}/: ${files.join(', ')}`);
    return record;
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function loadProcedure(ctx: StepContext, id: string, dir: string): Promise<ProcedureManifest> {
  const raw = await ctx.objectStore.getBuffer('auditprocedures', auditProcedureKeys.manifest(id));
  const manifest = JSON.parse(raw.toString('utf8')) as ProcedureManifest;
  for (const f of manifest.files) {
    const local = join(dir, f.path);
    await mkdir(dirname(local), { recursive: true });
    await pipeline(
      await ctx.objectStore.get('auditprocedures', auditProcedureKeys.file(id, f.path)),
      createWriteStream(local, { mode: 0o444 }),
    );
    if ((await hashFile(local)).sha256 !== f.sha256)
      throw invalidInput(`auditprocedures/${id}/files/${f.path} does not match its manifest's sha256`);
  }
  return manifest;
}

/** The URL the procedure sends requests to: the service's own path under the session's base URL. */
function serviceUrl(base: string, service: ServiceDescription | undefined): string {
  const path = (service as { endpoint?: string } | undefined)?.endpoint;
  if (!path || /^https?:\/\//.test(path)) return path ?? base;
  return `${base.replace(/\/$/, '')}/${path.replace(/^\//, '')}`;
}

async function publish(ctx: StepContext, id: string, output: string): Promise<string[]> {
  const names = (await readdir(output)).filter((n) => PUBLISHED.test(n)).sort();
  if (!names.includes('index.html'))
    throw invalidInput('the procedure wrote no index.html to its output folder (DYFF_AUDIT_OUTPUT)');
  let total = 0;
  for (const name of names) {
    total += (await stat(join(output, name))).size;
    if (total > MAX_PUBLISHED_BYTES)
      throw invalidInput(`the procedure's output is larger than ${MAX_PUBLISHED_BYTES / 1024 / 1024} MiB`);
  }
  for (const name of names) {
    const contentType = name.endsWith('.html')
      ? 'text/html'
      : name.endsWith('.svg')
        ? 'image/svg+xml'
        : 'application/json';
    await ctx.objectStore.put(
      'auditreports',
      auditReportKeys.file(id, name),
      createReadStream(join(output, name)),
      {
        contentType,
      },
    );
  }
  return names;
}

const lastLines = (tail: string[]) =>
  tail.length ? `\n--- last procedure lines ---\n${tail.join('\n')}` : '';
