import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AesGcmCodec } from '../../src/codec/aes-gcm-codec.js';
import type { CodecServer } from '../../src/codec/codec-server.js';
import { startCodecServer } from '../../src/codec/codec-server.js';

/** The requests the Temporal UI sends (its data-encoder fetch): JSON payloads, X-Namespace, a CORS preflight. */
const UI_ORIGIN = 'http://localhost:8233';
const codec = new AesGcmCodec([{ id: 'k1', key: randomBytes(32) }]);
let server: CodecServer;

beforeAll(async () => {
  server = await startCodecServer({ codec, uiOrigins: [UI_ORIGIN], namespace: 'default' }, 0);
});
afterAll(() => server.close());

const toJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: UI_ORIGIN, 'x-namespace': 'default', ...headers },
    body: JSON.stringify(body),
  });

describe('codec server', () => {
  it('answers the preflight for the UI origin with the headers the UI sends', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(res.headers.get('access-control-allow-headers')).toMatch(/x-namespace/);
    expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
  });

  it('decodes what the worker encrypted, and encodes what it is given', async () => {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ hello: 'world' })]);
    const res = await post('/decode', { payloads: [toJson(sealed!)] });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const { payloads } = (await res.json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ hello: 'world' });

    const enc = await post('/encode', { payloads });
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string> }[] };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe(
      'binary/encrypted',
    );
  });

  it('gives no CORS grant to another origin, refuses another namespace and bad bodies', async () => {
    const other = await post('/decode', { payloads: [] }, { origin: 'http://evil.localhost' });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const ns = await post('/decode', { payloads: [] }, { 'x-namespace': 'other' });
    expect(ns.status).toBe(403);
    expect(((await ns.json()) as { message: string }).message).toMatch(/namespace other/);
    expect((await post('/decode', { nope: 1 })).status).toBe(400);
    expect((await fetch(`${server.url}/decode`)).status).toBe(404);
  });
});
