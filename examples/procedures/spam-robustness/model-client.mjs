/**
 * The one endpoint a procedure may call: the audited inference session (DYFF_AUDIT_ENDPOINT). The demo model takes
 * `{"text": …}` and answers `{"predictions": [{label, score}, …]}`, best first.
 */
const RETRIES = 4;

export async function classify(endpoint, text) {
  let last;
  for (let attempt = 0; attempt < RETRIES; attempt++) {
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status >= 500 || res.status === 429) throw new Error(`HTTP ${res.status}`);
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}: ${await res.text()}`), { fatal: true });
      const doc = await res.json();
      if (!Array.isArray(doc.predictions) || doc.predictions.length === 0)
        throw Object.assign(new Error(`no predictions in ${JSON.stringify(doc).slice(0, 200)}`), {
          fatal: true,
        });
      return doc.predictions;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
  throw new Error(`${endpoint}: ${last?.message ?? 'failed'} after ${RETRIES} tries`);
}

/** Run `fn` over `items` with at most `limit` in flight, results in input order. */
export async function mapLimited(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
