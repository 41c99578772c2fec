import type { Invocation } from '../cni/skel';
import { CniError, ErrorCode } from '../cni/errors';
import { checkNetwork } from '../delegation/network-invoker';
import { prepareCall, podPrefix, runtimeConfFor } from './call';
import { delegateLabel } from './delegate';
import { readScratchCache } from './scratch-cache';

/** CHECK every delegate that ADD attached, each against its own cached result. */
export async function cmdCheck(inv: Invocation): Promise<void> {
  const call = prepareCall(inv);
  const { containerId } = inv.cmd;
  const cache = readScratchCache(call.conf.cniDir, containerId, call.conf.cniVersion);
  if (cache.state !== 'found') {
    throw new CniError(ErrorCode.UnknownContainer,
      cache.state === 'missing' ? `no delegate cache for container ${containerId}; was it added?`
        : `delegate cache for container ${containerId} is corrupt: ${cache.reason}`);
  }
  for (const [i, d] of cache.delegates.entries()) {
    try {
      await checkNetwork(call.invoke, d.net, runtimeConfFor(call, d, i));
    } catch (e) {
      throw e instanceof CniError ? e.withContext(`${podPrefix(call, delegateLabel(d))}: CHECK of network "${d.net.name}"`) : e;
    }
  }
}
