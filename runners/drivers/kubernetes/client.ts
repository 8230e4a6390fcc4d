/**
 * How the Kubernetes driver reaches a cluster. The kubeconfig comes from the scenario
 * (`target.kubeconfig`, `target.context`) or the standard places ($KUBECONFIG,
 * ~/.kube/config, in-cluster service account). Undo handlers get the same `ClusterRef` from
 * the journal, so `drillbook recover` in a fresh process reaches the same cluster.
 *
 * @kubernetes/client-node is imported lazily: it is large, and most commands never need it.
 */
import type * as k8s from '@kubernetes/client-node';

/** What the journal keeps to reach the cluster again: a path and a context name, never credentials. */
export interface ClusterRef {
  kubeconfig: string | null;
  context: string | null;
}

export interface KubeClients {
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  networking: k8s.NetworkingV1Api;
  discovery: k8s.DiscoveryV1Api;
  custom: k8s.CustomObjectsApi;
  watch: k8s.Watch;
  /** Options that make a PATCH a JSON merge patch (the API server answers 415 to the client's default). */
  mergePatch: k8s.ConfigurationOptions;
  server: string;
}

let library: Promise<typeof k8s> | undefined;
export function kubernetesLibrary(): Promise<typeof k8s> {
  library ??= import('@kubernetes/client-node');
  return library;
}

export async function connectCluster(ref: ClusterRef): Promise<KubeClients> {
  const lib = await kubernetesLibrary();
  const config = new lib.KubeConfig();
  if (ref.kubeconfig) config.loadFromFile(ref.kubeconfig);
  else config.loadFromDefault();
  if (ref.context) {
    if (!config.getContextObject(ref.context))
      throw new Error(
        !ref.kubeconfig && config.getCurrentContext() === 'inClusterContext'
          ? `target.context ${ref.context}: running inside the cluster, the only context is inClusterContext (the cluster drillbook runs in); remove target.context for scheduled runs`
          : `kubeconfig has no context named ${ref.context}`,
      );
    config.setCurrentContext(ref.context);
  }
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error(`no current cluster in the kubeconfig${ref.kubeconfig ? ` ${ref.kubeconfig}` : ' (standard places)'}`);
  return {
    config,
    core: config.makeApiClient(lib.CoreV1Api),
    apps: config.makeApiClient(lib.AppsV1Api),
    networking: config.makeApiClient(lib.NetworkingV1Api),
    discovery: config.makeApiClient(lib.DiscoveryV1Api),
    custom: config.makeApiClient(lib.CustomObjectsApi),
    watch: new lib.Watch(config),
    mergePatch: lib.setHeaderOptions('Content-Type', lib.PatchStrategy.MergePatch),
    server: cluster.server,
  };
}

/** The HTTP status of a failed API call, when it has one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.code ?? (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A one-line sentence for a failed API call (the client's own message embeds headers and bodies). */
export function describeApiError(error: unknown, doing: string): string {
  const status = statusOf(error);
  if (status !== undefined) {
    const body = (error as { body?: unknown }).body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body.slice(0, 200);
      }
    } else if (body && typeof body === 'object') message = (body as { message?: string }).message;
    return `${doing}: the API server answered ${status}${message ? ` (${message})` : ''}`;
  }
  const text = error instanceof Error ? error.message : String(error);
  return `${doing}: ${text.split('\n')[0]}`;
}

/** Runs an API call, turning a failure into a located sentence. */
export async function api<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new KubeApiError(describeApiError(error, doing), statusOf(error));
  }
}

export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export function clusterLabel(clients: KubeClients, ref: ClusterRef): string {
  return `${clients.server}${ref.context ? ` (context ${ref.context})` : ''}`;
}
