import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/codec/aes-gcm-codec.js';
import { loadCodecKeys, parseCodecKeysEnv } from '../../src/codec/keys.js';
import { loadConfig } from '../../src/config.js';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (b?: Uint8Array | null) => Buffer.from(b ?? []).toString('utf8');
const SECRET_INPUT = { spec: { note: 'plaintext-marker-7f3a' } };

describe('AesGcmCodec', () => {
  it('hides the payload (data and encoding) and names the key that encrypted it', async () => {
    const codec = new AesGcmCodec([key('k1')]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload(SECRET_INPUT)]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Buffer.from(sealed!.data!).includes('plaintext-marker')).toBe(false);
    expect(Buffer.from(sealed!.data!).includes('json/plain')).toBe(false);
    const [plain] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(plain!)).toEqual(SECRET_INPUT);
  });

  it('encrypts with the first key and decrypts with any configured key (rotation)', async () => {
    const old = key('old');
    const fresh = key('new');
    const [byOld] = await new AesGcmCodec([old]).encode([defaultPayloadConverter.toPayload(1)]);
    const rotated = new AesGcmCodec([fresh, old]);
    const [byNew] = await rotated.encode([defaultPayloadConverter.toPayload(2)]);
    expect(text(byNew!.metadata![KEY_ID_METADATA])).toBe('new');
    const decoded = await rotated.decode([byOld!, byNew!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([1, 2]);
    await expect(new AesGcmCodec([fresh]).decode([byOld!])).rejects.toThrow(/no codec key with id "old"/);
  });

  it('refuses a tampered payload and passes unencrypted ones through', async () => {
    const codec = new AesGcmCodec([key('k1')]);
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const data = Buffer.from(sealed!.data!);
    data[20] = data[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data }])).rejects.toThrow();
    const plain = defaultPayloadConverter.toPayload('old history');
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('codec key configuration', () => {
  it('reads DYFF_CODEC_KEYS and refuses keys that are not 32 bytes, naming the key', () => {
    const k = randomBytes(32).toString('base64');
    const config = loadConfig({}, { DYFF_CONFIG: '/nonexistent.yaml', DYFF_CODEC_KEYS: `a:${k},b:${k}` });
    expect(config.temporal.codec.keys.map((x) => x.id)).toEqual(['a', 'b']);
    expect(() => loadCodecKeys([{ id: 'short', key: randomBytes(16).toString('base64') }])).toThrow(
      /temporal\.codec\.keys\[0\] \(short\): expected 32 bytes/,
    );
    expect(() =>
      loadCodecKeys([
        { id: 'a', key: k },
        { id: 'a', key: k },
      ]),
    ).toThrow(/duplicate key id/);
    expect(() => loadCodecKeys([{ id: 'none' }])).toThrow(/give one of key and keyFile/);
    expect(() => parseCodecKeysEnv('nocolon')).toThrow(/DYFF_CODEC_KEYS/);
  });
});
