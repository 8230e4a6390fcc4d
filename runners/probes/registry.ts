/** The probe kinds by name; a scenario object names its kind by the one key it sets (http, tcp, sql or command). */
import { commandProbe } from './command.js';
import { httpProbe } from './http.js';
import { sqlProbe } from './sql.js';
import { tcpProbe } from './tcp.js';
import type { ProbeEnv, ProbeKind } from './types.js';

export const probeKinds = { http: httpProbe, tcp: tcpProbe, sql: sqlProbe, command: commandProbe } as const;
export type ProbeKindName = keyof typeof probeKinds;
type SpecOf<K extends ProbeKindName> = (typeof probeKinds)[K] extends ProbeKind<infer S> ? S : never;
export type DeclaredProbes = { [K in ProbeKindName]?: SpecOf<K> | undefined };

/** Checks the one probe `declared` sets; rejects with the reason when it is unhealthy. */
export async function checkDeclared(declared: DeclaredProbes, env: ProbeEnv): Promise<void> {
  const kind = (Object.keys(probeKinds) as ProbeKindName[]).find((k) => declared[k] !== undefined);
  if (!kind) throw new Error(`no probe declared: set one of ${Object.keys(probeKinds).join(', ')}`);
  return (probeKinds[kind] as ProbeKind<unknown>).check(declared[kind], env);
}
