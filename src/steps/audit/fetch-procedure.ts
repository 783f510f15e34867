import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import type { ProcedureManifest } from '../../domain/audit-procedure.js';
import { PROCEDURE_FILE, ProcedureDescriptor } from '../../domain/audit-procedure.js';
import type { AuditSpec } from '../../domain/audit-spec.js';
import { auditProcedureKeys } from '../../domain/object-layout.js';
import type { StepContext } from '../context.js';
import { invalidInput } from '../errors.js';
import { resolveLocalSource } from '../fetch/local-roots.js';
import { cloneAt } from './git-source.js';
import { hashTree, isDirectory } from './tree.js';

/**
 * The fetch-procedure step: the audit's procedure (a Git commit, a folder of the auditprocedures bucket, or a
 * local directory) → `auditprocedures/<id>/files/` and `manifest.json` with every file's sha256 and the tree's.
 * `procedure.json` is checked here, so a procedure that cannot run fails before any session is started.
 */
export async function fetchProcedure(
  ctx: StepContext,
  { id, spec, source }: { id: string; spec: AuditSpec; source?: string },
): Promise<ProcedureManifest> {
  const scratch = join(ctx.workDir, id);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    const { root, location, revision } = await materialize(ctx, spec, source, scratch);
    if (!(await isDirectory(root))) throw invalidInput(`spec.procedure: ${location} is not a directory`);
    const { files, treeSha256 } = await hashTree(root, location);
    const descriptor = await readDescriptor(
      root,
      files.map((f) => f.path),
      location,
    );
    const store = ctx.objectStore;
    // A refetch replaces the tree: files the source no longer has go first.
    for (const old of await store.list('auditprocedures', auditProcedureKeys.files(id)))
      await store.delete('auditprocedures', old.key);
    for (const f of files)
      await store.put(
        'auditprocedures',
        auditProcedureKeys.file(id, f.path),
        createReadStream(join(root, f.path)),
      );
    const manifest: ProcedureManifest = {
      auditId: id,
      source: { kind: spec.procedure.kind, location, ...(revision ? { revision } : {}) },
      descriptor,
      files,
      treeSha256,
      fetchedAt: new Date().toISOString(),
    };
    await store.put('auditprocedures', auditProcedureKeys.manifest(id), JSON.stringify(manifest, null, 2), {
      contentType: 'application/json',
    });
    ctx.log.info(`procedure ${descriptor.name}: ${files.length} file(s), tree sha256 ${treeSha256}`);
    return manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function materialize(ctx: StepContext, spec: AuditSpec, source: string | undefined, scratch: string) {
  const p = spec.procedure;
  if (p.kind === 'git') {
    const root = await cloneAt(ctx, p, join(scratch, 'checkout'));
    return { root, location: `${p.url}${p.path ? ` (${p.path})` : ''}`, revision: p.revision };
  }
  if (p.kind === 'local') {
    const { real } = await resolveLocalSource(p.path, ctx.sources.localRoots, 'spec.procedure.path');
    return { root: real, location: p.path };
  }
  const prefix = `${source ?? p.prefix.slice(0, -1)}/`;
  const objects = await ctx.objectStore.list('auditprocedures', prefix);
  if (objects.length === 0)
    throw invalidInput(`spec.procedure.prefix: auditprocedures/${prefix} has no objects`);
  const root = join(scratch, 'objects');
  for (const o of objects) {
    const local = join(root, o.key.slice(prefix.length));
    await mkdir(dirname(local), { recursive: true });
    await pipeline(await ctx.objectStore.get('auditprocedures', o.key), createWriteStream(local));
  }
  return { root, location: `auditprocedures/${prefix}` };
}

/** procedure.json, parsed, with its entrypoint present: errors name the file and the field. */
async function readDescriptor(root: string, paths: string[], location: string): Promise<ProcedureDescriptor> {
  if (!paths.includes(PROCEDURE_FILE))
    throw invalidInput(`${location}: no ${PROCEDURE_FILE} (a procedure names its entrypoint there)`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(root, PROCEDURE_FILE), 'utf8'));
  } catch (err) {
    throw invalidInput(`${location}: ${PROCEDURE_FILE} is not JSON: ${(err as Error).message}`);
  }
  const parsed = ProcedureDescriptor.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw invalidInput(`${location}: ${PROCEDURE_FILE}: ${why}`);
  }
  if (!paths.includes(parsed.data.entrypoint))
    throw invalidInput(
      `${location}: ${PROCEDURE_FILE}: entrypoint ${parsed.data.entrypoint} is not a file of the procedure`,
    );
  return parsed.data;
}
