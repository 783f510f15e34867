/**
 * Environment variables a spec may not set on a session or step: the ones that make a loader or runtime run
 * code, read files or change where a program looks for things, and the platform's own settings and credentials.
 * A service's `runner.env` is checked against this list at validation, and again by the session runners (a
 * description stored before the check existed must not slip through).
 */
const DENIED_PREFIXES = [
  'NODE_',
  'NPM_',
  'LD_',
  'DYLD_',
  'PYTHON',
  'PERL5',
  'PERL_',
  'RUBY',
  'GEM_',
  'JAVA_',
  'JDK_',
  'DYFF_',
  'GOOGLE_',
  'GCLOUD_',
  'CLOUDSDK_',
  'HF_',
  'HUGGING_FACE_',
  'KUBERNETES_',
  'AWS_',
  'AZURE_',
  'TEMPORAL_',
  'GCONV_',
  'MALLOC_',
  'GLIBC_',
] as const;

const DENIED_NAMES = new Set([
  'PATH',
  'HOME',
  'SHELL',
  'USER',
  'BASH_ENV',
  'ENV',
  'IFS',
  'CDPATH',
  'PS4',
  'SHELLOPTS',
  'BASHOPTS',
  'PROMPT_COMMAND',
  'JAVA_TOOL_OPTIONS',
  '_JAVA_OPTIONS',
  'CLASSPATH',
  'GCONV_PATH',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'RES_OPTIONS',
  'NLSPATH',
  'TMPDIR',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'CURL_CA_BUNDLE',
  'REQUESTS_CA_BUNDLE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'ALL_PROXY',
  'NO_PROXY',
  'PORT',
  'UV_THREADPOOL_SIZE',
]);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why a spec may not set `name`, or undefined when it may. */
export function deniedEnvReason(name: string): string | undefined {
  if (!ENV_NAME.test(name)) return `${JSON.stringify(name)} is not a valid environment variable name`;
  const upper = name.toUpperCase();
  const prefix = DENIED_PREFIXES.find((p) => upper.startsWith(p));
  if (DENIED_NAMES.has(upper) || prefix) {
    return `${name} may not be set by a spec: it is a loader, runtime or platform variable (denied: ${prefix ? `${prefix}*` : upper})`;
  }
  return undefined;
}

/** The denied names of an environment, for runners that refuse it as a whole. */
export function deniedEnvNames(env: Record<string, unknown> | undefined): string[] {
  return Object.keys(env ?? {}).filter((k) => deniedEnvReason(k) !== undefined);
}
