/** `tcp`: a TCP connection that must open within the timeout. */
import net from 'node:net';
import type { ProbeKind } from './types.js';

export interface TcpProbeSpec {
  host: string;
  port: number;
}

export const tcpProbe: ProbeKind<TcpProbeSpec> = {
  kind: 'tcp',
  check({ host, port }, { timeoutMs, signal }) {
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      const onAbort = () => fail(new Error(`no TCP connection to ${host}:${port}: ${String(signal.reason)}`));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.setTimeout(timeoutMs, () => fail(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`)));
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.end();
        resolve();
      });
      socket.once('error', fail);
    });
  },
};
