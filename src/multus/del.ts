import type { Invocation } from '../cni/skel';
import { CniError, ErrorCode } from '../cni/errors';
import { announceDels, delNetwork } from '../delegation/network-invoker';
import { loadCachedResult } from '../delegation/result-cache';
import { logError, logVerbose } from '../log/logger';
import { prepareCall, podPrefix, runtimeConfFor, type MultusCall } from './call';
import { delegateLabel, type Delegate } from './delegate';
import { isMarkedDeleted, markDeleted } from './deleted-marks';
import { removeAttachmentDeviceInfo } from './device-info';
import { podContext } from './kube-context';
import { podDelegates } from './pod-networks';
import { warnIfNotReady } from './readiness';
import { readScratchCache, removeScratchCache } from './scratch-cache';
import { withContainerLock } from './container-lock';

export interface DelFailure {
  index: number;
  message: string;
  /** ADD had completed for this delegate (its result was cached), so a failure may leave something behind. */
  wasAttached: boolean;
}

/** DEL for every delegate, last first, each one tried whatever happened to the others. Returns the failures. */
export async function delDelegates(call: MultusCall, delegates: Delegate[]): Promise<DelFailure[]> {
  const ifNames = delegates.map((d, i) => runtimeConfFor(call, d, i).ifName);
  await announceDels(call.invoke, call.inv.cmd.netns, delegates.map((d, i) => ({ net: d.net, ifName: ifNames[i]! })));
  const failures: DelFailure[] = [];
  for (let i = delegates.length - 1; i >= 0; i--) {
    const d = delegates[i]!;
    const rt = runtimeConfFor(call, d, i);
    // Read once: whether ADD completed for it, and its prevResult.
    const cached = loadCachedResult(call.invoke.cacheDir, { networkName: d.net.name, containerId: rt.containerId, ifName: rt.ifName });
    const wasAttached = cached.present;
    try {
      await delNetwork(call.invoke, d.net, rt, cached);
      logVerbose(`${podPrefix(call, delegateLabel(d))}: deleted interface ${rt.ifName}`);
    } catch (e) {
      const message = `${podPrefix(call, delegateLabel(d))}: error deleting network "${d.net.name}" on interface ${rt.ifName}: ${(e as Error).message}`;
      logError(message);
      failures.push({ index: i, message, wasAttached });
    }
    // As Multus: whatever the delegate's DEL said, its device-info copy has no further use.
    removeAttachmentDeviceInfo(call, d, i);
  }
  return failures;
}

function fail(failures: DelFailure[]): never {
  throw new CniError(ErrorCode.Internal, failures.map((f) => f.message).join('; '));
}

/**
 * Without the cache, the pod's networks as the API describes them now, or, when the pod or the API server is gone,
 * the configured networks alone. Only this path costs API requests on DEL.
 */
async function fallbackDelegates(call: MultusCall): Promise<Delegate[]> {
  try {
    return await podDelegates(call, await podContext(call), 'best-effort');
  } catch (e) {
    logError(`cannot resolve the pod's networks (${(e as Error).message}); deleting the configured networks only`);
    return podDelegates(call, undefined);
  }
}

export async function cmdDel(inv: Invocation): Promise<void> {
  const call = prepareCall(inv);
  return withContainerLock(call.conf.cniDir, inv.cmd.containerId, call.conf.delegateTimeoutMs, () => delLocked(call));
}

async function delLocked(call: MultusCall): Promise<void> {
  const { conf } = call;
  const { containerId } = call.inv.cmd;
  if (conf.readinessIndicatorFile) warnIfNotReady(conf.readinessIndicatorFile);
  const cache = readScratchCache(conf.cniDir, containerId, conf.cniVersion);
  if (cache.state === 'found') {
    const failures = await delDelegates(call, cache.delegates);
    if (failures.length === 0 || !conf.retryDeleteOnError) removeScratchCache(conf.cniDir, containerId);
    if (failures.length > 0) fail(failures);
    markDeleted(conf.cniDir, containerId);
    return;
  }
  if (cache.state === 'missing' && isMarkedDeleted(conf.cniDir, containerId)) {
    // The runtime's second DEL (containerd: StopPodSandbox, then RemovePodSandbox): nothing is left to do.
    logVerbose(`container ${containerId} was already deleted; nothing to do`);
    return;
  }
  // Multus returns success here and leaks every IP the pod held; the configured networks are our best knowledge.
  logError(cache.state === 'missing'
    ? `no delegate cache for container ${containerId}; deleting the configured networks instead`
    : `delegate cache for container ${containerId} is corrupt (${cache.reason}); deleting the configured networks instead`);
  const failures = await delDelegates(call, await fallbackDelegates(call));
  removeScratchCache(conf.cniDir, containerId);
  // Without the cache we cannot know what was attached: only a delegate whose result is cached certainly was.
  // Failing for the others would wedge the pod on a network whose ADD never happened (a bad master, say).
  const real = failures.filter((f) => f.wasAttached);
  if (real.length > 0) fail(real);
  markDeleted(conf.cniDir, containerId);
}
