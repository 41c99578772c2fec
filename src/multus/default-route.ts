import { familyOf, isDefaultDst, type Family } from '../cni/ip';
import type { Result, Route } from '../cni/result';
import type { Delegate } from './delegate';

/*
 * The pod's `default-route` requests: the attachments that name gateways get default routes through them, and every
 * other attachment loses its default routes of those families (all families when some element asks for an empty
 * list). Done inside the pod's namespace after every delegate is attached; Multus's version of this silently
 * deletes nothing since 4.2.2.
 */

const DEFAULT_DST: Record<Family, string> = { 4: '0.0.0.0/0', 6: '::/0' };

/**
 * Marks, on each delegate, the families whose default routes it must drop (Multus's IsFilterV4Gateway and
 * IsFilterV6Gateway, which the scratch cache keeps). Nothing is marked when no element asked for a default route.
 */
export function planDefaultRoutes(delegates: Delegate[]): void {
  const requests = delegates.filter((d) => d.gatewayRequest !== undefined);
  if (requests.length === 0) return;
  const all = requests.some((d) => d.gatewayRequest!.length === 0);
  const wanted = new Set(requests.flatMap((d) => d.gatewayRequest!.map(familyOf)));
  for (const d of delegates) {
    const own = new Set((d.gatewayRequest ?? []).map(familyOf));
    // A delegate with gateways replaces its own defaults of those families; the others give theirs up.
    d.isFilterV4Gateway = own.has(4) || all || wanted.has(4);
    d.isFilterV6Gateway = own.has(6) || all || wanted.has(6);
  }
}

/** The routes `result` lists once the plan is applied to its interface: results and caches must say what is there. */
export function rewriteRoutes(result: Result, d: Delegate): Route[] {
  const dropped = (r: Route): boolean =>
    isDefaultDst(r.dst) && (familyOf(r.dst) === 6 ? d.isFilterV6Gateway : d.isFilterV4Gateway);
  const added = (d.gatewayRequest ?? []).map((gw) => ({ dst: DEFAULT_DST[familyOf(gw)], gw }));
  return [...result.routes.filter((r) => !dropped(r)), ...added];
}

/** Applies the plan to the links in the pod's namespace. `ifNames[i]` is delegate i's interface. */
export async function applyDefaultRoutes(netns: string, delegates: Delegate[], ifNames: string[]): Promise<void> {
  // Every ADD loads this module; the netlink modules are loaded only when a pod asks for a default route.
  const { withRtnl } = await import('../netlink/rtnl');
  const { RT_TABLE_MAIN } = await import('../netlink/messages');
  await withRtnl(netns, async (nl) => {
    const routes = await nl.routes();
    for (const [i, d] of delegates.entries()) {
      if (!d.isFilterV4Gateway && !d.isFilterV6Gateway) continue;
      const link = await nl.findLink(ifNames[i]!);
      if (!link) continue; // a delegate that put nothing in the pod (an IPAM-only or host-side plugin)
      for (const r of routes) {
        const drop = r.family === 4 ? d.isFilterV4Gateway : d.isFilterV6Gateway;
        if (drop && r.oif === link.index && r.table === RT_TABLE_MAIN && r.dstLen === 0) {
          await nl.deleteRoute({ dst: r.dst, ...(r.gw && { gw: r.gw }), oif: link.index, table: r.table }, link.name);
        }
      }
      for (const gw of d.gatewayRequest ?? []) await nl.addRoute({ dst: DEFAULT_DST[familyOf(gw)], gw, oif: link.index }, link.name);
    }
  });
}
