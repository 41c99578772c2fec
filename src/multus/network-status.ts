import { existsSync, readFileSync } from 'node:fs';
import type { Result } from '../cni/result';
import type { DeviceInfo } from '../k8s/network-status';
import { logError } from '../log/logger';
import type { MultusCall } from './call';
import { cniDeviceInfoPath } from './capability-args';
import { delegateLabel, interfaceName, type Delegate } from './delegate';
import type { KubeContext } from './kube-context';

/** The device-info file a device plugin's CNI wrote for this attachment, if any (multi-net-spec device info). */
function deviceInfo(call: MultusCall, d: Delegate, index: number): DeviceInfo | undefined {
  if (!d.deviceID) return undefined;
  const path = cniDeviceInfoPath(d.name || d.net.name, call.inv.cmd.containerId, interfaceName(d, index, call.inv.cmd.ifName));
  try {
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as DeviceInfo) : undefined;
  } catch (e) {
    logError(`device-info ${path} is unreadable, left out of network-status: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * Writes `k8s.v1.cni.cncf.io/network-status` with one merge PATCH of the pod's status. A pod deleted meanwhile is
 * not an error (its sandbox is about to go); any other failure is, and the caller undoes the ADD.
 */
export async function writeNetworkStatus(call: MultusCall, kube: KubeContext, delegates: Delegate[], results: Result[]): Promise<void> {
  const pod = kube.pod!;
  const { networkStatusEntries, networkStatusAnnotation, NETWORK_STATUS_ANNOTATION } = await import('../k8s/network-status');
  // `default` marks the cluster network (the attachment on the runtime's interface), as Multus and the
  // multi-network spec define it; a default-route request moves the route, not the cluster network.
  const entries = delegates.flatMap((d, i) => networkStatusEntries(results[i]!, delegateLabel(d), i === 0, deviceInfo(call, d, i)));
  try {
    await kube.api.patchPodStatusAnnotations(pod.namespace, pod.name, { [NETWORK_STATUS_ANNOTATION]: networkStatusAnnotation(entries) }, pod.uid);
  } catch (e) {
    if (kube.k8s.isNotFound(e, 'pods')) {
      logError(`pod ${pod.namespace}/${pod.name} was deleted before its network-status could be written`);
      return;
    }
    throw e;
  }
}
