import type { Invocation } from '../cni/skel';
import { CniError, ErrorCode } from '../cni/errors';
import { versionAtLeast } from '../cni/version';
import { checkNetwork } from '../delegation/network-invoker';
import { logVerbose } from '../log/logger';
import { prepareCall, podPrefix, runtimeConfFor, type MultusCall } from './call';
import { lockContainer } from './container-lock';
import { delegateLabel } from './delegate';
import { readScratchCache } from './scratch-cache';

/**
 * CHECK every delegate that ADD attached, each against its own cached result. A delegate whose cniVersion predates
 * CHECK (0.4.0) cannot be checked (libcni refuses it): it is skipped, so an old NetworkAttachmentDefinition does not
 * fail every CHECK of the pod.
 */
export async function cmdCheck(inv: Invocation): Promise<void> {
  const call = prepareCall(inv);
  const { containerId } = inv.cmd;
  const lock = await lockContainer(call.conf.cniDir, containerId, call.conf.delegateTimeoutMs);
  try {
    await checkLocked(call);
  } finally {
    lock.release();
  }
}

async function checkLocked(call: MultusCall): Promise<void> {
  const { containerId } = call.inv.cmd;
  const cache = readScratchCache(call.conf.cniDir, containerId, call.conf.cniVersion);
  if (cache.state !== 'found') {
    throw new CniError(ErrorCode.UnknownContainer,
      cache.state === 'missing' ? `no delegate cache for container ${containerId}; was it added?`
        : `delegate cache for container ${containerId} is corrupt: ${cache.reason}`);
  }
  for (const [i, d] of cache.delegates.entries()) {
    if (!versionAtLeast(d.net.cniVersion, '0.4.0')) {
      logVerbose(`${podPrefix(call, delegateLabel(d))}: CHECK skipped: network "${d.net.name}" has cniVersion ${d.net.cniVersion}, CHECK needs 0.4.0 or later`);
      continue;
    }
    try {
      await checkNetwork(call.invoke, d.net, runtimeConfFor(call, d, i));
    } catch (e) {
      throw e instanceof CniError ? e.withContext(`${podPrefix(call, delegateLabel(d))}: CHECK of network "${d.net.name}"`) : e;
    }
  }
}
