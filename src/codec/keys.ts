import { readFileSync } from 'node:fs';
import { DyffError, ErrorType } from '../domain/errors.js';
import type { CodecKey } from './aes-gcm-codec.js';

/** A configured key: the base64 value inline, or a file holding it (a mounted Secret). */
export interface CodecKeyConfig {
  id: string;
  key?: string;
  keyFile?: string;
}

/**
 * Compile the configured keys once. Errors name the key by position and id, never print a key. The first key
 * encrypts; all of them decrypt, so a rotation adds the new key first and keeps the old ones until no history
 * needs them.
 */
export function loadCodecKeys(keys: readonly CodecKeyConfig[]): CodecKey[] {
  const seen = new Set<string>();
  return keys.map((k, i) => {
    const where = `temporal.codec.keys[${i}] (${k.id})`;
    if (seen.has(k.id)) throw invalid(`${where}: duplicate key id`);
    seen.add(k.id);
    if ((k.key === undefined) === (k.keyFile === undefined))
      throw invalid(`${where}: give one of key and keyFile`);
    let encoded = k.key;
    if (k.keyFile !== undefined) {
      try {
        encoded = readFileSync(k.keyFile, 'utf8').trim();
      } catch (err) {
        throw invalid(
          `${where}: keyFile ${k.keyFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
        );
      }
    }
    const key = Buffer.from(encoded!, 'base64');
    if (key.length !== 32 || key.toString('base64') !== encoded!.replace(/\s/g, '')) {
      throw invalid(`${where}: expected 32 bytes in base64 (e.g. \`openssl rand -base64 32\`)`);
    }
    return { id: k.id, key };
  });
}

/** `DYFF_CODEC_KEYS=id1:base64,id2:base64`, first one encrypts. */
export function parseCodecKeysEnv(raw: string): CodecKeyConfig[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      if (at <= 0) throw invalid('DYFF_CODEC_KEYS: expected id:base64key[,id:base64key…]');
      return { id: entry.slice(0, at), key: entry.slice(at + 1) };
    });
}

const invalid = (message: string) => new DyffError(ErrorType.InvalidSpec, message);
