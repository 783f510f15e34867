import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes: what a user filters on in the Temporal UI (`DyffKind="Dataset"`). */
export const DyffKind = defineSearchAttributeKey('DyffKind', SearchAttributeType.KEYWORD);
export const DyffAccount = defineSearchAttributeKey('DyffAccount', SearchAttributeType.KEYWORD);
export const DyffEntityId = defineSearchAttributeKey('DyffEntityId', SearchAttributeType.KEYWORD);
export const DyffStatus = defineSearchAttributeKey('DyffStatus', SearchAttributeType.KEYWORD);
export const DyffDatasetId = defineSearchAttributeKey('DyffDatasetId', SearchAttributeType.KEYWORD);
export const DyffModelId = defineSearchAttributeKey('DyffModelId', SearchAttributeType.KEYWORD);
/** The pipeline run an entity belongs to (the pipeline's own id on the pipeline's workflow). */
export const DyffPipelineId = defineSearchAttributeKey('DyffPipelineId', SearchAttributeType.KEYWORD);
/** The schedule whose run made this workflow. */
export const DyffScheduleId = defineSearchAttributeKey('DyffScheduleId', SearchAttributeType.KEYWORD);
/**
 * The run's one-line summary ("Dataset spamassassin (public)") as a search attribute too: the UI's workflow list
 * shows search attributes as columns (its column picker), not the run's user-metadata summary.
 */
export const DyffSummary = defineSearchAttributeKey('DyffSummary', SearchAttributeType.TEXT);

/**
 * Every key the workflows set. A namespace must have them all registered (`dyffctl setup`; the dev server path
 * does it itself): a workflow that sets an unregistered key cannot complete its workflow task.
 */
export const SEARCH_ATTRIBUTES = [
  DyffKind,
  DyffAccount,
  DyffEntityId,
  DyffStatus,
  DyffDatasetId,
  DyffModelId,
  DyffPipelineId,
  DyffScheduleId,
  DyffSummary,
];
