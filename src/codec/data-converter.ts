import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config.js';
import { AesGcmCodec } from './aes-gcm-codec.js';
import { loadCodecKeys } from './keys.js';

/**
 * The data converter every worker and client of this deployment uses: payloads encrypted when codec keys are
 * configured, the SDK's default otherwise. Workers and clients must agree, so both take it from here.
 */
export function dataConverterFor(config: Config): DataConverter | undefined {
  const codec = codecFor(config);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

export function codecFor(config: Config): AesGcmCodec | undefined {
  const keys = config.temporal.codec.keys;
  return keys.length ? new AesGcmCodec(loadCodecKeys(keys)) : undefined;
}
