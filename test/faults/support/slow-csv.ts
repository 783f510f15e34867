import { serve } from '../../support/http-fixture.js';

/**
 * A CSV served slowly over loopback (it takes `durationMs` to send, whole or from a Range), so that a fetch job is
 * certainly running while a fault is injected. Counts the bytes it sent, to tell a resumed download from a restart.
 */
export async function slowCsv(rows: number, durationMs: number) {
  const lines = ['n,word,value'];
  for (let i = 0; i < rows; i++) lines.push(`${i},w${i % 977},${(i * 0.37).toFixed(2)}`);
  const body = Buffer.from(`${lines.join('\n')}\n`);
  const stats = { requests: 0, bytesSent: 0 };
  const server = await serve({
    '/data.csv': (req, res) => {
      stats.requests++;
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const part = body.subarray(from);
      res.writeHead(from ? 206 : 200, {
        'content-type': 'text/csv',
        'content-length': String(part.length),
        ...(from ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
      });
      const tickMs = 50;
      const chunk = Math.max(1, Math.ceil(body.length / (durationMs / tickMs)));
      let at = 0;
      const timer = setInterval(() => {
        const piece = part.subarray(at, at + chunk);
        at += piece.length;
        stats.bytesSent += piece.length;
        if (at >= part.length) {
          clearInterval(timer);
          res.end(piece);
        } else res.write(piece);
      }, tickMs);
      res.on('close', () => clearInterval(timer));
    },
  });
  return { url: `${server.url}/data.csv`, rows, bytes: body.length, stats, close: server.close };
}
