import type { SecretRef } from '../../domain/secrets.js';
import { ErrorType } from '../../domain/errors.js';
import type { SecretResolver } from '../../secrets/resolver.js';
import { invalidInput } from '../errors.js';

/**
 * Where the Hugging Face Hub is and who we are to it, shared by fetch-model and fetch-data. Taken from the
 * environment, never from a spec (specs are stored); a spec may only name a token by reference.
 */
export interface HubAccess {
  /** `HF_ENDPOINT`. @default https://huggingface.co */
  endpoint: string;
  /** `HF_TOKEN`, sent as `Authorization: Bearer`. */
  token?: string;
}

export function hubAccessFromEnv(env: NodeJS.ProcessEnv = process.env): HubAccess {
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || undefined,
  };
}

/** A token the spec names replaces the worker's HF_TOKEN; it is resolved here, in the step that sends it. */
export async function withSpecToken(
  access: HubAccess,
  token: SecretRef | undefined,
  secrets: SecretResolver,
): Promise<HubAccess> {
  return token ? { ...access, token: await secrets.resolve(token) } : access;
}

export const hubAuthHeaders = (access: HubAccess): Record<string, string> =>
  access.token ? { authorization: `Bearer ${access.token}` } : {};

/** `<endpoint>/<repo path>/resolve/<commit>/<file>`, each path segment escaped. */
export function resolveUrl(access: HubAccess, repoPath: string, commit: string, path: string): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return `${access.endpoint}/${repoPath}/resolve/${commit}/${encoded}`;
}

/**
 * The Hub answers 401 both for a private or gated repo without a token and for a repo that does not exist (so
 * as not to reveal which); its `X-Error-Message` header says more. Either way the user must fix something.
 */
export async function hubError(res: Response, what: string, access: HubAccess): Promise<Error> {
  await res.body?.cancel();
  const detail = res.headers.get('x-error-message');
  const hint =
    res.status === 401 || res.status === 403
      ? access.token
        ? 'not found, or the token has no access to it'
        : 'not found, private or gated: set HF_TOKEN or spec.source.token to a token with access'
      : res.status === 404
        ? 'not found'
        : res.statusText;
  const type = res.status === 404 || res.status === 401 ? ErrorType.NotFound : ErrorType.SourceUnavailable;
  return invalidInput(`${what}: HTTP ${res.status} (${detail ?? hint})`, type, { status: res.status });
}
