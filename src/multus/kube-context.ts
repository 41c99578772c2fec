import { CniError, ErrorCode } from '../cni/errors';
import type { KubeApi, Pod } from '../k8s/api';
import { logError } from '../log/logger';
import type { MultusCall } from './call';
import type { PodEvents } from './events';

/** The API server connection of one call, and the pod when the runtime named one that exists. */
export interface KubeContext {
  api: KubeApi;
  pod: Pod | undefined;
  /** The k8s module, loaded once the call needs Kubernetes at all. */
  k8s: typeof import('../k8s/api');
  /** Events about the pod (ADD only, when enabled). */
  events?: PodEvents;
}

// A mirror pod of a static pod can lag behind its sandbox; its UID is not the one the kubelet passes.
const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';

/** Whether this node talks to Kubernetes: a kubeconfig in the configuration, or the in-cluster environment. */
export function kubernetesConfigured(call: MultusCall): boolean {
  const env = call.inv.env;
  return call.conf.kubeconfig !== '' || Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/** Loads the Kubernetes client only now: networks from the local configuration never pay for HTTP and TLS. */
export async function connect(call: MultusCall): Promise<Omit<KubeContext, 'pod'> | undefined> {
  if (!kubernetesConfigured(call)) return undefined;
  const k8s = await import('../k8s/api');
  const api = await k8s.connectKubeApi(call.conf.kubeconfig, call.inv.env);
  return api ? { api, k8s } : undefined;
}

/**
 * Connects and reads the pod the runtime named (one GET). A pod that is not in the API (deleted meanwhile, or a
 * static pod whose mirror does not exist yet) gets the configured networks only; any other failure, an API server
 * that cannot be reached included, fails the call before anything is attached.
 */
export async function podContext(call: MultusCall): Promise<KubeContext | undefined> {
  const conn = await connect(call);
  if (!conn) return undefined;
  const { namespace, name, uid } = call.pod;
  if (!namespace || !name) return { ...conn, pod: undefined };
  let pod: Pod;
  try {
    pod = await conn.api.getPod(namespace, name);
  } catch (e) {
    if (conn.k8s.isNotFound(e, 'pods')) {
      logError(`pod ${namespace}/${name} is not in the API server; attaching the configured networks only`);
      return { ...conn, pod: undefined };
    }
    throw e instanceof CniError ? e.withContext(`error getting pod ${namespace}/${name}`) : e;
  }
  const source = pod.annotations[CONFIG_SOURCE_ANNOTATION];
  if (uid && pod.uid !== uid && (source === undefined || source === 'api')) {
    throw new CniError(ErrorCode.Internal, `expected pod UID "${uid}" but got "${pod.uid}" from Kube API`,
      `pod ${namespace}/${name} was replaced by a new pod of the same name; this sandbox belongs to the old one`);
  }
  return { ...conn, pod };
}
