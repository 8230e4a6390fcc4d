/**
 * `http`: a GET that must answer the expected status (redirects are not followed).
 *
 * Every attempt opens its own TCP connection (no agent, so no keep-alive pool, and
 * `connection: close`) and closes it: a probe that reused a pooled connection would keep
 * talking to the pod behind it and say nothing about whether a *new* client gets through.
 */
import http from 'node:http';
import https from 'node:https';
import type { ProbeKind } from './types.js';

export interface HttpProbeSpec {
  url: string;
  status: number;
}

export const httpProbe: ProbeKind<HttpProbeSpec> = {
  kind: 'http',
  check(spec, { signal }) {
    return new Promise<void>((resolve, reject) => {
      const url = new URL(spec.url);
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(url, { method: 'GET', agent: false, signal, headers: { 'user-agent': 'drillbook-probe', connection: 'close' } }, (response) => {
        response.resume(); // read the body so the connection can close cleanly
        response.once('error', reject);
        response.once('end', () => {
          const status = response.statusCode ?? 0;
          if (status !== spec.status) reject(new Error(`HTTP ${status} (expected ${spec.status})`));
          else resolve();
        });
      });
      request.once('error', (error) => reject(signal.aborted ? new Error(`no HTTP answer from ${url.host}: ${String(signal.reason)}`) : error));
      request.end();
    });
  },
};
