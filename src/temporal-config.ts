import * as z from 'zod';

/**
 * The `temporal` section of the configuration: where the server is and how to reach it (TLS, mTLS, API key) —
 * used by the worker, `DyffClient` and `dyffctl` alike (`temporalConnectionOptions`) — and payload encryption.
 */
export const TemporalConfigSchema = z
  .strictObject({
    /** @default localhost:7233 */
    address: z.string().default('localhost:7233'),
    namespace: z.string().default('default'),
    taskQueue: z.string().default('dyff'),
    /** @default http://localhost:8233 */
    uiUrl: z.string().default('http://localhost:8233'),
    /** How long `--wait` and `DyffClient.wait` keep retrying while the server is unreachable. @default 300 */
    unreachableTimeoutSeconds: z.number().positive().default(300),
    /** On SIGTERM a worker finishes its in-flight tasks for this long before it stops. @default 30 */
    shutdownGraceSeconds: z.number().nonnegative().default(30),
    /**
     * TLS to the server. On when `enabled` is true or any other field (or an API key) is set. For mTLS, a client
     * certificate and its key; for a private CA, its certificate; `serverName` overrides the name checked in the
     * server's certificate (a proxy in front of the server).
     */
    tls: z
      .strictObject({
        enabled: z.boolean().optional(),
        /** PEM file of the CA that signed the server's certificate; the system's roots when unset. */
        caFile: z.string().min(1).optional(),
        /** PEM files of the client certificate and its key, for mTLS. */
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        serverName: z.string().min(1).optional(),
      })
      .refine((t) => !t.certFile === !t.keyFile, {
        error: 'certFile and keyFile go together (the client certificate and its key)',
      })
      .prefault({}),
    /** An API key (Temporal Cloud): sent as a bearer token; turns TLS on. Prefer `apiKeyFile` or the variable. */
    apiKey: z.string().min(1).optional(),
    /** A file holding the API key, e.g. a mounted Secret. */
    apiKeyFile: z.string().min(1).optional(),
    /** Payload encryption (AES-256-GCM): off until keys are configured. */
    codec: z
      .strictObject({
        /** The first key encrypts, every key decrypts (rotation). `DYFF_CODEC_KEYS=id:base64,…` */
        keys: z
          .array(
            z.strictObject({
              id: z
                .string()
                .regex(/^[-._A-Za-z0-9]{1,64}$/, { error: 'expected a key id (letters, digits, -._)' }),
              /** 32 bytes, base64. */
              key: z.string().optional(),
              /** A file holding the base64 key, e.g. a mounted Secret. */
              keyFile: z.string().optional(),
            }),
          )
          .default([]),
        /** Port of `dyffctl codec-server` (and of the one `dyffctl dev` starts). @default 8234 */
        port: z.number().int().min(0).max(65535).default(8234),
      })
      .prefault({}),
  })
  .prefault({});
export type TemporalConfig = z.infer<typeof TemporalConfigSchema>;

/** `DYFF_*` variables of the section, by their path in the configuration. */
export const TEMPORAL_ENV_PATHS: Record<string, string[]> = {
  DYFF_TEMPORAL_ADDRESS: ['temporal', 'address'],
  DYFF_TEMPORAL_NAMESPACE: ['temporal', 'namespace'],
  DYFF_TASK_QUEUE: ['temporal', 'taskQueue'],
  DYFF_TEMPORAL_UI_URL: ['temporal', 'uiUrl'],
  DYFF_TEMPORAL_TLS_CA: ['temporal', 'tls', 'caFile'],
  DYFF_TEMPORAL_TLS_CERT: ['temporal', 'tls', 'certFile'],
  DYFF_TEMPORAL_TLS_KEY: ['temporal', 'tls', 'keyFile'],
  DYFF_TEMPORAL_TLS_SERVER_NAME: ['temporal', 'tls', 'serverName'],
  DYFF_TEMPORAL_API_KEY: ['temporal', 'apiKey'],
  DYFF_TEMPORAL_API_KEY_FILE: ['temporal', 'apiKeyFile'],
};
