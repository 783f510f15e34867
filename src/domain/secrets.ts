import * as z from 'zod';

/**
 * A secret named rather than held: `{secretRef: {name, key}}`, in the shape of a Kubernetes `secretKeyRef`. Specs,
 * histories, job arguments and service descriptions carry only this reference; the value is looked up where it is
 * used (the session process or pod, the evaluate or fetch-model step).
 */
export const SecretRef = z.strictObject({
  secretRef: z.strictObject({
    /** A Kubernetes Secret name, or the file `secrets/<name>.json` / key `<name>` of `secrets.yaml` locally. */
    name: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
      error: 'expected a lowercase secret name (letters, digits, dashes, dots)',
    }),
    key: z.string().regex(/^[-._a-zA-Z0-9]{1,253}$/, {
      error: 'expected a secret key (letters, digits, dashes, underscores, dots)',
    }),
  }),
});
export type SecretRef = z.infer<typeof SecretRef>;

/** An environment value: plain text (not secret), or a reference to a secret. */
export const EnvValue = z.union([z.string(), SecretRef], {
  error: 'expected a string or {secretRef: {name, key}}',
});
export type EnvValue = z.infer<typeof EnvValue>;

export const isSecretRef = (v: unknown): v is SecretRef =>
  typeof v === 'object' && v !== null && 'secretRef' in v;

/**
 * The variable that carries a secret into a step whose runner resolved the reference for it (a `secretKeyRef` in a
 * Job's pod): `DYFF_SECRET_<NAME>__<KEY>`, upper-cased, other characters as `_`.
 */
export function secretEnvName({ secretRef }: SecretRef): string {
  const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `DYFF_SECRET_${part(secretRef.name)}__${part(secretRef.key)}`;
}

export const describeSecretRef = ({ secretRef }: SecretRef) => `secret ${secretRef.name}/${secretRef.key}`;
