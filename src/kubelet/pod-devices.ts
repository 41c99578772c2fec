/**
 * Which devices the kubelet gave a pod, per resource name, as Multus 4.2 finds them: from the PodResources API
 * when its socket exists (the pod matched by namespace and name; device-plugin devices by resource name, DRA
 * claims by claim name with the device part of each CDI name), else from the device manager's checkpoint file
 * (the pod matched by UID). IDs keep the kubelet's order: containers in pod order, each container's entries as
 * listed (one per NUMA node).
 */
import { statSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { logDebug, logError } from '../log/logger';
import type { PodResources } from './pod-resources';
import { readRegularFile } from '../util/bounded-read';

export const DEFAULT_KUBELET_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';
export const DEFAULT_KUBELET_CHECKPOINT = '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint';
/** Multus gives the kubelet 10 s to answer. */
export const KUBELET_DEADLINE_MS = 10_000;

export interface KubeletSources {
  socketPath: string;
  checkpointFile: string;
  deadlineMs: number;
}

export interface PodKey {
  namespace: string;
  name: string;
  uid: string;
}

export interface PodDevices {
  /** Resource (or DRA claim) name → device IDs, in the kubelet's order. */
  byResource: Map<string, string[]>;
  /** Where they came from, for messages: `the kubelet at <socket>` or `the kubelet checkpoint <file>`. */
  source: string;
}

function add(map: Map<string, string[]>, key: string, ids: string[]): void {
  const list = map.get(key);
  if (list) list.push(...ids);
  else map.set(key, [...ids]);
}

/** The device part of a CDI name (`vendor.com/class=device`); names without exactly one `=` are skipped, as in Multus. */
function cdiDeviceId(cdiName: string, claim: string): string | undefined {
  const parts = cdiName.split('=');
  if (parts.length === 2) return parts[1];
  logError(`DRA claim ${claim}: CDI device name ${JSON.stringify(cdiName)} is not "vendor/class=device"; skipped`);
  return undefined;
}

export function devicesFromPodResources(pods: PodResources[], pod: PodKey): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const p of pods) {
    if (p.name !== pod.name || p.namespace !== pod.namespace) continue;
    for (const c of p.containers) {
      for (const d of c.devices) add(map, d.resourceName, d.deviceIds);
      for (const r of c.dynamicResources) {
        const ids = r.claimResources.flatMap((cr) => cr.cdiDevices.map((n) => cdiDeviceId(n, r.claimName)).filter((id) => id !== undefined));
        add(map, r.claimName, ids);
      }
    }
  }
  return map;
}

function socketExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function fromKubelet(src: KubeletSources, pod: PodKey): Promise<PodDevices> {
  const source = `the kubelet at ${src.socketPath}`;
  const [{ listPodResources }, { GrpcError, GrpcStatus }] = await Promise.all([import('./pod-resources'), import('../grpc/unary')]);
  let pods: PodResources[];
  try {
    pods = await listPodResources(src.socketPath, src.deadlineMs);
  } catch (e) {
    // Unreachable or too slow says "not now" (a kubelet restarting); any other answer will not change by itself.
    const transient = e instanceof GrpcError && (e.code === GrpcStatus.Unavailable || e.code === GrpcStatus.DeadlineExceeded);
    throw new CniError(transient ? ErrorCode.TryAgainLater : ErrorCode.Internal,
      `cannot list pod resources from ${source}: ${(e as Error).message}`,
      'is the kubelet running, and is "kubeletSocket" in the multus configuration its PodResources socket?');
  }
  logDebug(`pod resources: ${pods.length} pods listed by ${source}`);
  return { byResource: devicesFromPodResources(pods, pod), source };
}

async function fromCheckpoint(src: KubeletSources, pod: PodKey): Promise<PodDevices> {
  const source = `the kubelet checkpoint ${src.checkpointFile}`;
  let text: string;
  try {
    text = readRegularFile(src.checkpointFile, { follow: true }).toString('utf8');
  } catch (e) {
    throw new CniError(ErrorCode.TryAgainLater,
      `neither the kubelet's PodResources socket ${src.socketPath} nor its checkpoint file ${src.checkpointFile} can be read: ${(e as Error).message}`,
      'is the kubelet running? Set "kubeletSocket" (and "kubeletCheckpointFile") in the multus configuration if its root directory is not /var/lib/kubelet');
  }
  const { parseCheckpoint } = await import('./checkpoint');
  let entries;
  try {
    entries = parseCheckpoint(text);
  } catch (e) {
    throw new CniError(ErrorCode.Internal, `${source} is not a device manager checkpoint: ${(e as Error).message}`);
  }
  const byResource = new Map<string, string[]>();
  for (const e of entries) if (e.podUID === pod.uid) add(byResource, e.resourceName, e.deviceIds);
  return { byResource, source };
}

/** The pod's devices; the kubelet's socket is used when it exists, the checkpoint file otherwise (as in Multus). */
export async function podDevices(src: KubeletSources, pod: PodKey): Promise<PodDevices> {
  if (socketExists(src.socketPath)) return fromKubelet(src, pod);
  logDebug(`no kubelet socket at ${src.socketPath}; reading the device checkpoint ${src.checkpointFile}`);
  return fromCheckpoint(src, pod);
}
