/** Entity ids are uuid4 rendered as 32 lowercase hex digits, as Dyff has them. */
export const ID_PATTERN = /^[0-9a-f]{32}$/;

export function newId(): string {
  return globalThis.crypto.randomUUID().replaceAll('-', '');
}

export function isId(value: string): boolean {
  return ID_PATTERN.test(value);
}
