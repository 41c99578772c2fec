import type { Invocation } from '../../cni/skel';
import { ENODEV, isErrno } from '../../netlink/errors';
import { checkNetnsPath, NetnsMissingError } from '../../netlink/netns';
import { withRtnl } from '../../netlink/rtnl';
import { ipamTypeOf } from './config';
import { execIpam } from './ipam';
import { takeRemovedTogether } from './teardown';

/** Deletes CNI_IFNAME in the pod, whatever its kind; a pod or interface that is already gone is fine. */
async function removeLink(netns: string, ifName: string): Promise<void> {
  if (takeRemovedTogether(netns, ifName)) return;
  try {
    checkNetnsPath(netns);
  } catch (e) {
    if (e instanceof NetnsMissingError) return;
    throw e;
  }
  try {
    await withRtnl(netns, async (nl) => {
      const link = await nl.findLink(ifName);
      if (link) await nl.deleteLink(link);
    });
  } catch (e) {
    // The pod went away meanwhile (its namespace file, or the link with it).
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || isErrno(e, ENODEV)) return;
    throw e;
  }
}

/**
 * DEL of a macvlan or ipvlan attachment: release the addresses (IPAM first, as the reference plugins do), then
 * delete the link. Only the IPAM type is read from the configuration, and the master is never looked up: DEL
 * must succeed after the master, the default route, the pod or the link are gone (the reference ipvlan fails when
 * it cannot resolve an omitted master; we do not). Both steps are tried; the first failure is reported.
 */
export async function detach(inv: Invocation): Promise<void> {
  const ipamType = ipamTypeOf(inv.config);
  let failure: unknown;
  if (ipamType) {
    try {
      await execIpam(inv, ipamType, 'DEL');
    } catch (e) {
      failure = e;
    }
  }
  if (inv.cmd.netns) {
    try {
      await removeLink(inv.cmd.netns, inv.cmd.ifName);
    } catch (e) {
      failure ??= e;
    }
  }
  if (failure !== undefined) throw failure;
}
