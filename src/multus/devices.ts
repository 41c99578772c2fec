/**
 * Device IDs for the attachments whose NetworkAttachmentDefinition names a device-plugin resource or DRA claim
 * (`k8s.v1.cni.cncf.io/resourceName`), as Multus hands them out: the kubelet is asked once per ADD, and each
 * resource has one counter over the pod's attachments in order, across NADs, so two attachments never get the
 * same device. Loaded only when some attachment names a resource.
 */
import { CniError, ErrorCode } from '../cni/errors';
import { podDevices, KUBELET_DEADLINE_MS, type PodKey } from '../kubelet/pod-devices';
import { logError, logVerbose } from '../log/logger';
import type { MultusCall } from './call';

/** An attachment that needs a device: its position among the delegates, its resource, its network for messages. */
export interface DeviceRequest {
  index: number;
  resourceName: string;
  network: string;
}

function list(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/**
 * Device ID per delegate index. `strict` (ADD): a kubelet that cannot answer, or fewer devices than attachments
 * of a resource, fails the call before anything is attached. Otherwise (DEL without its cache) whatever can be
 * found is used and the rest is logged.
 */
export async function assignDevices(call: MultusCall, pod: PodKey, requests: DeviceRequest[], strict: boolean): Promise<Map<number, string>> {
  const { conf } = call;
  const resources = [...new Set(requests.map((r) => r.resourceName))];
  const out = new Map<number, string>();
  let found;
  try {
    found = await podDevices({ socketPath: conf.kubeletSocket, checkpointFile: conf.kubeletCheckpointFile, deadlineMs: KUBELET_DEADLINE_MS }, pod);
  } catch (e) {
    const err = e instanceof CniError ? e : new CniError(ErrorCode.Internal, (e as Error).message);
    const what = `cannot get the devices of resource${resources.length > 1 ? 's' : ''} ${list(resources)}`;
    if (strict) throw err.withContext(what);
    logError(`${what}: ${err.message}; deleting without device IDs`);
    return out;
  }
  for (const resource of resources) {
    const wanting = requests.filter((r) => r.resourceName === resource);
    const ids = found.byResource.get(resource) ?? [];
    if (ids.length < wanting.length) {
      const msg = `resource "${resource}": ${wanting.length} attachment${wanting.length > 1 ? 's' : ''} (${wanting.map((r) => r.network).join(', ')}) ` +
        `need a device each, but ${found.source} lists ${ids.length} for pod ${pod.namespace}/${pod.name}`;
      if (strict) {
        throw new CniError(ErrorCode.InvalidNetworkConfig, msg,
          `request ${wanting.length} of "${resource}" in the pod's container resources (or DRA claim), one per attachment`);
      }
      logError(msg);
    }
    wanting.forEach((r, i) => {
      if (i >= ids.length) return;
      out.set(r.index, ids[i]!);
      logVerbose(`pod ${pod.namespace}/${pod.name}: network ${r.network} gets device ${ids[i]} of resource "${resource}" from ${found.source}`);
    });
  }
  return out;
}
