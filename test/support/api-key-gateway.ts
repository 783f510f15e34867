import { readFile } from 'node:fs/promises';
import type {
  ClientHttp2Session,
  Http2SecureServer,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Session,
} from 'node:http2';
import { connect, constants, createSecureServer } from 'node:http2';

/**
 * A gRPC gateway that admits only calls bearing an API key, as Temporal Cloud's front end does: it terminates TLS,
 * answers a call without `authorization: Bearer <key>` with UNAUTHENTICATED, and forwards every other call (its
 * headers, body and trailers) to the dev server over plain HTTP/2.
 */
export interface ApiKeyGateway {
  port: number;
  /** Calls forwarded, and calls refused for a missing or wrong key. */
  counts: { forwarded: number; refused: number };
  close(): Promise<void>;
}

const HOP = new Set([':status', ':method', ':path', ':scheme', ':authority', 'authorization']);
const pass = (h: IncomingHttpHeaders): OutgoingHttpHeaders =>
  Object.fromEntries(Object.entries(h).filter(([k]) => !HOP.has(k)));

export async function startApiKeyGateway(opts: {
  upstream: string;
  apiKey: string;
  keyFile: string;
  certFile: string;
}): Promise<ApiKeyGateway> {
  const upstream: ClientHttp2Session = connect(`http://${opts.upstream}`);
  upstream.on('error', () => undefined);
  const counts = { forwarded: 0, refused: 0 };
  const server: Http2SecureServer = createSecureServer({
    key: await readFile(opts.keyFile),
    cert: await readFile(opts.certFile),
  });
  // Clients keep their sessions open; closing the gateway ends them.
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers.authorization !== `Bearer ${opts.apiKey}`) {
      counts.refused++;
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': '16',
          'grpc-message': 'missing or wrong API key',
        },
        { endStream: true },
      );
      return;
    }
    counts.forwarded++;
    const call = upstream.request({
      ':method': headers[':method'],
      ':path': headers[':path'],
      ...pass(headers),
    });
    call.on('error', () => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('close', () => call.close());
    let trailers: OutgoingHttpHeaders = {};
    call.on('trailers', (t) => (trailers = pass(t)));
    call.on('response', (h, flags) => {
      // A trailers-only answer (an error) ends with its headers.
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        stream.respond({ ':status': h[':status'], ...pass(h) }, { endStream: true });
        return;
      }
      stream.respond({ ':status': h[':status'], ...pass(h) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      call.pipe(stream);
    });
    stream.pipe(call);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    counts,
    close: async () => {
      for (const session of sessions) session.destroy();
      upstream.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
