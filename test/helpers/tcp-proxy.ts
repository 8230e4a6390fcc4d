/**
 * A TCP proxy the test holds: `cut()` drops every connection through it and refuses new
 * ones, which is how a test creates a replication partition of a known start instant;
 * `restore()` lets connections through again (an endpoint that comes back).
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  cut(): void;
  restore(): void;
  /** New connections go to `port` from now on; open ones stay where they are. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, options: { cut?: boolean } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let isCut = options.cut ?? false;
  let target = targetPort;
  const server = net.createServer((client) => {
    if (isCut) return client.destroy();
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    retarget(port) {
      target = port;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
