/** Labels the pipeline puts on entities, so that later runs can find and reuse them. */
export const SPEC_HASH_LABEL = 'dyff.io/spec-hash';
export const SCHEDULE_LABEL = 'dyff.io/schedule';
export const PIPELINE_LABEL = 'dyff.io/pipeline';
