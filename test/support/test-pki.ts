import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export type TestPki = Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>;

const exec = promisify(execFile);

/** A CA, a server certificate for localhost and a client certificate, made with openssl. */
export async function makePki(dir: string): Promise<TestPki> {
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => exec('openssl', args, { cwd: dir });
  await ssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=dyff test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  );
  for (const [who, subject, ext] of [
    ['server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'],
    ['client', '/CN=dyff-worker', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await writeFile(f(`${who}.ext`), `${ext}\n`);
    await ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
    );
    await ssl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f(`${who}.ext`),
      '-out',
      f(`${who}.pem`),
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}
