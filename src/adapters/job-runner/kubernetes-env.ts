import type { V1EnvVar } from '@kubernetes/client-node';
import type { EnvValue, SecretRef } from '../../domain/secrets.js';
import { isSecretRef, secretEnvName } from '../../domain/secrets.js';

/**
 * A container's env: plain values as they are, secret references as `secretKeyRef`s, so that the value goes from
 * the Secret to the pod and never through the worker, the Deployment or the Job object.
 */
export function envVars(env: Record<string, EnvValue>): V1EnvVar[] {
  return Object.entries(env).map(([name, value]) =>
    isSecretRef(value) ? { name, valueFrom: { secretKeyRef: { ...value.secretRef } } } : { name, value },
  );
}

/** The variables through which a step receives the secrets it was granted (see `secretEnvName`). */
export function secretEnv(secrets: readonly SecretRef[] | undefined): Record<string, EnvValue> {
  return Object.fromEntries((secrets ?? []).map((ref) => [secretEnvName(ref), ref]));
}
