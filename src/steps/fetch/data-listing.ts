import type { DataSourceSpec } from '../../domain/specs.js';
import type { RetryPolicy, StepLog } from '../context.js';
import { invalidInput } from '../errors.js';
import type { EgressPolicy } from '../net/egress-guard.js';
import { DEFAULT_GCS_ENDPOINT, listGcsFiles } from './gcs-source.js';
import type { HubAccess } from './hub-access.js';
import { listHubDatasetFiles } from './hub-dataset.js';
import type { SourceFile } from './sources.js';
import { listSourceFiles } from './sources.js';

/** The GCS JSON API a `gs://` source is read through: the worker's configured endpoint (an emulator in tests). */
export interface GcsAccess {
  endpoint: string;
  projectId?: string;
}

export const gcsAccessOf = (gcs: { apiEndpoint?: string; projectId?: string } | undefined): GcsAccess => ({
  endpoint: (gcs?.apiEndpoint || DEFAULT_GCS_ENDPOINT).replace(/\/+$/, ''),
  ...(gcs?.projectId ? { projectId: gcs.projectId } : {}),
});

export interface ListOptions {
  localRoots: readonly string[];
  egress: EgressPolicy;
  gcs: GcsAccess;
  log: StepLog;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

export interface DataListing {
  files: SourceFile[];
  /** For a Hub source: the commit the revision resolved to. */
  commit?: string;
}

/** Every file a data source offers, with what to verify each against. */
export async function listDataSource(
  source: DataSourceSpec,
  opts: ListOptions & { hub: HubAccess },
): Promise<DataListing> {
  switch (source.kind) {
    case 'gcs':
      return { files: await listGcsFiles(source, opts) };
    case 'huggingFaceHub':
      return listHubDatasetFiles(source, opts.hub, opts);
    case 'dataset':
      throw invalidInput('spec.source: a derived dataset is read from its source Dataset, not fetched');
    default:
      return { files: await listSourceFiles(source, opts) };
  }
}
