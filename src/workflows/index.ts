/** Workflows registered on the worker. Each workflow id is its entity id: `dataset-<id>`, `pipeline-<id>`, … */
export { datasetWorkflow } from './dataset.js';
export type { DatasetWorkflowInput, DatasetWorkflowResult } from './dataset.js';
export { modelWorkflow } from './model.js';
export { inferenceServiceWorkflow } from './inference-service.js';
export { evaluationWorkflow } from './evaluation.js';
export { reportWorkflow } from './report.js';
export { auditWorkflow } from './audit.js';
export { pipelineWorkflow } from './pipeline.js';
export { benchmarkWorkflow } from './benchmark.js';
export { benchmarkQuery } from './benchmark-messages.js';
export { quotaWorkflow } from './quota.js';
export { reaperWorkflow } from './reaper.js';
export { pipelineQuery, recheckDependencyUpdate, statusQuery } from './messages.js';
export type { PipelineView, StatusView } from './messages.js';
