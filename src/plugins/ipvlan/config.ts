import { toCniError } from '../../cni/errors';
import { parseResult, type Result } from '../../cni/result';
import type { Invocation } from '../../cni/skel';
import { IPVLAN_MODES as KERNEL_MODES, type IpvlanMode } from '../../netlink/link-info';
import { ConfigReader } from '../../cni/config-reader';
import { invalidConf, modeProblem, NETCONF, parseLinkConf, type LinkConf } from '../link/config';

export interface IpvlanConf extends LinkConf {
  mode: IpvlanMode;
  /** In a chain: the previous plugin's result, whose single interface is the master when none is configured. */
  prevResult?: Result;
}

// Every mode the kernel has, as in the reference plugin.
const IPVLAN_MODES = Object.keys(KERNEL_MODES) as IpvlanMode[];

/**
 * What ipvlan requires of its configuration itself, before ADD's part (the chained master). With a collecting reader
 * (multus validate) every problem is collected; the runtime's reader throws the first.
 */
export function checkIpvlanConf(r: ConfigReader): IpvlanConf {
  let mode = (r.string('mode') || 'l2') as IpvlanMode;
  if (!IPVLAN_MODES.includes(mode)) {
    r.report(modeProblem('ipvlan', mode, IPVLAN_MODES));
    mode = 'l2';
  }
  return { ...parseLinkConf(r), mode };
}

/**
 * The ipvlan configuration. For ADD (`forAdd`) also what the reference's loadConf derives: the prevResult, the
 * master taken from it, and where the addresses come from. The kernel's ipvlan flags (bridge/private/vepa) have
 * no key, as in the reference plugin: a key it ignores would be silently lost on a node that switches back.
 */
export function parseIpvlanConf(inv: Invocation, forAdd: boolean): IpvlanConf {
  const r = new ConfigReader(inv.config, NETCONF);
  const conf: IpvlanConf = checkIpvlanConf(r);
  if (!forAdd) return conf;

  const raw = r.raw('prevResult');
  if (raw !== undefined) {
    try {
      conf.prevResult = parseResult(raw, inv.cniVersion);
    } catch (e) {
      throw toCniError(e).withContext('could not parse prevResult');
    }
  }
  if (conf.master === '' && conf.prevResult) {
    const [only, ...more] = conf.prevResult.interfaces;
    if (!only?.name || more.length > 0) throw invalidConf('chained master failure. PrevResult lacks a single named interface');
    conf.master = only.name;
  }
  if (conf.ipamType === '' && !conf.prevResult?.ips.length) {
    // The reference finds out only after creating the link, which it then leaks.
    throw invalidConf('no plugin name provided', 'ipvlan needs "ipam" with a "type", or a prevResult with IPs when chained');
  }
  return conf;
}
