import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makePki } from './test-pki.js';

const exec = promisify(execFile);

export interface GitHttpsServer {
  /** `https://127.0.0.1:<port>/<repo>.git` */
  url: (repo: string) => string;
  /** The CA that signed the server's certificate (for NODE_EXTRA_CA_CERTS). */
  caFile: string;
  /** Requests answered 401 because the token was missing or wrong. */
  refused: number;
  close(): Promise<void>;
}

/**
 * A Git server as a hosting service runs one: `git http-backend` (the real smart-HTTP CGI) behind a Node HTTPS
 * server on loopback with a test CA, admitting only basic auth whose password is `token`.
 */
export async function startGitHttpsServer(dir: string, token: string): Promise<GitHttpsServer> {
  await mkdir(join(dir, 'pki'), { recursive: true });
  const pki = await makePki(join(dir, 'pki'));
  const root = join(dir, 'repos');
  const state = { refused: 0 };
  const server: Server = createServer(
    { cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) },
    (req, res) => {
      const auth = req.headers.authorization ?? '';
      const password = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':')[1];
      if (!auth.startsWith('Basic ') || password !== token) {
        state.refused++;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('unauthorized');
        return;
      }
      const url = new URL(req.url ?? '/', 'https://localhost');
      const cgi = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          REQUEST_METHOD: req.method ?? 'GET',
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          REMOTE_USER: 'audit',
          REMOTE_ADDR: '127.0.0.1',
        },
      });
      req.pipe(cgi.stdin);
      let head = Buffer.alloc(0);
      let sent = false;
      cgi.stdout.on('data', (chunk: Buffer) => {
        if (sent) return void res.write(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head.subarray(0, end).toString().split('\r\n')) {
          const [k, ...v] = line.split(':');
          if (k!.toLowerCase() === 'status') status = Number.parseInt(v.join(':').trim(), 10);
          else headers[k!] = v.join(':').trim();
        }
        res.writeHead(status, headers);
        res.write(head.subarray(end + 4));
        sent = true;
      });
      cgi.on('close', () => (sent ? res.end() : res.writeHead(500).end('http-backend failed')));
    },
  );
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (repo) => `https://127.0.0.1:${port}/${repo}.git`,
    caFile: pki.ca,
    get refused() {
      return state.refused;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A bare repository `<name>.git` under the server's root holding `source`'s files in one commit; its sha. */
export async function publishRepo(dir: string, name: string, source: string): Promise<string> {
  const work = join(dir, 'work', name);
  await cp(source, work, { recursive: true });
  const git = (...args: string[]) => exec('git', args, { cwd: work });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('-c', 'user.name=audit', '-c', 'user.email=audit@example.com', 'commit', '-qm', 'procedure');
  const sha = (await git('rev-parse', 'HEAD')).stdout.trim();
  await exec('git', ['clone', '-q', '--bare', work, join(dir, 'repos', `${name}.git`)]);
  return sha;
}
