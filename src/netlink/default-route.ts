import { CniError, ErrorCode } from '../cni/errors';
import { EINVAL, errnoText, NetlinkError } from './errors';
import { RT_TABLE_MAIN } from './messages';
import type { Rtnl } from './rtnl';

/**
 * The interface of the first default route of the main table, IPv4 before IPv6 and in the kernel's order (lowest
 * metric first): the master the reference macvlan and ipvlan plugins use when none is configured.
 */
export async function defaultRouteInterface(nl: Rtnl): Promise<string> {
  const route = (await nl.routes()).find((r) => r.table === RT_TABLE_MAIN && !r.cloned && r.dstLen === 0);
  if (!route) throw new CniError(ErrorCode.Internal, 'no default route interface found');
  // A multipath default has no single device; the reference plugins then ask for link 0 and get EINVAL.
  if (route.oif === undefined) throw new NetlinkError(EINVAL, errnoText(EINVAL), `default route ${route.dst} has no single interface`);
  return (await nl.linkByIndex(route.oif)).name;
}
