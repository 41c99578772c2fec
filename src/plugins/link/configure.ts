import { CniError, ErrorCode } from '../../cni/errors';
import type { Result } from '../../cni/result';
import { logVerbose } from '../../log/logger';
import { NetlinkError } from '../../netlink/errors';
import { familyOf, parseCidr } from '../../cni/ip';
import { IFA_F_DADFAILED, IFA_F_TENTATIVE, type LinkState } from '../../netlink/messages';
import type { Rtnl } from '../../netlink/rtnl';
import { inNetns, readSysctl, writeSysctl, writeSysctlsIn } from '../../netlink/sysctl';
import { stopIfAborted, type StopSignal } from '../../cni/runner';

// How long IPv6 duplicate address detection may take before routes via an IPv6 gateway are added (the reference's
// SettleAddresses: 5 s in current releases), and how often to look.
const DAD_TIMEOUT_S = 5;
const DAD_POLL_MS = 50;

/**
 * The sysctls the reference plugins set on a new interface: the kernel then announces its addresses (gratuitous
 * ARP, unsolicited neighbour advertisement) when they are added or the link comes up. Both are written in one visit
 * to the pod's namespace, entered through `netnsFd`, the fd of it the call holds open. Failures are not fatal.
 */
export function announceAddresses(netns: string, netnsFd: number, ifName: string): void {
  try {
    for (const { key, reason } of writeSysctlsIn(netnsFd, [`net/ipv4/conf/${ifName}/arp_notify`, `net/ipv6/conf/${ifName}/ndisc_notify`], '1')) {
      logVerbose(`cannot set ${key}=1 in ${netns}: ${reason}`);
    }
  } catch (e) {
    logVerbose(`cannot set arp_notify and ndisc_notify of ${ifName} in ${netns}: ${(e as Error).message}`);
  }
}

/**
 * An IPv6 address needs IPv6 enabled on the interface, and on lo so that the kernel accepts local traffic; in one
 * visit to the pod's namespace.
 */
function enableIpv6(netns: string, ifName: string): void {
  try {
    inNetns(netns, () => enableIpv6Here(netns, ifName));
  } catch (e) {
    if (e instanceof CniError) throw e;
    logVerbose(`cannot enable IPv6 on ${ifName} in ${netns}: ${(e as Error).message}`);
  }
}

function enableIpv6Here(netns: string, ifName: string): void {
  for (const dev of ['lo', ifName]) {
    const key = `net/ipv6/conf/${dev}/disable_ipv6`;
    let value: string;
    try {
      value = readSysctl(key);
    } catch (e) {
      logVerbose(`cannot read ${key} in ${netns}: ${(e as Error).message}`);
      continue;
    }
    if (value === '0') continue;
    try {
      writeSysctl(key, '0');
    } catch (e) {
      throw new CniError(ErrorCode.Internal, `failed to enable IPv6 for interface "${dev}" (${key}=${value}): ${(e as Error).message}`);
    }
  }
  // Keep the addresses when the link goes down and up again, as newer reference plugins do.
  try {
    writeSysctl(`net/ipv6/conf/${ifName}/keep_addr_on_down`, '1');
  } catch (e) {
    logVerbose(`cannot set keep_addr_on_down on ${ifName}: ${(e as Error).message}`);
  }
}

/** Brings the link up; a MAC another macvlan of the same master already has is refused here (EADDRINUSE). */
export async function setUp(nl: Rtnl, link: LinkState): Promise<void> {
  await nl.batch().setLink(link, { up: true }, upError(link)).run();
}

function upError(link: LinkState): (e: NetlinkError) => Error {
  return (e) => new CniError(ErrorCode.Internal, `failed to set "${link.name}" UP: ${e.reason}`);
}

/** Waits until no address of the link is tentative, so that a route via an IPv6 gateway can be added. */
async function settleAddresses(nl: Rtnl, link: LinkState, signal: StopSignal | undefined): Promise<void> {
  const deadline = Date.now() + DAD_TIMEOUT_S * 1000;
  for (;;) {
    const addrs = await nl.addresses(link.index);
    const failed = addrs.find((a) => a.flags & IFA_F_DADFAILED);
    if (failed) throw new CniError(ErrorCode.Internal, `link ${link.name} has address ${failed.ip}/${failed.prefixLen} in DADFAILED state`);
    if (!addrs.some((a) => a.flags & IFA_F_TENTATIVE)) return;
    if (Date.now() > deadline) throw new CniError(ErrorCode.Internal, `link ${link.name} still has tentative addresses after ${DAD_TIMEOUT_S} seconds`);
    stopIfAborted(signal);
    await new Promise((r) => setTimeout(r, DAD_POLL_MS));
  }
}

/**
 * Gives the interface `link` all addresses and routes of `result`, the way the reference plugins' ConfigureIface
 * does: addresses, link up, then routes, a route without a gateway going via the first gateway of its family.
 * `nl` is a socket in the pod's namespace `netns`.
 */
export async function configureInterface(nl: Rtnl, netns: string, link: LinkState, result: Pick<Result, 'ips' | 'routes'>,
  signal: StopSignal | undefined): Promise<void> {
  const gateways: { 4?: string; 6?: string } = {};
  // The addresses, the link up and (unless DAD must be waited for first) the routes go to the kernel in one write:
  // each is still checked and its failure reported as before; what the kernel did after a refused one goes with
  // the link when the failed ADD removes it.
  const batch = nl.batch();
  let ipv6Enabled = false;
  for (const ip of result.ips) {
    if (parseCidr(ip.address).family === 6 && !ipv6Enabled) {
      // Before the batch is sent, as the reference enables it before adding the first IPv6 address.
      enableIpv6(netns, link.name);
      ipv6Enabled = true;
    }
    batch.addAddress(link, ip.address);
    if (ip.gateway) gateways[familyOf(ip.gateway)] ??= ip.gateway;
  }
  batch.setLink(link, { up: true }, upError(link));
  const routes = result.routes.map((r) => ({
    dst: r.dst, gw: r.gw ?? gateways[parseCidr(r.dst).family], oif: link.index, priority: r.priority, table: r.table, scope: r.scope,
  }));
  if (gateways[6]) {
    await batch.run();
    await settleAddresses(nl, link, signal);
    const after = nl.batch();
    for (const spec of routes) after.addRoute(spec, link.name);
    await after.run();
  } else {
    for (const spec of routes) batch.addRoute(spec, link.name);
    await batch.run();
  }
}
