import type { CreateBucketRequest } from '@google-cloud/storage';
import { Storage } from '@google-cloud/storage';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { DyffError } from '../domain/errors.js';
import type { Category } from '../domain/kinds.js';
import { CATEGORIES } from '../domain/kinds.js';

/**
 * Buckets per category, named as the deployment notes settled on: `<prefix>-<category>-<16 random hex>`. The random
 * suffix keeps the globally visible name from telling what is inside, and makes it unique worldwide.
 */

/** Where a location is not given: one region, as the notes regret having made a bucket multi-region. */
export const DEFAULT_LOCATION = 'us-central1';

export interface BucketsTarget {
  /** Required for real GCS; an emulator (apiEndpoint set) accepts any. */
  projectId?: string;
  apiEndpoint?: string;
  prefix: string;
}

export function storageFor(target: BucketsTarget): Storage {
  if (!target.projectId && !target.apiEndpoint) {
    throw new DyffError(
      'InvalidSpec',
      'no GCP project: pass --project or set gcs.projectId (DYFF_GCS_PROJECT)',
    );
  }
  return new Storage({
    // A fixed project for an emulator, so that the client never looks one up on the GCE metadata server.
    projectId: target.projectId ?? 'dyff-local',
    ...(target.apiEndpoint ? { apiEndpoint: target.apiEndpoint } : {}),
  });
}

export function checkCategory(category: string): Category {
  if (!(CATEGORIES as readonly string[]).includes(category)) {
    throw new DyffError(
      'InvalidSpec',
      `unknown category ${JSON.stringify(category)}; one of: ${CATEGORIES.join(', ')}`,
    );
  }
  return category as Category;
}

/** Bucket names allow lowercase letters, digits and dashes, 3-63 characters. */
export function checkPrefix(prefix: string): void {
  const longest = Math.max(...CATEGORIES.map((c) => c.length));
  if (
    !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(prefix) ||
    prefix.startsWith('goog') ||
    prefix.length + longest + 18 > 63
  ) {
    throw new DyffError(
      'InvalidSpec',
      `invalid bucket prefix ${JSON.stringify(prefix)}: lowercase letters, digits and inner dashes, not starting with "goog", at most ${63 - longest - 18} characters`,
    );
  }
}

export function bucketName(
  prefix: string,
  category: Category,
  token = randomBytes(8).toString('hex'),
): string {
  return `${prefix}-${category}-${token}`;
}

/** The options every category bucket is created with. */
export function bucketCreateOptions(category: Category, location: string): CreateBucketRequest {
  return {
    location,
    storageClass: 'STANDARD',
    iamConfiguration: {
      uniformBucketLevelAccess: { enabled: true },
      publicAccessPrevention: 'enforced',
    },
    labels: { 'dyff-category': category, 'dyff-managed': 'true' },
  };
}

/** Buckets in the project whose name starts with `<prefix>-<category>-`, sorted by name. */
export async function findCategoryBuckets(
  storage: Storage,
  prefix: string,
  category: Category,
): Promise<string[]> {
  const start = `${prefix}-${category}-`;
  const [buckets] = await storage.getBuckets({ prefix: start, autoPaginate: true });
  // Filter here as well: not every server (fake-gcs-server among them) honours `prefix`.
  return buckets
    .map((b) => b.name)
    .filter((name) => name.startsWith(start))
    .sort();
}

export interface CreateResult {
  category: Category;
  bucket: string;
  /** false when --if-exists returned a bucket that was already there. */
  created: boolean;
}

/**
 * Create the bucket of a category and record it in the config file. A category has one bucket: a second one is
 * refused when the config names one or the project already holds a `<prefix>-<category>-…` bucket, unless
 * `ifExists`, which returns (and records) the existing one instead.
 */
export async function createCategoryBucket(opts: {
  target: BucketsTarget;
  category: Category;
  location?: string;
  ifExists?: boolean;
  /** Buckets the configuration already names, by category. */
  configured: Record<string, string>;
  configFile: string;
  storage?: Storage;
}): Promise<CreateResult> {
  const { target, category } = opts;
  checkPrefix(target.prefix);
  const storage = opts.storage ?? storageFor(target);
  const configured = opts.configured[category];
  if (configured !== undefined) {
    if (!opts.ifExists) {
      throw new DyffError(
        'AlreadyExists',
        `category ${category} already has bucket ${configured} in the configuration (${opts.configFile} or DYFF_GCS_BUCKET_${category.toUpperCase()}); pass --if-exists to reuse it`,
        { category, bucket: configured },
      );
    }
    const [exists] = await storage.bucket(configured).exists();
    if (!exists) {
      throw new DyffError(
        'NotFound',
        `the configured bucket ${configured} of category ${category} does not exist in the project; remove it from the configuration to create a new one`,
        { category, bucket: configured },
      );
    }
    return { category, bucket: configured, created: false };
  }
  const existing = await findCategoryBuckets(storage, target.prefix, category);
  if (existing.length > 0) {
    if (!opts.ifExists || existing.length > 1) {
      throw new DyffError(
        'AlreadyExists',
        `the project already has ${existing.length > 1 ? 'buckets' : 'bucket'} ${existing.join(', ')} for category ${category}` +
          (existing.length > 1
            ? `; name the one to use in ${opts.configFile} (gcs.buckets.${category})`
            : '; pass --if-exists to reuse it'),
        { category, buckets: existing },
      );
    }
    const bucket = existing[0]!;
    await recordBucket(opts.configFile, category, bucket);
    return { category, bucket, created: false };
  }
  const bucket = bucketName(target.prefix, category);
  await storage.createBucket(bucket, bucketCreateOptions(category, opts.location ?? DEFAULT_LOCATION));
  await recordBucket(opts.configFile, category, bucket);
  return { category, bucket, created: true };
}

export interface BucketRow {
  category: Category;
  bucket: string;
  /** Named in the configuration. */
  configured: boolean;
  /** Found in the project (undefined when the project could not be listed). */
  exists?: boolean;
}

/** Every category's bucket: the configured ones, and `<prefix>-<category>-…` buckets the project holds. */
export async function listCategoryBuckets(opts: {
  target: BucketsTarget;
  configured: Record<string, string>;
  storage?: Storage;
}): Promise<BucketRow[]> {
  const storage = opts.storage ?? storageFor(opts.target);
  const [buckets] = await storage.getBuckets({ prefix: `${opts.target.prefix}-`, autoPaginate: true });
  const names = new Set(buckets.map((b) => b.name));
  const rows: BucketRow[] = [];
  for (const category of CATEGORIES) {
    const configured = opts.configured[category];
    if (configured !== undefined)
      rows.push({ category, bucket: configured, configured: true, exists: names.has(configured) });
    const pattern = new RegExp(`^${escapeRegExp(opts.target.prefix)}-${category}-`);
    for (const name of [...names].filter((n) => pattern.test(n) && n !== configured).sort()) {
      rows.push({ category, bucket: name, configured: false, exists: true });
    }
  }
  return rows;
}

/** Set `gcs.buckets.<category>` in the YAML config file, keeping its other keys and comments. */
export async function recordBucket(configFile: string, category: Category, bucket: string): Promise<void> {
  const doc = parseDocument(existsSync(configFile) ? await readFile(configFile, 'utf8') : '');
  if (doc.errors.length > 0) {
    throw new DyffError('InvalidSpec', `${configFile}: not valid YAML (${doc.errors[0]!.message})`);
  }
  try {
    doc.setIn(['gcs', 'buckets', category], bucket);
  } catch (err) {
    // e.g. `gcs: null`: a key on the path that holds no map.
    throw new DyffError(
      'InvalidSpec',
      `${configFile}: cannot set gcs.buckets.${category} (${(err as Error).message})`,
    );
  }
  // Write beside and rename: a crash never leaves a half-written config.
  const tmp = `${configFile}.${process.pid}.tmp`;
  await writeFile(tmp, doc.toString());
  await rename(tmp, configFile);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
