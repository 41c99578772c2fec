import { CniError, ErrorCode } from '../../cni/errors';
import { parseResult, type IPConfig, type Route } from '../../cni/result';
import type { Invocation } from '../../cni/skel';
import { goField } from '../../cni/config-reader';
import { maskBytes, networkOf, parseCidr, sameIp } from '../../cni/ip';
import { decodeLinkInfo } from '../../netlink/link-info';
import { RT_TABLE_MAIN, type AddressState, type RouteState } from '../../netlink/messages';
import { withRtnl } from '../../netlink/rtnl';
import { requireNetns, type LinkKind } from './plugin';
import { execIpam } from './ipam';

export interface CheckRequest {
  inv: Invocation;
  kind: LinkKind;
  /** The configured mode, as the kernel names it (bridge, l2, ...). */
  mode: string;
  ipamType: string;
  /** Verifies the master still exists, at the point where the reference plugin does it. */
  verifyMaster?: () => Promise<void>;
  /** ipvlan's messages start with a capital letter; macvlan's stopped doing so in v1.3.0. */
  capitalised: boolean;
  /** How the mode message names the kind: "macvlan", "IPVlan". */
  modeLabel: string;
}

function fail(msg: string): CniError {
  return new CniError(ErrorCode.Internal, msg);
}

/** A route as Go prints the reference's types.Route with %v, which its CHECK message contains. */
function goRoute(r: Route): string {
  const dst = parseCidr(r.dst);
  const mask = maskBytes(Buffer.alloc(dst.family === 4 ? 4 : 16, 0xff), dst.prefix).toString('hex');
  return `{Dst:{IP:${networkOf(dst).split('/')[0]} Mask:${mask}} GW:${r.gw ?? '<nil>'}}`;
}

/** Every address of the result is on the interface, with a route to its subnet (ip.ValidateExpectedInterfaceIPs). */
function checkAddresses(ifName: string, ips: IPConfig[], addrs: AddressState[], routes: RouteState[]): void {
  for (const ip of ips) {
    const c = parseCidr(ip.address);
    if (!addrs.some((a) => a.prefixLen === c.prefix && sameIp(a.ip, c.ip))) {
      throw fail(`Failed to match addr ${ip.address} on interface ${ifName}`);
    }
    const subnet = networkOf(c);
    if (!routes.some((r) => r.family === c.family && r.dst === subnet)) {
      throw fail(`Failed to find Gateway ${ip.gateway ?? '<nil>'} for interface ${ifName}`);
    }
  }
}

/**
 * Every route of the result is in the main table (ip.ValidateExpectedRoute): matched by destination and, when the
 * result names one, gateway; a default route is matched by being a default route of its family.
 */
function checkRoutes(expected: Route[], routes: RouteState[]): void {
  for (const r of expected) {
    const c = parseCidr(r.dst);
    const dst = networkOf(c);
    const found = routes.some((k) => k.family === c.family && (c.prefix === 0
      ? k.dstLen === 0
      : k.dst === dst && (r.gw === undefined || (k.gw !== undefined && sameIp(k.gw, r.gw)))));
    if (!found) throw fail(`Expected Route ${goRoute(r)} not found in routing table`);
  }
}

/**
 * CHECK of a macvlan or ipvlan attachment against prevResult, step for step as the reference plugins do it,
 * with their messages.
 */
export async function checkAttachment(req: CheckRequest): Promise<void> {
  const { netns, ifName } = req.inv.cmd;
  const say = (msg: string) => (req.capitalised ? msg[0]!.toUpperCase() + msg.slice(1) : msg);
  requireNetns(netns);
  if (req.ipamType) await execIpam(req.inv, req.ipamType, 'CHECK');

  const raw = goField(req.inv.config, 'prevResult');
  if (raw === undefined || raw === null) throw fail(say('required prevResult missing'));
  const prev = parseResult(raw, req.inv.cniVersion);
  const iface = prev.interfaces.find((i) => i.name === ifName && i.sandbox === netns);
  if (!iface) throw fail(say(`sandbox in prevResult  doesn't match configured netns: ${netns}`));

  await req.verifyMaster?.();

  await withRtnl(netns, async (nl) => {
    const link = await nl.findLink(iface.name);
    if (!link) throw fail(say(`container Interface name in prevResult: ${iface.name} not found`));
    const info = decodeLinkInfo(link.linkInfo);
    if (info.kind !== req.kind) throw fail(say(`error: Container interface ${link.name} not of type ${req.kind}`));
    if (info.mode !== req.mode) {
      throw fail(say(`container ${req.modeLabel} mode ${info.mode ?? 'unknown'} does not match expected value: ${req.mode}`));
    }
    if (iface.mac && iface.mac.toLowerCase() !== link.mac) {
      throw fail(say(`interface ${iface.name} Mac ${iface.mac} doesn't match container Mac: ${link.mac}`));
    }
    const mainRoutes = (await nl.routes()).filter((r) => r.table === RT_TABLE_MAIN && !r.cloned);
    checkAddresses(ifName, prev.ips, await nl.addresses(link.index), mainRoutes);
    checkRoutes(prev.routes, mainRoutes);
  });
}
