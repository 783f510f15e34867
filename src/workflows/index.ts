/** Workflows registered on the worker. Each workflow id is its entity id: `dataset-<id>`. */
export { datasetWorkflow } from './dataset.js';
export type { DatasetWorkflowInput, DatasetWorkflowResult } from './dataset.js';
export { statusQuery } from './messages.js';
export type { StatusView } from './messages.js';
