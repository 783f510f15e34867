import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { EnvValue, SecretRef } from '../domain/secrets.js';
import { describeSecretRef, isSecretRef, secretEnvName } from '../domain/secrets.js';

/**
 * Looks a secret reference up where its value is used. Sources, first wins:
 *
 * 1. the variable `DYFF_SECRET_<NAME>__<KEY>` (how a pod receives a `secretKeyRef`, or an operator a local one);
 * 2. `<dataHome>/secrets/<name>.json`, an object of key → value;
 * 3. `<dataHome>/secrets.yaml`, a mapping of name → key → value.
 *
 * A secrets file readable by group or others is refused, not read: a secret that anyone on the machine can read
 * is already lost, and an operator should learn that from the first run.
 */
export interface SecretResolver {
  resolve(ref: SecretRef): Promise<string>;
}

export interface LocalSecretsOptions {
  dataHome: string;
  env?: NodeJS.ProcessEnv;
}

export function localSecrets({ dataHome, env = process.env }: LocalSecretsOptions): SecretResolver {
  return {
    async resolve(ref) {
      const fromEnv = env[secretEnvName(ref)];
      if (fromEnv !== undefined) return fromEnv;
      const { name, key } = ref.secretRef;
      const perName = await readSecretsFile(join(dataHome, 'secrets', `${name}.json`), JSON.parse);
      if (perName !== undefined) return pick(perName, key, ref, join(dataHome, 'secrets', `${name}.json`));
      // Imported here, not on load: most steps resolve no secret, and start faster without the YAML parser.
      const { parse } = await import('yaml');
      const all = await readSecretsFile(join(dataHome, 'secrets.yaml'), parse);
      const entry = all !== undefined && isObject(all) ? all[name] : undefined;
      if (entry !== undefined) return pick(entry, key, ref, join(dataHome, 'secrets.yaml'));
      throw new DyffError(
        ErrorType.InvalidSpec,
        `${describeSecretRef(ref)} not found: set ${secretEnvName(ref)}, or add it to ${join(dataHome, 'secrets', `${name}.json`)} or ${join(dataHome, 'secrets.yaml')} (mode 0600)`,
      );
    },
  };
}

/** Plain values stay; references are resolved. For the environment of a process that needs the values. */
export async function resolveEnv(
  env: Record<string, EnvValue> | undefined,
  secrets: SecretResolver,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env ?? {})) {
    out[name] = isSecretRef(value) ? await secrets.resolve(value) : value;
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

async function readSecretsFile(path: string, parse: (text: string) => unknown): Promise<unknown> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if ((mode & 0o077) !== 0) {
    throw new DyffError(
      ErrorType.InvalidSpec,
      `${path}: secrets file is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  try {
    return parse(await readFile(path, 'utf8'));
  } catch (err) {
    // The parser's message may quote the file's content: name the file, not what is in it.
    throw new DyffError(ErrorType.InvalidSpec, `${path}: not a valid secrets file (${(err as Error).name})`);
  }
}

function pick(entry: unknown, key: string, ref: SecretRef, path: string): string {
  const value = isObject(entry) ? entry[key] : undefined;
  if (typeof value === 'string') return value;
  throw new DyffError(
    ErrorType.InvalidSpec,
    `${describeSecretRef(ref)}: ${path} has no string value for key ${JSON.stringify(key)}`,
  );
}
