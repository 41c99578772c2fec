import { CniError, ErrorCode } from '../../cni/errors';
import { defaultRouteInterface } from '../../netlink/default-route';
import { NetlinkError } from '../../netlink/errors';
import type { LinkState } from '../../netlink/messages';
import { withRtnl, type Rtnl } from '../../netlink/rtnl';
import type { Invocation } from '../../cni/skel';

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
export async function lookupMaster(nl: Rtnl, name: string, netns: string | undefined): Promise<Master> {
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
