import { CniError, ErrorCode } from '../../cni/errors';
import type { DNS } from '../../cni/result';
import { validatePluginType } from '../../delegation/plugin-path';
import { collect, type ConfigProblem, ConfigReader, shown } from '../../cni/config-reader';

/** How the reference plugins prefix configuration errors. */
export const NETCONF = 'failed to load netconf';

/*
 * The configuration keys macvlan and ipvlan share, read the way the reference plugins' Go decoder reads them:
 * keys match ignoring case, null is the zero value, and a value of the wrong type is refused.
 */

export function invalidConf(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg, details);
}

/** What every link plugin configuration has. */
export interface LinkConf {
  /** '' when omitted: the plugin then picks one (the default-route interface, or a chained interface). */
  master: string;
  /** 0 for the kernel's default. */
  mtu: number;
  /** The master lives in the pod's namespace, and the link is created from there. */
  linkInContainer: boolean;
  /** '' when there is no IPAM (L2 only, or addresses from a previous plugin). */
  ipamType: string;
  /** Copied into the result as is, like the reference plugins do. */
  dns: DNS;
}

function parseDns(r: ConfigReader): DNS {
  const dns: DNS = {};
  const nameservers = r.strings('nameservers');
  const domain = r.string('domain');
  const search = r.strings('search');
  const options = r.strings('options');
  if (nameservers) dns.nameservers = nameservers;
  if (domain) dns.domain = domain;
  if (search) dns.search = search;
  if (options) dns.options = options;
  return dns;
}

/** The shared keys; with a collecting reader every problem is collected (ipam.type's at `ipam.type`). */
export function parseLinkConf(r: ConfigReader): LinkConf {
  return {
    master: r.string('master'),
    mtu: r.int('mtu'),
    linkInContainer: r.bool('linkInContainer'),
    ipamType: r.problems ? (collect(r.problems, 'ipam.type', () => ipamTypeOf(r.value)) ?? '') : ipamTypeOf(r.value),
    dns: parseDns(r.object('dns')),
  };
}

/** The problem of a mode the plugin does not have, as the reference plugin words it. */
export function modeProblem(plugin: string, mode: string, modes: readonly string[]): ConfigProblem {
  return {
    where: 'mode', problem: `${shown(mode)} is not one of ${plugin}'s modes`, fix: `use ${modes.map((m) => `"${m}"`).join(', ')}`,
    error: invalidConf(`unknown ${plugin} mode: ${JSON.stringify(mode)}`, `"mode" must be one of ${modes.join(', ')}`),
  };
}

/**
 * The IPAM type alone, for DEL, STATUS and GC: they must work whatever else the configuration says (DEL runs after
 * failed ADDs too, and must still release the address), but an unreadable IPAM section would leak it silently.
 */
export function ipamTypeOf(conf: Record<string, unknown>): string {
  const type = new ConfigReader(conf, NETCONF).object('ipam').raw('type');
  // Refused before anything is created: the IPAM type names a program, like a delegate's type.
  return type === undefined || type === '' ? '' : validatePluginType(type, NETCONF, 'ipam.type');
}
