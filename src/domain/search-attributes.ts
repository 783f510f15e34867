import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes: what a user filters on in the Temporal UI (`DyffKind="Dataset"`). */
export const DyffKind = defineSearchAttributeKey('DyffKind', SearchAttributeType.KEYWORD);
export const DyffAccount = defineSearchAttributeKey('DyffAccount', SearchAttributeType.KEYWORD);
export const DyffEntityId = defineSearchAttributeKey('DyffEntityId', SearchAttributeType.KEYWORD);
export const DyffStatus = defineSearchAttributeKey('DyffStatus', SearchAttributeType.KEYWORD);
export const DyffDatasetId = defineSearchAttributeKey('DyffDatasetId', SearchAttributeType.KEYWORD);
export const DyffModelId = defineSearchAttributeKey('DyffModelId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [
  DyffKind,
  DyffAccount,
  DyffEntityId,
  DyffStatus,
  DyffDatasetId,
  DyffModelId,
];
