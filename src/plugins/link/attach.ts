import { CniError, ErrorCode, toCniError } from '../../cni/errors';
import { convertResult, type DNS, type Result } from '../../cni/result';
import type { Invocation } from '../../cni/skel';
import { CURRENT_VERSION } from '../../cni/version';
import { logError } from '../../log/logger';
import { NetlinkError } from '../../netlink/errors';
import type { LinkState } from '../../netlink/messages';
import { checkNetnsPath, withNetnsFd } from '../../netlink/netns';
import { Rtnl } from '../../netlink/rtnl';
import { announceAddresses, configureInterface, setUp } from './configure';
import { execIpam, ipamResult } from './ipam';
import type { Master } from './master';
import { stopIfAborted } from '../../cni/runner';

export type LinkKind = 'macvlan' | 'ipvlan';

/** One ADD of a link plugin, after its configuration was validated and its master found. */
export interface AttachRequest {
  inv: Invocation;
  kind: LinkKind;
  master: Master;
  /** 0 for the kernel default. */
  mtu: number;
  mac?: Buffer;
  /** IFLA_LINKINFO for the kind and mode (link-info.ts). */
  linkInfo: Buffer;
  /** The IPAM plugin to get addresses from; '' for none. */
  ipamType: string;
  /** Without IPAM, a previous plugin's result whose addresses the link takes (chained ipvlan); else L2 only. */
  prevResult?: Result;
  dns: DNS;
}

/** CNI_NETNS must be a network namespace before anything is done; the message is the reference plugins'. */
export function requireNetns(netns: string): void {
  try {
    checkNetnsPath(netns);
  } catch (e) {
    throw toCniError(e).withContext(`failed to open netns "${netns}"`);
  }
}

type Undo = () => Promise<unknown>;

async function rollBack(steps: Undo[], cause: unknown): Promise<void> {
  for (const step of steps.reverse()) {
    try {
      await step();
    } catch (e) {
      logError(`while undoing a failed ADD (${toCniError(cause).message}): ${(e as Error).message}`);
    }
  }
}

/**
 * Creates the link directly in the pod's namespace under a temporary name (so that it cannot clash with a host
 * link of the final name), then renames it there. Returns it under its final name.
 */
async function createInPod(req: AttachRequest, pod: Rtnl, undo: Undo[]): Promise<LinkState> {
  const { netns, ifName } = req.inv.cmd;
  // Only unique in the pod for an instant, never secret: Math.random spares loading node:crypto for every attachment.
  const tmpName = `veth${Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')}`;
  // With linkInContainer the master is in the pod, and so must be the socket that names it by index.
  const fromMaster = req.master.netns === undefined ? Rtnl.open() : pod;
  try {
    await withNetnsFd(netns, (netnsFd) => fromMaster.createLink({
      name: tmpName, parentIndex: req.master.link.index, netnsFd, mtu: req.mtu, mac: req.mac, linkInfo: req.linkInfo,
    }));
  } catch (e) {
    if (e instanceof NetlinkError) throw new CniError(ErrorCode.Internal, `failed to create ${req.kind}: ${e.reason}`);
    throw e;
  } finally {
    if (fromMaster !== pod) fromMaster.close();
  }
  const created = await pod.linkByName(tmpName);
  undo.push(() => pod.deleteLink(created));
  try {
    await pod.setLink(created, { name: ifName });
  } catch (e) {
    if (e instanceof NetlinkError) throw new CniError(ErrorCode.Internal, `failed to rename ${req.kind} to "${ifName}": ${e.reason}`);
    throw e;
  }
  return pod.linkByIndex(created.index);
}

/** The addresses and routes for the link, or undefined for an L2-only link. */
async function addressing(req: AttachRequest, undo: Undo[]): Promise<Result | undefined> {
  if (req.ipamType) {
    const stdout = await execIpam(req.inv, req.ipamType, 'ADD');
    // Whatever it printed, it may hold an address now.
    undo.push(() => execIpam(req.inv, req.ipamType, 'DEL'));
    return ipamResult(stdout, req.ipamType, req.inv.cniVersion);
  }
  return req.prevResult?.ips.length ? req.prevResult : undefined;
}

/**
 * ADD of a macvlan or ipvlan link into CNI_NETNS, as the reference plugins do it; unlike them, any failure
 * removes the link and releases the addresses again. Returns the result in the configuration's version.
 */
export async function attach(req: AttachRequest): Promise<Record<string, unknown>> {
  const { netns, ifName } = req.inv.cmd;
  const undo: Undo[] = [];
  const pod = Rtnl.open(netns);
  try {
    const link = await createInPod(req, pod, undo);
    const result: Result = {
      cniVersion: CURRENT_VERSION,
      interfaces: [{ name: ifName, mac: link.mac, sandbox: netns }],
      ips: [],
      routes: [],
      dns: req.dns,
    };
    const addresses = await addressing(req, undo);
    // The caller gave up while this plugin waited (for IPAM): what was done is undone below.
    stopIfAborted(req.inv.signal);
    if (addresses) {
      result.ips = addresses.ips.map((ip) => ({ ...ip, interface: 0 }));
      result.routes = addresses.routes;
      announceAddresses(netns, ifName);
      await configureInterface(pod, netns, link, result, req.inv.signal);
    } else {
      await setUp(pod, link);
    }
    return convertResult(result, req.inv.cniVersion);
  } catch (e) {
    await rollBack(undo, e);
    throw e;
  } finally {
    pod.close();
  }
}
