import { CniError, ErrorCode, toCniError } from '../../cni/errors';
import { convertResult, type DNS, type Result } from '../../cni/result';
import type { CniPlugin, Invocation } from '../../cni/skel';
import { CURRENT_VERSION } from '../../cni/version';
import { logError } from '../../log/logger';
import { EEXIST, NetlinkError } from '../../netlink/errors';
import type { LinkState } from '../../netlink/messages';
import { checkNetnsPath } from '../../netlink/netns';
import { Rtnl, withRtnl } from '../../netlink/rtnl';
import { ipamTypeOf } from './config';
import { announceAddresses, configureInterface, setUp } from './configure';
import { detach } from './detach';
import { execIpam, forwardToIpam, ipamRequest, ipamResult } from './ipam';
import { lookupMaster, type Master } from './master';
import { PodHandle } from './pod';
import { removeLinksTogether } from './teardown';
import { stopIfAborted, type ReleasePrepared } from '../../cni/runner';

/*
 * The link plugins, macvlan and ipvlan: one plugin, told by a small description of its kind (plugins/macvlan/,
 * plugins/ipvlan/: their configuration keys, IFLA_LINKINFO and CHECK) what to create. Its ADD runs here, from the
 * configuration to the kernel, so that it reads in one file.
 */

export type LinkKind = 'macvlan' | 'ipvlan';

/** What ADD creates, read from the configuration by the kind's own module. */
export interface NewLinkConf {
  /** '' for the kind's default (the default-route interface, or a chained interface already resolved). */
  master: string;
  /** The master lives in the pod's namespace, and the link is created from there. */
  linkInContainer: boolean;
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

/** A kind of link: what its module tells the link plugin. */
export interface LinkKindSpec {
  kind: LinkKind;
  about: string;
  /** ADD's configuration; refuses what the kind does not accept. */
  readAddConf(inv: Invocation): NewLinkConf;
  /** Refuses a master the link cannot hang off (macvlan: an MTU above the master's); called before anything is made. */
  checkMaster?(conf: NewLinkConf, master: Master): void;
  /** CHECK, step for step as the kind's reference plugin does it. */
  check(inv: Invocation): Promise<void>;
}

/**
 * The plugin of a kind, compatible with its reference plugin (same keys, steps, results and messages), with the
 * reference's leaks fixed: a failed ADD removes the link and releases the addresses, and DEL never needs the master.
 */
export function linkPlugin(spec: LinkKindSpec): CniPlugin {
  const prepared: PreparedConfs = new WeakMap();
  return {
    about: spec.about,
    add: async (inv) => attach(spec, addConf(spec, prepared, inv), inv),
    prepareAdd: (inv) => prepareAttach(spec, prepared, inv),
    del: detach,
    delTogether: removeLinksTogether,
    check: (inv) => spec.check(inv),
    status: (inv) => forwardToIpam(inv, ipamTypeOf(inv.config), 'STATUS'),
    gc: (inv) => forwardToIpam(inv, ipamTypeOf(inv.config), 'GC'),
  };
}

/** One ADD, after its configuration was validated and its master found. */
interface AttachRequest {
  inv: Invocation;
  kind: LinkKind;
  conf: NewLinkConf;
  master: Master;
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
 * Creates the link directly in the pod's namespace under its final name. When a link of that name is in the way,
 * in the pod or in the namespace the request is sent from (the kernel looks a NEWLINK's name up there first, the
 * "kernel bug" the reference plugins work around), it is done the reference plugins' way instead: under a
 * temporary name, then renamed in the pod. That gives their result and their error for a name the pod already has
 * ("failed to rename macvlan to ...: file exists"), and the same link otherwise. The direct way saves the rename,
 * which waits for an RCU grace period (about 0.5 ms here). Returns the link under its final name.
 */
async function createInPod(req: AttachRequest, pod: PodHandle, undo: Undo[]): Promise<LinkState> {
  const { ifName } = req.inv.cmd;
  const nl = podSocket(pod);
  // With linkInContainer the master is in the pod, and so must be the socket that names it by index.
  const fromMaster = req.master.netns === undefined ? Rtnl.open() : nl;
  /** The link created under `name`; undefined when `mayBeTaken` and a link of that name is in the way. */
  const create = async (name: string, mayBeTaken: boolean): Promise<LinkState | undefined> => {
    let echoed: LinkState | undefined;
    try {
      echoed = await fromMaster.createLink({
        name, parentIndex: req.master.link.index, netnsFd: pod.netnsFd(), mtu: req.conf.mtu, mac: req.conf.mac, linkInfo: req.conf.linkInfo,
      }, nl);
    } catch (e) {
      if (mayBeTaken && e instanceof NetlinkError && e.errno === EEXIST) return undefined;
      if (e instanceof NetlinkError) throw new CniError(ErrorCode.Internal, `failed to create ${req.kind}: ${e.reason}`);
      throw e;
    }
    // Its index and the MAC the kernel gave it (which a rename does not change), as the kernel echoed them, or looked
    // up where it did not (older kernels).
    const created = echoed ?? await nl.linkByName(name);
    undo.push(() => nl.deleteLink(created));
    return created;
  };
  const direct = await create(ifName, true);
  if (direct) return direct;
  // Only unique in the pod for an instant, never secret: Math.random spares loading node:crypto for every attachment.
  const tmpName = `veth${Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')}`;
  const created = (await create(tmpName, false))!;
  try {
    await nl.setLink(created, { name: ifName });
  } catch (e) {
    if (e instanceof NetlinkError) throw new CniError(ErrorCode.Internal, `failed to rename ${req.kind} to "${ifName}": ${e.reason}`);
    throw e;
  }
  return { ...created, name: ifName };
}

/** The addresses and routes for the link, or undefined for an L2-only link. */
async function addressing(req: AttachRequest, undo: Undo[]): Promise<Result | undefined> {
  const { ipamType, prevResult } = req.conf;
  if (ipamType) {
    const answer = await execIpam(req.inv, ipamType, 'ADD');
    // Whatever it printed, it may hold an address now.
    undo.push(() => execIpam(req.inv, ipamType, 'DEL'));
    return ipamResult(answer, ipamType, req.inv.cniVersion);
  }
  return prevResult?.ips.length ? prevResult : undefined;
}

/** The socket in the pod's namespace that this call's ADDs into the pod share: opened by the first. */
function podSocket(pod: PodHandle): Rtnl {
  return pod.socket ?? pod.keep(Rtnl.open(pod.netns));
}

/**
 * Gets a later ADD into a pod ready while the call waits for an earlier plugin, `inv` as that ADD will get it: reads
 * its configuration (for the ADD to take, `prepared`), holds the pod's handle, checks the pod's namespace and opens
 * its fd and the socket in it, and has the runner prepare the IPAM plugin's call. Nothing in the kernel changes; the
 * master is looked up by the ADD itself, as an earlier plugin may be what creates it. What fails here is left to the
 * ADD, which meets it in its own order.
 */
function prepareAttach(spec: LinkKindSpec, prepared: PreparedConfs, inv: Invocation): ReleasePrepared {
  const pod = PodHandle.acquire(inv.cmd);
  let releaseIpam: ReleasePrepared | undefined;
  try {
    const conf = spec.readAddConf(inv);
    prepared.set(inv.config, { args: inv.cmd.args, conf });
    if (!pod.netnsChecked) {
      checkNetnsPath(inv.cmd.netns);
      pod.netnsChecked = true;
    }
    pod.netnsFd();
    podSocket(pod);
    if (!conf.linkInContainer) lookUpMasterEarly(conf.master);
    if (conf.ipamType && inv.runner.prepareAdds) {
      const ipam = ipamRequest(inv, conf.ipamType, 'ADD');
      releaseIpam = inv.runner.prepareAdds([{ pluginPath: ipam.pluginPath, env: ipam.env, stdin: ipam.stdin }]);
    }
  } catch {
    // The ADD does it again, and fails there if it must.
  }
  return () => {
    releaseIpam?.();
    pod.release();
  };
}

let masterLookedUp = false;

/**
 * A master looked up once in the process while the ADDs are prepared, for this process's socket and the code a
 * look-up runs: the process's first took 0.6-0.8 ms, a later one 0.1. The answer is dropped; the ADD looks the
 * master up itself, since an earlier plugin may create or change it.
 */
function lookUpMasterEarly(name: string): void {
  if (masterLookedUp) return;
  masterLookedUp = true;
  void withRtnl(undefined, (nl) => lookupMaster(nl, name, undefined)).catch(() => undefined);
}

/**
 * The ADD configurations prepareAttach read, by the configuration object the call was given (skel.ts hands a
 * prepared call the object it read then), with the CNI_ARGS they were read with (a MAC request is among them).
 */
type PreparedConfs = WeakMap<Record<string, unknown>, { args: string; conf: NewLinkConf }>;

/** The ADD's configuration: the one read while it was prepared when there is one for this call, else read now. */
function addConf(spec: LinkKindSpec, prepared: PreparedConfs, inv: Invocation): NewLinkConf {
  const early = prepared.get(inv.config);
  if (early === undefined || early.args !== inv.cmd.args) return spec.readAddConf(inv);
  // Taken once: another call with the same configuration (a retry) reads its own.
  prepared.delete(inv.config);
  return early.conf;
}

/**
 * ADD of a macvlan or ipvlan link into CNI_NETNS, as the reference plugins do it; unlike them, any failure
 * removes the link and releases the addresses again. Returns the result in the configuration's version.
 */
async function attach(spec: LinkKindSpec, conf: NewLinkConf, inv: Invocation): Promise<Record<string, unknown>> {
  const pod = PodHandle.acquire(inv.cmd);
  try {
    // Once per handle: the ADDs that share it share its fd of the namespace and its socket there too.
    if (!pod.netnsChecked) {
      requireNetns(inv.cmd.netns);
      pod.netnsChecked = true;
    }
    const master = await pod.master(conf.master, conf.linkInContainer ? () => podSocket(pod) : undefined);
    spec.checkMaster?.(conf, master);
    return await attachTo(pod, { inv, kind: spec.kind, conf, master });
  } finally {
    pod.release();
  }
}

async function attachTo(pod: PodHandle, req: AttachRequest): Promise<Record<string, unknown>> {
  const { netns, ifName } = req.inv.cmd;
  const undo: Undo[] = [];
  try {
    const link = await createInPod(req, pod, undo);
    const result: Result = {
      cniVersion: CURRENT_VERSION,
      interfaces: [{ name: ifName, mac: link.mac, sandbox: netns }],
      ips: [],
      routes: [],
      dns: req.conf.dns,
    };
    const addresses = await addressing(req, undo);
    // The caller gave up while this plugin waited (for IPAM): what was done is undone below.
    stopIfAborted(req.inv.signal);
    const nl = podSocket(pod);
    if (addresses) {
      result.ips = addresses.ips.map((ip) => ({ ...ip, interface: 0 }));
      result.routes = addresses.routes;
      announceAddresses(netns, pod.netnsFd(), ifName);
      await configureInterface(nl, netns, link, result, req.inv.signal);
    } else {
      await setUp(nl, link);
    }
    return convertResult(result, req.inv.cniVersion);
  } catch (e) {
    await rollBack(undo, e);
    throw e;
  }
}
