/**
 * Which audit controls a run evidences, and how — one sentence each, built from the run so
 * an auditor reads what this drill showed rather than a generic claim.
 */
import { formatSeconds } from './charts.js';
import type { EnvironmentClass } from '../scenarios/environments.js';
import { recordEnvironmentClass } from './environment-class.js';
import type { RtoMeasurement, RpoMeasurement, RunRecord, Verdict } from './run-record.js';

export interface ControlEvidence {
  framework: string;
  control: string;
  title: string;
  evidence: string;
}

export function controlMapping(record: RunRecord): ControlEvidence[] {
  const date = record.startedAt.slice(0, 10);
  const system = `${record.system.name} (tier ${record.system.tier})`;
  const plan = `${record.plan.name} v${record.plan.version}`;
  const rto = describeRto(record.measured.rto, record.targets.rtoSeconds, record.verdict.rto);
  const rpo = describeRpo(record.measured.rpo, record.targets.rpoSeconds, record.verdict.rpo);
  const checksPassed = record.checks.filter((c) => c.passed).length;
  const checks =
    record.checks.length === 0
      ? `no data-integrity checks were part of this ${record.type} test`
      : `${checksPassed} of ${record.checks.length} data-integrity checks passed`;
  const restoreSource =
    record.dataIntegrity.backup !== null || record.dataIntegrity.restorePoint !== null
      ? `the restore used ${record.dataIntegrity.backup ?? 'an unrecorded backup'} (restore point ${record.dataIntegrity.restorePoint ?? 'not recorded'})`
      : 'no restore from backup was part of this test';
  const findings = `${record.findings.length} finding${record.findings.length === 1 ? '' : 's'} and ${record.remediation.length} remediation item${record.remediation.length === 1 ? '' : 's'} with owner and due date were recorded`;
  const disruption =
    record.faults.length > 0 ? record.faults.map((f) => f.description).join('; ') : record.t0?.action ?? 'a simulated disruption';
  const present = record.participants.filter((p) => p.present).length;
  // What the run says about the live system depends on the class of its environment (SPEC v1.1):
  // only a production-class run tested the live system; a sandbox run is a rehearsal.
  const environmentClass = recordEnvironmentClass(record);
  const where =
    environmentClass === 'production'
      ? `in ${record.environment} (production: the live system)`
      : environmentClass === 'sandbox'
        ? `as a rehearsal in the sandbox ${record.environment} (a stand-in, not the live system; no evidence of the live system's recovery)`
        : `in ${record.environment} (non-production: not the live system)`;
  // Sentences about the system's own infrastructure say when it was a stand-in.
  const standIn = environmentClass === 'sandbox' ? `In a sandbox rehearsal (${record.environment}, not the live system): ` : '';

  const controls: ControlEvidence[] = [
    {
      framework: 'SOC 2',
      control: 'A1.2',
      title: 'Environmental protections, software, data backup processes and recovery infrastructure',
      evidence: `${standIn}${standIn ? 'the' : 'The'} recovery infrastructure of ${system}, ${record.target.description || record.target.driver}, was exercised on ${date}; ${restoreSource}, and ${checks}.`,
    },
    {
      framework: 'SOC 2',
      control: 'A1.3',
      title: 'Recovery plan procedures supporting system recovery are tested',
      evidence: `A ${record.type} test of the recovery procedure for ${system} ran ${where} from ${record.startedAt} to ${record.endedAt} (UTC); ${rto}; ${rpo}; outcome ${record.outcome}.`,
    },
    {
      framework: 'SOC 2',
      control: 'CC7.5',
      title: 'Activities to recover from identified security incidents',
      evidence: `The drill exercised recovery from: ${disruption}; ${findings}.`,
    },
    {
      framework: 'SOC 2',
      control: 'CC9.1',
      title: 'Risk mitigation activities for potential business disruptions',
      evidence: `The targets tested (taken from the ${record.targets.source === 'plan' ? `continuity plan ${plan}` : `scenario, overriding plan ${plan}`}) were checked against measurement: RTO ${verdictWord(record.verdict.rto)}, RPO ${verdictWord(record.verdict.rpo)}.`,
    },
    {
      framework: 'ISO 22301:2019',
      control: '8.5',
      title: 'Exercise programme',
      evidence: `This dated ${record.type} exercise of ${system} against plan ${plan}, with ${present} of ${record.participants.length} listed participants present, produced this post-exercise report with observations, findings and remediation.`,
    },
    {
      framework: 'ISO/IEC 27001:2022',
      control: 'A.5.30',
      title: 'ICT readiness for business continuity',
      evidence: `${standIn}ICT continuity of ${system} was tested against its recovery objectives: ${rto}; ${rpo}.`,
    },
    {
      framework: 'ISO/IEC 27001:2022',
      control: 'A.8.13',
      title: 'Information backup',
      evidence:
        record.dataIntegrity.backup !== null || record.dataIntegrity.restorePoint !== null
          ? `Backup restorability was tested: ${restoreSource}, and ${checks}.`
          : `Not applicable to this test type beyond data loss: ${restoreSource}; ${rpo}.`,
    },
  ];

  const copy = record.restoredCopy;
  if (copy !== null) {
    const deletion = copy.deletion;
    const deletionText =
      deletion === undefined
        ? copy.kept !== null
          ? `the copy is kept (${copy.kept}) and its deletion is still pending`
          : 'its deletion was not recorded'
        : `it was destroyed at ${deletion.destroyedAt}, verified by ${deletion.verification.length} check${deletion.verification.length === 1 ? '' : 's'} (${deletion.verification.every((v) => v.passed) ? 'all passed' : 'not all passed'})`;
    controls.push(
      {
        framework: 'ISO/IEC 27001:2022',
        control: 'A.8.10',
        title: 'Information deletion',
        evidence: `The copy of production data at ${copy.location}: ${deletionText}.`,
      },
      {
        framework: 'ISO/IEC 27001:2022',
        control: 'A.8.11',
        title: 'Data masking',
        evidence: `Masking applied to the production data copy: ${copy.masking}.`,
      },
      {
        framework: 'ISO/IEC 27001:2022',
        control: 'A.8.33',
        title: 'Test information',
        evidence: `Production data used for the test was restored to ${copy.location}, reachable by ${copy.access}, and handled as recorded under "Production data copy handling".`,
      },
    );
  }

  controls.push({
    framework: 'NIST SP 800-34 Rev. 1',
    control: '§3.5',
    title: 'Plan testing, training and exercises',
    evidence: `A ${nistExerciseKind(record.type, environmentClass, record.environment)} with a stated objective, participants, timeline, results and lessons learned, recorded on ${date}.`,
  });
  return controls;
}

function verdictWord(verdict: Verdict): string {
  return verdict === 'not-measured' ? 'not measured' : verdict;
}

function describeRto(rto: RtoMeasurement | null, target: number | null, verdict: Verdict): string {
  if (rto === null) return 'RTO not measured in this test type';
  const against = target === null ? 'with no target set' : `against a ${formatSeconds(target)} target`;
  return `measured RTO ${formatSeconds(rto.seconds)} ± ${formatSeconds(rto.errorSeconds)} ${against} (${verdictWord(verdict)})`;
}

function describeRpo(rpo: RpoMeasurement | null, target: number | null, verdict: Verdict): string {
  if (rpo === null) return 'RPO not measured in this test type';
  const against = target === null ? 'with no target set' : `against a ${formatSeconds(target)} target`;
  return `measured RPO ${formatSeconds(rpo.seconds)} ± ${formatSeconds(rpo.errorSeconds)} ${against} (${verdictWord(verdict)}), ${rpo.lostWrites} acknowledged write${rpo.lostWrites === 1 ? '' : 's'} lost`;
}

function nistExerciseKind(type: string, environmentClass: EnvironmentClass, environment: string): string {
  const live = environmentClass === 'production';
  const inSandbox = environmentClass === 'sandbox';
  switch (type) {
    case 'tabletop':
      return 'tabletop exercise';
    case 'simulation':
      return inSandbox ? `functional exercise (simulation), rehearsed in the sandbox ${environment}` : 'functional exercise (simulation)';
    case 'parallel-restore':
      return live
        ? 'functional test (parallel restore of the system alongside production)'
        : inSandbox
          ? `rehearsal of a parallel restore in the sandbox ${environment}, not of the live system`
          : `functional test (parallel restore in the non-production environment ${environment}, not the live system)`;
    case 'failover':
      return live
        ? 'functional test (failover of the live system)'
        : inSandbox
          ? `rehearsal of a failover in the sandbox ${environment}, not of the live system`
          : `functional test (failover in the non-production environment ${environment}, not the live system)`;
    default:
      return `${type} exercise`;
  }
}
