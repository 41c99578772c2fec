import type { Result } from '../cni/result';
import { logVerbose } from '../log/logger';
import type { MultusCall } from './call';
import type { KubeApi, Pod } from '../k8s/api';

/*
 * Kubernetes events about the pod, as Go Multus posts them: a Normal `AddedInterface` per attachment that got an
 * interface or an address, and a Warning `NoNetworkFound` for a NetworkAttachmentDefinition that cannot be read.
 * Each one is posted at once, while the ADD goes on, in a single attempt bounded by EVENT_WAIT_MS from then; the
 * client sends it over the call's one connection after the requests the ADD waits for (k8s/http1.ts), and drops it
 * if it is still queued at the bound. The ADD waits for what is still in flight only at its end, so events never
 * fail it and delay it by about that bound at most (an event stuck on the connection holds the status write back
 * until its bound). `"events": false` turns them off.
 */

export const EVENT_WAIT_MS = 1000;

export interface PodEvents {
  normal(reason: string, message: string): void;
  warning(reason: string, message: string): void;
  /** Resolves when every event was posted or gave up (each within EVENT_WAIT_MS of being posted). */
  settle(): Promise<void>;
}

/** The event sender of one ADD; undefined when events are off or there is no pod to attach them to. */
export async function podEvents(call: MultusCall, kube: { api: KubeApi; pod: Pod | undefined } | undefined): Promise<PodEvents | undefined> {
  const pod = kube?.pod;
  if (!call.conf.events || !kube || !pod) return undefined;
  const { podEvent } = await import('../k8s/events');
  const pending: Array<Promise<void>> = [];
  const send = (type: 'Normal' | 'Warning', reason: string, message: string): void => {
    pending.push(kube.api.postEvent(podEvent(pod, type, reason, message), EVENT_WAIT_MS).catch((e: unknown) => {
      logVerbose(`event ${reason} for pod ${pod.namespace}/${pod.name} not posted: ${(e as Error).message}`);
    }));
  };
  return {
    normal: (reason, message) => send('Normal', reason, message),
    warning: (reason, message) => send('Warning', reason, message),
    settle: async () => {
      await Promise.all(pending);
    },
  };
}

/**
 * Multus's `AddedInterface` message, "Add net1 [192.168.1.200/24] from default/macvlan-conf" (addresses with their
 * prefix, space-separated); none for a result with neither interfaces nor addresses.
 */
export function addedInterfaceMessage(ifName: string, result: Result, network: string): string | undefined {
  if (result.interfaces.length === 0 && result.ips.length === 0) return undefined;
  return `Add ${ifName} [${result.ips.map((ip) => ip.address).join(' ')}] from ${network}`;
}

/** Multus's `NoNetworkFound` message for a NetworkAttachmentDefinition that could not be read. */
export function noNetworkFoundMessage(namespace: string, name: string, reason: string): string {
  return `cannot find a network-attachment-definition (${name}) in namespace (${namespace}): ${reason}`;
}
