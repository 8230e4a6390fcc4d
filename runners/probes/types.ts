/**
 * The probe contract: a kind (http, tcp, sql, command) and a `check` that resolves when the
 * thing probed is healthy and rejects with the reason when not. Steady-state, detection and
 * recovery probes and guardrails.abortIf all check through these.
 */
export interface ProbeEnv {
  /** Cuts the attempt (its timeout, the drill's abort). */
  signal: AbortSignal;
  /** The attempt's time limit, for the parts that take one of their own (TCP connect, a command). */
  timeoutMs: number;
  /** Commands run here and secret files resolve from here (the scenario's directory). */
  baseDir: string;
  /** A secret resolved by the probe: masked in everything recorded. */
  addSecret(value: string | undefined): void;
}

export interface ProbeKind<Spec> {
  kind: string;
  check(spec: Spec, env: ProbeEnv): Promise<void>;
}
