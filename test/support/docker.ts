import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import Docker from 'dockerode';

/*
 * The Docker engine and images the docker runner tests use. The scripts start dockerd (installing docker.io when
 * needed) and build the images, cached; where no engine can be started the tests skip, naming why.
 */
const ROOT = resolve(import.meta.dirname, '../..');

function script(args: string[]): { ok: true; out: string } | { ok: false; why: string } {
  try {
    const out = execFileSync(process.execPath, [resolve(ROOT, 'scripts', args[0]!), ...args.slice(1)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, out: out.trim() };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return { ok: false, why: (e.stderr?.trim() || e.message).split('\n').slice(-3).join(' ') };
  }
}

const engine =
  process.env.DYFF_SKIP_DOCKER === '1'
    ? { ok: false as const, why: 'DYFF_SKIP_DOCKER=1' }
    : script(['docker-engine.mjs', '--quiet']);
/** Why the docker tests skip, or undefined when an engine answers. */
export const noDocker: string | undefined = engine.ok ? undefined : engine.why;
if (noDocker) console.warn(`docker runner tests skipped: ${noDocker}`);

export const docker = new Docker();

/** The Debian base (node, no project code): what the contract suites run the fake step and a fake server in. */
export function baseImage(): string {
  const r = script(['docker-image.mjs', '--base-only']);
  if (!r.ok) throw new Error(`base image: ${r.why}`);
  return r.out.split('\n').at(-1)!;
}

/** The project image (`dyffctl` with dist/ and the production modules), rebuilt only when its inputs changed. */
export function projectImage(): string {
  const r = script(['docker-image.mjs', '--quiet']);
  if (!r.ok) throw new Error(`project image: ${r.why}`);
  return r.out.split('\n').at(-1)!;
}

/** Remove every container and network this project made for an entity (a test's leftovers). */
export async function removeEntityContainers(entityId: string): Promise<void> {
  const found = await docker.listContainers({
    all: true,
    filters: { label: [`io.dyff.entity=${entityId}`] },
  });
  await Promise.all(
    found.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
}

/** Run a command inside a running container (as its own user, in its namespaces); its exit code and output. */
export async function execIn(name: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const exec = await docker.getContainer(name).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = { write: (b: Buffer) => chunks.push(Buffer.from(b)) } as unknown as NodeJS.WritableStream;
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise<void>((resolve) => stream.on('end', () => resolve()));
  const info = await exec.inspect();
  return { code: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
}

/**
 * A TCP connection attempt from inside a container: `open`, or why not (`ECONNREFUSED`, `EHOSTUNREACH`,
 * `timeout`…). Only for the project's own addresses: its containers and this machine's ports.
 */
export async function connectFrom(name: string, host: string, port: number): Promise<string> {
  const script = `const s=require('net').connect(${port},'${host}');s.setTimeout(3000);s.on('connect',()=>{console.log('open');s.destroy()});s.on('timeout',()=>{console.log('timeout');s.destroy()});s.on('error',(e)=>console.log(e.code||e.message))`;
  return (await execIn(name, ['node', '-e', script])).output.trim();
}
