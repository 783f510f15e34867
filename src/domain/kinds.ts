/** Entity kinds of the lifecycle, the object-store category each one lives in, and its workflow id prefix. */
export const ENTITY_KINDS = [
  'DataSource',
  'Dataset',
  'Model',
  'InferenceService',
  'Evaluation',
  'Report',
  'Audit',
] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];

export const CATEGORIES = [
  'rawdata',
  'datasets',
  'models',
  'inferenceservices',
  'outputs',
  'reports',
  'auditprocedures',
  'auditreports',
  /** Static files for browsers (the API docs, as the deployment notes have it): published, never a step's. */
  'webassets',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const CATEGORY_OF_KIND: Record<EntityKind, Category> = {
  DataSource: 'rawdata',
  Dataset: 'datasets',
  Model: 'models',
  InferenceService: 'inferenceservices',
  Evaluation: 'outputs',
  Report: 'reports',
  Audit: 'auditreports',
};

/** Job kinds end Complete | Failed; resource kinds end Ready | Error. */
export const JOB_KINDS: ReadonlySet<EntityKind> = new Set(['Evaluation', 'Report', 'Audit']);

export function workflowIdFor(kind: EntityKind, id: string): string {
  return `${kind.toLowerCase()}-${id}`;
}
