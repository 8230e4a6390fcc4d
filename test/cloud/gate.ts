/**
 * The opt-in end-to-end suite's gate and its announcement: which cloud samples run, against
 * which resources, for about how long and what they cost — or why nothing runs. Pure (reads
 * only the environment it is given and whether files exist), so `npm test` checks it without
 * any cloud (test/unit/cloud-gate.test.ts).
 */
import fs from 'node:fs';

export type Env = Readonly<Record<string, string | undefined>>;

export interface CloudRun {
  sample: string;
  /** What it creates or disrupts, in resource-hours, so the cost can be computed for any region. */
  resources: string;
  /** Rough on-demand price; check your region's price list. */
  cost: string;
  duration: string;
}

export interface Gate {
  enabled: boolean;
  /** Why it does not run (every missing variable), when not enabled. */
  missing: string[];
  runs: CloudRun[];
}

const AWS_RUNS: CloudRun[] = [
  {
    sample: 'orders-rds-failover.yaml',
    resources: 'no new resource: one forced Multi-AZ failover (RebootDBInstance ForceFailover) of the tagged instance you provide',
    cost: '≈ $0 beyond the instance you already run',
    duration: '3–10 min (guardrail 20 min)',
  },
  {
    sample: 'orders-rds-restore.yaml',
    resources: 'one db.t4g.medium single-AZ copy (drillbook-<instance>-<run>) for at most 90 min plus its storage, deleted at teardown',
    cost: '≈ $0.10–0.20 per run (about 1.5 instance-hours)',
    duration: '20–60 min (guardrail 90 min), plus 5–15 min for the deletion',
  },
];

const K8S_RUNS: CloudRun[] = [
  { sample: 'checkout-k8s-failover.yaml', resources: 'deletes at most 6 pods labelled app=orders-api in namespace orders', cost: '$0 on a local kind/k3d cluster', duration: '2–10 min (guardrail 15 min)' },
  { sample: 'checkout-k8s-restore.yaml', resources: 'a Velero restore into a scratch namespace, deleted at teardown', cost: '$0 on a local kind/k3d cluster (object storage on MinIO)', duration: '5–30 min (guardrail 1 h)' },
];

function need(env: Env, names: string[], missing: string[], why?: string): void {
  for (const name of names) if (!env[name]) missing.push(why ? `${name} (${why})` : name);
}

export function awsGate(env: Env): Gate {
  if (env.DRILLBOOK_CLOUD_AWS !== '1') return { enabled: false, missing: ['DRILLBOOK_CLOUD_AWS=1'], runs: AWS_RUNS };
  const missing: string[] = [];
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION) missing.push('AWS_REGION');
  if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE && !env.AWS_WEB_IDENTITY_TOKEN_FILE && !env.AWS_CONTAINER_CREDENTIALS_FULL_URI)
    missing.push('AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a web identity)');
  need(env, ['DRILLBOOK_CLOUD_RDS_INSTANCE'], missing, 'a Multi-AZ RDS for PostgreSQL instance tagged drillbook:drill=true');
  need(env, ['DRILLBOOK_CLOUD_RDS_SUBNET_GROUP', 'DRILLBOOK_CLOUD_RDS_SECURITY_GROUP'], missing, 'where the restored copy goes');
  need(env, ['ORDERS_DB_PASSWORD'], missing, 'the drillbook user password of the instance');
  return { enabled: missing.length === 0, missing, runs: AWS_RUNS };
}

export function k8sGate(env: Env, exists: (file: string) => boolean = fs.existsSync): Gate {
  if (env.DRILLBOOK_CLOUD_K8S !== '1') return { enabled: false, missing: ['DRILLBOOK_CLOUD_K8S=1'], runs: K8S_RUNS };
  const missing: string[] = [];
  if (!env.KUBECONFIG) missing.push('KUBECONFIG');
  else if (!exists(env.KUBECONFIG)) missing.push(`KUBECONFIG (${env.KUBECONFIG} does not exist)`);
  need(env, ['DRILLBOOK_CLOUD_K8S_CONTEXT'], missing, 'the kubeconfig context of the kind/k3d cluster');
  need(env, ['DRILLBOOK_CLOUD_K8S_PROBE_URL'], missing, 'orders-api /healthz as reachable from here, e.g. through an ingress or port-forward');
  return { enabled: missing.length === 0, missing, runs: K8S_RUNS };
}

/** What `npm run test:cloud` prints before anything runs. */
export function announcement(env: Env, exists?: (file: string) => boolean): string {
  const lines: string[] = ['drillbook cloud end-to-end suite (docs/cloud-e2e.md)'];
  for (const [name, gate] of [['AWS', awsGate(env)], ['Kubernetes', k8sGate(env, exists)]] as const) {
    if (!gate.enabled) {
      lines.push(`  ${name}: not run — set ${gate.missing.join(', ')}`);
      continue;
    }
    lines.push(`  ${name}: runs for real, each run ending with teardown and the orphan sweep:`);
    for (const run of gate.runs) lines.push(`    ${run.sample}: ${run.duration}; ${run.cost}; ${run.resources}`);
  }
  const total = [awsGate(env), k8sGate(env, exists)].filter((g) => g.enabled).length;
  if (total === 0) lines.push('  nothing runs: no cloud resource is touched (exit 0)');
  return `${lines.join('\n')}\n`;
}
