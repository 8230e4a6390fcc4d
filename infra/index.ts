/**
 * Entry point of the drillbook Pulumi program (Pulumi.yaml `main: dist/infra/index.js`; build
 * with `npm run build` first). Reads the `drillbook:*` stack settings and the scenario
 * directory, then declares the deployment (see program.ts). Stack settings: docs/infra.md.
 */
import * as pulumi from '@pulumi/pulumi';
import { createDrillbookInfra } from './program.js';
import { readScenarioDirectory } from './scenarios.js';
import { InfraError, readSettings } from './settings.js';

async function load() {
  try {
    const settings = readSettings(new pulumi.Config('drillbook'));
    const directory = await readScenarioDirectory(settings.scenariosDir);
    return { settings, infra: createDrillbookInfra(settings, directory) };
  } catch (error) {
    // A RunError ends `pulumi up` with the message alone, not a stack trace of this program.
    if (error instanceof InfraError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const { settings, infra } = await load();

export const namespace = infra.namespace.metadata.name;
export const serviceAccount = infra.serviceAccount.metadata.name;
/** The `--evidence` value the CronJobs pass; available once the bucket is locked down. */
export const evidenceUri = infra.evidenceUri;
export const evidenceBucket = infra.bucket.bucket;
export const evidenceRetentionDays = settings.retentionDays;
export const drillPolicyArn = infra.drillPolicy.arn;
/** The role for the ServiceAccount, once the drill policy is attached to it (absent without drillbook:oidcProviderArn). */
export const irsaRoleArn =
  infra.irsaRole && infra.irsaAttachment ? pulumi.all([infra.irsaRole.arn, infra.irsaAttachment.id]).apply(([arn]) => arn) : undefined;
export const cronJobs = pulumi
  .all(infra.cronJobs.map((cronJob) => cronJob.metadata.name))
  .apply(() => infra.cronJobSummaries);
/** Every RBAC rule granted and what needs it: what an auditor asks for. */
export const permissions = pulumi
  .all([...infra.roleBindings.map((binding) => binding.id), ...(infra.clusterRoleBinding ? [infra.clusterRoleBinding.id] : [])])
  .apply(() => ({ namespaced: infra.rbac.namespaced, cluster: infra.rbac.cluster }));
