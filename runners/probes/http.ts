/** `http`: a GET that must answer the expected status (redirects are not followed). */
import type { ProbeKind } from './types.js';

export interface HttpProbeSpec {
  url: string;
  status: number;
}

export const httpProbe: ProbeKind<HttpProbeSpec> = {
  kind: 'http',
  async check(spec, { signal }) {
    const response = await fetch(spec.url, { signal, redirect: 'manual', headers: { 'user-agent': 'drillbook-probe' } });
    await response.arrayBuffer().catch(() => undefined);
    if (response.status !== spec.status) throw new Error(`HTTP ${response.status} (expected ${spec.status})`);
  },
};
