import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { freePort } from '../../../src/adapters/process-group.js';
import { dynamicConfigArgs, LATENCY_DYNAMIC_CONFIG } from '../../../src/dev/latency.js';
import { resolveTemporalCli, tiedTemporalCli } from '../../../src/dev/temporal-cli.js';
import { SEARCH_ATTRIBUTES } from '../../../src/domain/search-attributes.js';

/**
 * The Temporal dev server as a process of its own, so that a test can `kill -9` it and start it again on the
 * same database file and the same port (workers and clients reconnect to the same address).
 */
export class ServerProcess {
  private child?: ChildProcess;
  private output = '';

  private constructor(
    private readonly cli: string,
    readonly dbFilename: string,
    readonly port: number,
  ) {}

  static async start(dbFilename: string): Promise<ServerProcess> {
    const cli = await resolveTemporalCli();
    if (!cli) throw new Error('the fault suite needs the Temporal CLI (scripts/install-temporal-cli.sh)');
    const server = new ServerProcess(cli, dbFilename, await freePort());
    await server.up();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start on the same database and port, and wait until the frontend answers. */
  async up(): Promise<void> {
    const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(this.port)];
    args.push(
      '--db-filename',
      this.dbFilename,
      '--log-level',
      'error',
      ...dynamicConfigArgs(LATENCY_DYNAMIC_CONFIG),
    );
    for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
    // Tied: a fault run interrupted before its afterAll does not leave the server running (temporal-cli.ts).
    const child = spawn(tiedTemporalCli(this.cli), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    child.stderr.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    this.child = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`temporal server exited ${child.exitCode}:\n${this.output}`);
      try {
        const c = await Connection.connect({ address: this.address, connectTimeout: '1s' });
        await c.workflowService.getSystemInfo({});
        await c.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`temporal server not up: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** `kill -9`: no shutdown of any kind, as when the machine dies. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}
