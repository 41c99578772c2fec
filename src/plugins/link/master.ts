import { CniError, ErrorCode } from '../../cni/errors';
import { defaultRouteInterface } from '../../netlink/default-route';
import { NetlinkError } from '../../netlink/errors';
import type { LinkState } from '../../netlink/messages';
import { withRtnl, type Rtnl } from '../../netlink/rtnl';
import type { Invocation } from '../../cni/skel';
import type { PodHandle } from './pod';

/** The link a macvlan or ipvlan hangs off, as found in the namespace it lives in. */
export interface Master {
  link: LinkState;
  /** Where the master lives: the pod's namespace with linkInContainer, else ours (undefined). */
  netns: string | undefined;
}

/**
 * Looks the master up by name through `nl` (a socket in the namespace the master lives in), or takes the
 * default-route interface there when no name is configured; messages are the reference plugins'.
 */
async function lookupMaster(nl: Rtnl, name: string, netns: string | undefined): Promise<Master> {
  const master = name === '' ? await defaultRouteInterface(nl) : name;
  try {
    return { link: await nl.linkByName(master), netns };
  } catch (e) {
    if (e instanceof NetlinkError) throw new CniError(ErrorCode.Internal, `failed to lookup master "${master}": ${e.reason}`);
    throw e;
  }
}

/** The master named `name` ('' for the default-route interface), in the pod's namespace when `inContainer`. */
export function findMaster(inv: Invocation, name: string, inContainer: boolean): Promise<Master> {
  const where = inContainer ? inv.cmd.netns : undefined;
  return withRtnl(where, (nl) => lookupMaster(nl, name, where));
}

/**
 * findMaster for an ADD into `pod`: looked up once for the pod's ADDs of one call (see pod.ts), through the pod's
 * socket when the master is in the pod.
 */
export async function podMaster(pod: PodHandle, name: string, inContainer: boolean): Promise<Master> {
  const key = `${inContainer}\n${name}`;
  let master = pod.masters.get(key);
  if (master === undefined) {
    master = inContainer ? await lookupMaster(pod.socket(), name, pod.netns) : await withRtnl(undefined, (nl) => lookupMaster(nl, name, undefined));
    pod.masters.set(key, master);
  }
  return master;
}
