import { connect, createServer, type Server } from 'node:net';
import type { FakeKubelet } from './k8s-fake-kubelet.js';

/**
 * What kube-proxy gives a Service: one stable address in front of whichever pod serves it now. The exec kubelet
 * runs each session server on a loopback port of its own, so a pod that is deleted and replaced comes back on
 * another port; the session runner's `serviceUrl` hands out one of these proxies instead, and each connection goes
 * to the server that serves the Service's selector at that moment (none: the connection is refused, as a Service
 * without ready endpoints refuses it).
 *
 * `serviceUrl` is synchronous, so the proxies listen before the test starts and are handed out by Service name.
 */
export class ServiceProxies {
  private readonly byService = new Map<string, string>();
  private readonly servers: Server[] = [];
  private readonly free: {
    server: Server;
    url: string;
    assign: (selector: Record<string, string>) => void;
  }[] = [];

  private constructor(private readonly kubelet: FakeKubelet) {}

  /** `count` proxies on loopback: one per Service the test will start. */
  static async start(kubelet: FakeKubelet, count: number): Promise<ServiceProxies> {
    const proxies = new ServiceProxies(kubelet);
    for (let i = 0; i < count; i++) proxies.free.push(await proxies.listen());
    return proxies;
  }

  /** The stable URL of Service `name`, whose pods carry `selector`. */
  urlFor(name: string, selector: Record<string, string>): string {
    const known = this.byService.get(name);
    if (known) return known;
    const proxy = this.free.shift();
    if (!proxy) throw new Error(`no proxy left for Service ${name}: start more`);
    proxy.assign(selector);
    this.byService.set(name, proxy.url);
    return proxy.url;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private async listen() {
    let selector: Record<string, string> | undefined;
    const server = createServer((socket) => {
      const port = selector && this.kubelet.servingPort(selector);
      if (port === undefined) return socket.destroy();
      const upstream = connect(port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      const end = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', end);
      upstream.on('error', end);
      socket.on('close', end);
      upstream.on('close', end);
    });
    this.servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the proxy has no port');
    return {
      server,
      url: `http://127.0.0.1:${address.port}`,
      assign: (s: Record<string, string>) => void (selector = s),
    };
  }
}
