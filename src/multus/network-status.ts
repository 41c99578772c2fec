import type { Result } from '../cni/result';
import { logError } from '../log/logger';
import type { MultusCall } from './call';
import { delegateLabel, type Delegate } from './delegate';
import { attachmentDeviceInfo } from './device-info';
import type { KubeContext } from './kube-context';

/**
 * Writes `k8s.v1.cni.cncf.io/network-status` with one merge PATCH of the pod's status. A pod deleted meanwhile is
 * not an error (its sandbox is about to go); any other failure is, and the caller undoes the ADD.
 */
export async function writeNetworkStatus(call: MultusCall, kube: KubeContext, delegates: Delegate[], results: Result[]): Promise<void> {
  const pod = kube.pod!;
  const { networkStatusEntries, networkStatusAnnotation, NETWORK_STATUS_ANNOTATION } = await import('../k8s/network-status');
  // `default` marks the cluster network (the attachment on the runtime's interface), as Multus and the
  // multi-network spec define it; a default-route request moves the route, not the cluster network.
  // The auxiliary chain is not an attachment of its own (Go Multus lists no entry for its empty result either).
  const entries = delegates.flatMap((d, i) => (d.auxiliary ? []
    : networkStatusEntries(results[i]!, delegateLabel(d), i === 0, attachmentDeviceInfo(call, d, i))));
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
