/**
 * Where a finished run goes after its bundle is sealed: the remediation register today;
 * JSON, JUnit or metrics outputs join the same list. Like Playwright's reporter multiplexer,
 * every output is called in turn and wrapped, so one failing output neither stops the others
 * nor loses the run's evidence (already finalized when outputs run).
 */
import type { RunRecord } from './run-record.js';
import { recordRunItems } from './remediation.js';

export interface OutputContext {
  /** The evidence directory (the register, the ledger). */
  evidenceDir: string;
  /** The run's sealed bundle. */
  runDir: string;
}

export interface RunOutput {
  name: string;
  /** What the log says when it fails ("<failure>: <error>"). */
  failure: string;
  write(record: RunRecord, context: OutputContext): Promise<void>;
}

export interface OutputFailure {
  output: string;
  error: string;
}

/** Runs every output; returns (and logs) the ones that failed instead of throwing. */
export async function writeOutputs(outputs: readonly RunOutput[], record: RunRecord, context: OutputContext, log: (message: string) => void = () => undefined): Promise<OutputFailure[]> {
  const failures: OutputFailure[] = [];
  for (const output of outputs) {
    try {
      await output.write(record, context);
    } catch (error) {
      failures.push({ output: output.name, error: String(error) });
      log(`${output.failure}: ${String(error)}`);
    }
  }
  return failures;
}

/** The run's findings become remediation items in the register (reports/remediation.ts). */
export const remediationRegisterOutput: RunOutput = {
  name: 'remediation register',
  failure: 'remediation items not recorded in the register',
  write: (record, { evidenceDir }) => recordRunItems(evidenceDir, record),
};

export const DEFAULT_OUTPUTS: readonly RunOutput[] = [remediationRegisterOutput];
