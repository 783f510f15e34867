import * as z from 'zod';
import { DockerBuilderConfigSchema } from './builder-config.js';
import { ScratchSettingsSchema } from './domain/step-resources.js';

/**
 * `runner: docker`: every step a container of the project image, every inference session a container on an
 * internal network of its evaluation. The engine is the local one (its socket), the image one built here
 * (`node scripts/docker-image.mjs` builds dyff-temporal:dev) or pulled.
 */
export const DockerConfigSchema = z
  .strictObject({
    /** The image holding `dyffctl` (entrypoint `node bin/dyffctl.mjs`), for steps and sessions. */
    image: z.string().min(1).default('dyff-temporal:dev'),
    /** The engine's socket. @default /var/run/docker.sock (or DOCKER_HOST's unix socket) */
    socketPath: z.string().min(1).optional(),
    /**
     * The network of steps that reach only storage, and joined by sessions: `none` when the object store is the
     * filesystem (a bind mount), else a network where the object store answers (an emulator's).
     */
    storageNetwork: z.string().min(1).default('none'),
    /** The network of steps that fetch from the internet. */
    internetNetwork: z.string().min(1).default('bridge'),
    /** `/tmp` (a tmpfs, counted against the memory limit) per step name or `session`, and for all not named. */
    ...ScratchSettingsSchema.shape,
    /** Image builds with `builder: docker` (see builder-config.ts). */
    builder: DockerBuilderConfigSchema,
  })
  .prefault({});
export type DockerConfig = z.infer<typeof DockerConfigSchema>;

export const DOCKER_ENV_PATHS: Record<string, string[]> = {
  DYFF_DOCKER_IMAGE: ['docker', 'image'],
  DYFF_DOCKER_SOCKET: ['docker', 'socketPath'],
  DYFF_DOCKER_STORAGE_NETWORK: ['docker', 'storageNetwork'],
};
