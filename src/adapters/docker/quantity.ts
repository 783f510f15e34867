/**
 * Kubernetes quantities (the step catalogue's and the specs' cpu, memory and scratch) in the units the Docker
 * Engine API takes: bytes, and nano-CPUs.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, m: 1e-3 };

export function quantityNumber(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$/.exec(q.trim());
  const factor = m ? (m[2] === '' ? 1 : (BINARY[m[2]!] ?? DECIMAL[m[2]!])) : undefined;
  if (!m || factor === undefined) throw new Error(`not a quantity: ${JSON.stringify(q)}`);
  return Number(m[1]) * factor;
}

export function quantityBytes(q: string): number {
  return Math.ceil(quantityNumber(q));
}

/** `500m` → 5e8 nano-CPUs; `2` → 2e9. */
export function nanoCpus(q: string): number {
  return Math.round(quantityNumber(q) * 1e9);
}
