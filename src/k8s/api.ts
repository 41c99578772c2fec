/**
 * The Kubernetes calls the meta-plugin makes, typed and validated at the edge. An ADD costs at most
 * 2 + (distinct NetworkAttachmentDefinitions) requests: GET the pod, GET each NAD once, one PATCH of pods/status.
 *
 * Load with `await import()` and only when a kubeconfig or the in-cluster environment is present: pods whose
 * networks are all static delegates never pay for the HTTP/TLS stack.
 */
import { CniError, ErrorCode } from '../cni/errors';
import { logVerbose } from '../log/logger';
import { KubeApiError, KubeClient, NotFoundError, describe, type ClientOptions, type Target } from './client';
import { inClusterConfig, loadKubeconfig } from './kubeconfig';
import { isDns1123Label, isDns1123Subdomain, LABEL_RULE, SUBDOMAIN_RULE } from './names';
import { checkNadObject, type NetworkAttachmentDefinition } from './nad';
import { checkObjectMeta } from './object-meta';
import { Problems } from '../cni/config-reader';

export { KubeApiError, KubeClient, NotFoundError, type ClientOptions } from './client';
export type { NetworkAttachmentDefinition } from './nad';
import type { PodEvent } from './events';

/** What the plugin uses of a pod. */
export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  annotations: Record<string, string>;
}

/** Annotation values to set; null removes the annotation (RFC 7386). */
export type AnnotationPatch = Record<string, string | null>;

export type Resource = 'pods' | 'network-attachment-definitions';

export const MERGE_PATCH = 'application/merge-patch+json';
const NAD_GROUP = 'k8s.cni.cncf.io';
// client-go's RetryOnConflict default, for the update fallback only.
const MAX_CONFLICT_RETRIES = 5;

/** True when `err` says that the named object of this resource does not exist (and not that the URL was wrong). */
export function isNotFound(err: unknown, resource: Resource): err is NotFoundError {
  return err instanceof NotFoundError && err.resource === resource;
}

/**
 * The API for a kubeconfig path (when set) or else the in-cluster environment, or undefined when there is neither,
 * the way Multus picks its client.
 */
export async function connectKubeApi(kubeconfig: string, env: NodeJS.ProcessEnv, options?: ClientOptions): Promise<KubeApi | undefined> {
  if (kubeconfig) return new KubeApi(new KubeClient(await loadKubeconfig(kubeconfig), options));
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) return new KubeApi(new KubeClient(inClusterConfig(env), options));
  return undefined;
}

export class KubeApi {
  // A pod may name the same network twice; the second lookup (even a failed one) costs nothing.
  private readonly nads = new Map<string, Promise<NetworkAttachmentDefinition>>();

  constructor(readonly client: KubeClient) {}

  async getPod(namespace: string, name: string): Promise<Pod> {
    const target = podTarget(namespace, name);
    return toPod(await this.client.request({ method: 'GET', path: podPath(target), target }), target, this.client);
  }

  getNetworkAttachmentDefinition(namespace: string, name: string): Promise<NetworkAttachmentDefinition> {
    const key = `${namespace}/${name}`;
    let nad = this.nads.get(key);
    if (nad === undefined) {
      nad = this.fetchNad(namespace, name);
      this.nads.set(key, nad);
    }
    return nad;
  }

  /**
   * Sets annotations with one merge PATCH of the pod's status subresource: no read first and no conflict loop, since
   * a merge patch of annotations does not depend on the version it lands on. With `uid` the patch also carries the
   * pod's uid, so it fails instead of writing to a namesake that replaced the pod meanwhile.
   *
   * Multus's ClusterRole grants only get/update on pods/status; when patch is forbidden this falls back to Multus's
   * read-and-update, so a cluster set up for Multus keeps working.
   */
  async patchPodStatusAnnotations(namespace: string, name: string, annotations: AnnotationPatch, uid?: string): Promise<Pod> {
    const target = podTarget(namespace, name, 'status');
    const metadata: Record<string, unknown> = { annotations };
    if (uid) metadata.uid = uid;
    try {
      const raw = await this.client.request({ method: 'PATCH', path: podPath(target), target, body: { metadata }, contentType: MERGE_PATCH });
      return toPod(raw, target, this.client);
    } catch (e) {
      // The API server refuses a patch that would change metadata.uid as 422 Invalid ("field is immutable"), which
      // says nothing about the cause: say it, as the update fallback does.
      if (uid && e instanceof KubeApiError && e.status === 422 && e.message.includes('metadata.uid')) {
        throw new KubeApiError(e.code, `${describe(target)} was replaced: expected uid ${uid} (${e.message})`, e.status, e.reason);
      }
      if (!(e instanceof KubeApiError) || e.status !== 403) throw e;
      logVerbose(`k8s: ${e.message}; falling back to get and update (grant patch on pods/status to save a request)`);
      return this.updatePodStatusAnnotations(target, annotations, uid, e);
    }
  }

  /** Creates a core/v1 Event (`kubectl describe` shows it), in one attempt bounded by `withinMs`. */
  async postEvent(event: PodEvent, withinMs: number): Promise<void> {
    const { namespace } = event.metadata;
    const target: Target = { resource: 'events', group: '', namespace, name: event.metadata.name };
    checkNames(target);
    await this.client.request({ method: 'POST', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, target, body: event, onceWithinMs: withinMs });
  }

  /** Closes the kept-alive connection; optional before exit. */
  close(): void {
    this.client.close();
  }

  private async fetchNad(namespace: string, name: string): Promise<NetworkAttachmentDefinition> {
    const target: Target = { resource: 'network-attachment-definitions', group: NAD_GROUP, namespace, name };
    checkNames(target);
    const path = `/apis/${NAD_GROUP}/v1/namespaces/${encodeURIComponent(namespace)}/network-attachment-definitions/${encodeURIComponent(name)}`;
    const raw = await this.client.request({ method: 'GET', path, target });
    const problems = new Problems();
    const nad = checkNadObject(raw, { namespace, name }, problems, (what) => malformed(this.client, target, what));
    problems.throwFirst();
    return nad!;
  }

  private async updatePodStatusAnnotations(target: Target, annotations: AnnotationPatch, uid: string | undefined, forbidden: KubeApiError): Promise<Pod> {
    const getTarget = { ...target, subresource: undefined };
    for (let attempt = 1; ; attempt++) {
      const raw = await this.client.request({ method: 'GET', path: podPath(getTarget), target: getTarget });
      const pod = toPod(raw, getTarget, this.client);
      if (uid && pod.uid !== uid) {
        throw new KubeApiError(ErrorCode.Internal, `${describe(getTarget)} was replaced: expected uid ${uid}, found ${pod.uid}`, 409, 'Conflict');
      }
      const obj = raw as { metadata: Record<string, unknown> };
      const merged: Record<string, string> = { ...pod.annotations };
      for (const [k, v] of Object.entries(annotations)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      obj.metadata.annotations = merged;
      try {
        return toPod(await this.client.request({ method: 'PUT', path: podPath(target), target, body: obj }), target, this.client);
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 403) {
          throw new KubeApiError(e.code, `${forbidden.message}; the fallback was refused too: ${e.message}`, 403, e.reason);
        }
        if (!(e instanceof KubeApiError) || e.status !== 409 || attempt >= MAX_CONFLICT_RETRIES) throw e;
      }
    }
  }
}

function podTarget(namespace: string, name: string, subresource?: string): Target {
  const target: Target = { resource: 'pods', group: '', namespace, name, ...(subresource && { subresource }) };
  checkNames(target);
  return target;
}

function podPath(t: Target): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.name)}`;
  return t.subresource ? `${base}/${t.subresource}` : base;
}

// Checked as the API server checks them, before the request: an empty name would turn a GET of one object into a
// LIST, and "." or ".." or a "/" would walk the URL path.
function checkNames(t: Target): void {
  if (!isDns1123Label(t.namespace)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid namespace ${JSON.stringify(t.namespace)} for ${describe(t)}: it must be a Kubernetes namespace name`, `a namespace name has ${LABEL_RULE}`);
  }
  if (!isDns1123Subdomain(t.name)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `invalid name ${JSON.stringify(t.name)} for ${describe(t)}: it must be a Kubernetes object name`, `a Kubernetes object name has ${SUBDOMAIN_RULE}`);
  }
}

function toPod(raw: unknown, target: Target, client: KubeClient): Pod {
  const bad = (what: string): CniError => malformed(client, target, what);
  const problems = new Problems();
  const meta = checkObjectMeta(raw, problems, bad)?.meta;
  problems.throwFirst();
  if (!meta!.uid) throw bad('metadata.uid is missing');
  return {
    namespace: meta!.namespace ?? target.namespace,
    name: meta!.name ?? target.name,
    uid: meta!.uid,
    resourceVersion: meta!.resourceVersion ?? '',
    annotations: meta!.annotations,
  };
}

function malformed(client: KubeClient, target: Target, what: string): CniError {
  return new CniError(ErrorCode.DecodingFailure, `Kubernetes API server ${client.conn.server} sent a malformed ${describe(target)}: ${what}`);
}
