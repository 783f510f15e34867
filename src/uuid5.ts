import { createHash } from 'node:crypto';

/**
 * RFC 4122 name-based UUID (version 5, SHA-1) as 32 lowercase hex digits, the way Dyff names replications:
 * `uuid5(UUID(evaluationId), str(i)).hex`. Written here rather than taken from a package: it is ten lines.
 */
export function uuid5Hex(namespaceHex: string, name: string): string {
  const namespace = namespaceHex.replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/i.test(namespace)) throw new Error(`uuid5: namespace is not a UUID: ${namespaceHex}`);
  const hash = createHash('sha1').update(Buffer.from(namespace, 'hex')).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return bytes.toString('hex');
}

/** The `_replication_` value of each replication 0..n-1 of an evaluation. */
export function replicationIds(evaluationId: string, replications: number): string[] {
  return Array.from({ length: replications }, (_, i) => uuid5Hex(evaluationId, String(i)));
}
