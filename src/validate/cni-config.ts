import type { CniError } from '../cni/errors';
import { isSafeName } from '../cni/environment';
import { isSupportedVersion, SUPPORTED_VERSIONS } from '../cni/version';
import { validatePluginType } from '../delegation/plugin-path';
import { cidrContains, cidrFamily, ipFamily, ipToBytes, parseCidr } from '../cni/ip';
import { loadConfig as loadHostLocalConfig } from '../plugins/host-local/config';
import { isObject, Scope, shown } from './findings';
import { IPVLAN_MODES } from '../plugins/ipvlan/config';
import { MACVLAN_MODES } from '../plugins/macvlan/config';

/*
 * Checks of one CNI network configuration (a NAD's spec.config or a multus delegate), reporting every problem it
 * can see offline. Plugin-specific checks exist only for the plugins whose configuration is known here (IPAM
 * host-local and static, macvlan and ipvlan modes); any other type is accepted as it is, since it may well be
 * installed on the nodes (whereabouts, sriov, ...).
 */

export interface ConfigContext {
  /** For a NetworkAttachmentDefinition: its name, which stands in for a missing network name. */
  nadName?: string;
}

// The reference plugins' modes (plugins/main/macvlan, plugins/main/ipvlan); "" is their default.
const MODES: Record<string, readonly string[]> = { macvlan: MACVLAN_MODES, ipvlan: IPVLAN_MODES };

const VERSION_FIX = `use one of ${SUPPORTED_VERSIONS.join(', ')}`;

function checkName(conf: Record<string, unknown>, s: Scope, ctx: ConfigContext): void {
  const name = conf.name;
  const at = s.at('name');
  if (name === undefined || name === null || name === '') {
    if (ctx.nadName !== undefined) at.note(`missing: multus names the network after the NetworkAttachmentDefinition, "${ctx.nadName}"`);
    else at.problem('is missing', 'add "name": every network needs one (it names the result cache and the IPAM store)');
  } else if (typeof name !== 'string') {
    at.problem(`${shown(name)} is not a string`, 'write the network name as a JSON string');
  } else if (!isSafeName(name)) {
    at.problem(`${shown(name)} has characters a network name cannot have`, 'use letters, digits, "_", "." and "-", starting with a letter or digit');
  }
}

function checkVersion(conf: Record<string, unknown>, s: Scope): void {
  const v = conf.cniVersion;
  const at = s.at('cniVersion');
  if (v === undefined || v === null || v === '') {
    at.note('missing: Go Multus then runs the plugin as CNI 0.1.0 (the oldest result format) while multus-ts uses the multus '
      + 'configuration\'s cniVersion; set it, e.g. "1.0.0", to get the same behaviour everywhere');
  } else if (typeof v !== 'string') {
    at.problem(`${shown(v)} is not a string`, `write the version as a JSON string; ${VERSION_FIX}`);
  } else if (!isSupportedVersion(v)) {
    at.problem(`${shown(v)} is not a CNI version multus supports`, VERSION_FIX);
  }
}

function checkIpam(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  const ipam = plugin.ipam;
  const at = s.at('ipam');
  if (ipam === undefined || ipam === null) return;
  if (!isObject(ipam)) {
    at.problem(`${shown(ipam)} is not an object`, 'write "ipam" as an object, e.g. {"type": "host-local", "ranges": [[{"subnet": "10.1.1.0/24"}]]}, or {} for no addresses');
    return;
  }
  if (Object.keys(ipam).length === 0) return;
  if (ipam.type === undefined || ipam.type === '') {
    at.at('type').problem('is missing although "ipam" has settings', 'add "type": the IPAM plugin, e.g. "host-local", "static", "dhcp" or "whereabouts"');
    return;
  }
  try {
    validatePluginType(ipam.type, 'type');
  } catch (e) {
    at.at('type').problem((e as CniError).message.replace(/^type: /, ''), (e as CniError).details || 'name the IPAM plugin binary');
    return;
  }
  if (ipam.type === 'host-local') checkHostLocal(plugin, at, network);
  if (ipam.type === 'static') checkStatic(ipam, at);
  if (ipam.type === 'whereabouts') checkWhereabouts(ipam, at);
}

/**
 * Whereabouts' range keys as its configuration loader reads them: `range` is a CIDR or `<first IP>-<last IP>/<prefix>`,
 * `range_start`/`range_end` addresses inside it, `exclude` CIDRs, `ipRanges` a list of such ranges. Without `range`
 * and `ipRanges` whereabouts takes them from its flat file on the node, which is only noted.
 */
function checkWhereabouts(ipam: Record<string, unknown>, s: Scope): void {
  const hasRanges = ipam.ipRanges !== undefined && ipam.ipRanges !== null;
  if ((ipam.range === undefined || ipam.range === '') && !hasRanges) {
    s.note('has neither "range" nor "ipRanges": whereabouts then needs them in its flat file on every node (/etc/cni/net.d/whereabouts.d/whereabouts.conf)');
  }
  checkWhereaboutsRange(ipam, s);
  if (!hasRanges) return;
  if (!Array.isArray(ipam.ipRanges)) {
    s.at('ipRanges').problem(`${shown(ipam.ipRanges)} is not a list`, 'write "ipRanges": [{"range": "10.1.1.0/24"}, {"range": "fd00::/64"}]');
    return;
  }
  ipam.ipRanges.forEach((r, i) => {
    const at = s.at('ipRanges').at(i);
    if (!isObject(r)) at.problem(`${shown(r)} is not an object`, 'write each entry as {"range": "10.1.1.0/24"}, optionally with range_start, range_end and exclude');
    else if (r.range === undefined || r.range === '') at.at('range').problem('is missing', 'give the range as a CIDR, e.g. "10.1.1.0/24"');
    else checkWhereaboutsRange(r, at);
  });
}

function checkWhereaboutsRange(r: Record<string, unknown>, s: Scope): void {
  const raw = r.range;
  let cidr: ReturnType<typeof parseCidr> | undefined;
  let first: string | undefined;
  if (raw !== undefined && raw !== '') {
    const [start, rest] = typeof raw === 'string' && raw.includes('-') ? raw.split(/-(.*)/s) : [undefined, raw];
    if (typeof rest !== 'string' || cidrFamily(rest) === 0) {
      s.at('range').problem(`${shown(raw)} is not a CIDR`, 'write it as "10.1.1.0/24", or "10.1.1.10-10.1.1.20/24" for a part of the subnet');
    } else {
      cidr = parseCidr(rest);
      if (start !== undefined) {
        if (ipFamily(start) === 0) s.at('range').problem(`${shown(start)} is not an IP address`, 'write the first address before the "-", e.g. "10.1.1.10-10.1.1.20/24"');
        else if (!cidrContains(cidr, start)) s.at('range').problem(`the first address ${start} is not in ${rest}`, `choose a first address inside ${rest}`);
        else first = start;
      }
    }
  }
  const bounds: Record<string, string | undefined> = { range_start: first, range_end: undefined };
  for (const key of ['range_start', 'range_end'] as const) {
    const v = r[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string' || ipFamily(v) === 0) {
      s.at(key).problem(`${shown(v)} is not an IP address`, `write ${key} as an address, e.g. "10.1.1.10"`);
    } else if (cidr && !cidrContains(cidr, v)) {
      s.at(key).problem(`${v} is not in the range ${cidr.ip}/${cidr.prefix}`, `choose ${key} inside the range`);
    } else {
      bounds[key] = v;
    }
  }
  if (bounds.range_start && bounds.range_end && Buffer.compare(ipToBytes(bounds.range_start), ipToBytes(bounds.range_end)) > 0) {
    s.at('range_end').problem(`${bounds.range_end} comes before range_start ${bounds.range_start}`, 'swap them: range_start is the lowest address handed out');
  }
  const exclude = r.exclude;
  if (exclude === undefined || exclude === null) return;
  if (!Array.isArray(exclude)) {
    s.at('exclude').problem(`${shown(exclude)} is not a list`, 'write "exclude": ["10.1.1.0/28", "10.1.1.254/32"]');
    return;
  }
  exclude.forEach((e, i) => {
    if (typeof e !== 'string' || cidrFamily(e) === 0) {
      s.at('exclude').at(i).problem(`${shown(e)} is not a CIDR`, 'write each excluded block as address/prefix, e.g. "10.1.1.254/32" for one address');
    }
  });
}

/** host-local's own parser, on the configuration the plugin would receive; it stops at the first problem. */
function checkHostLocal(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  const ipam = plugin.ipam as Record<string, unknown>;
  const ranges = ipam.ranges;
  if (Array.isArray(ranges) && ranges.some(isObject)) {
    s.at('ranges').problem('is a list of ranges, but host-local wants a list of range sets (one per address family)',
      `add the inner brackets: "ranges": [${JSON.stringify(ranges.filter(isObject))}]`);
    return;
  }
  try {
    loadHostLocalConfig({ ...plugin, name: network.name, cniVersion: network.cniVersion });
  } catch (e) {
    const err = e as CniError;
    const fix = HOST_LOCAL_FIXES.find(([pattern]) => pattern.test(err.message));
    s.problem(`host-local would refuse it: ${err.message}${fix && err.details ? ` (${err.details})` : ''}`,
      fix ? fix[1](err.message.match(fix[0])!) : err.details || 'correct the IPAM settings the message names');
  }
}

// host-local's messages are the reference plugin's; these turn the common ones into what to change.
const HOST_LOCAL_FIXES: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/(?:RangeStart|RangeEnd) \S+ not in network (\S+)/, (m) => `choose rangeStart and rangeEnd inside ${m[1]}, with rangeStart before rangeEnd`],
  [/mask of length (\d+) the network address is (\S+)/, (m) => `write the subnet with its network address: ${m[2]}/${m[1]}`],
  [/too small to allocate from/, () => 'use a subnet of /30 (IPv6: /126) or larger'],
  [/mixed address families/, () => 'put IPv4 and IPv6 ranges in separate range sets: "ranges": [[{IPv4 ranges}], [{IPv6 ranges}]]'],
  [/overlap/, () => 'make the ranges disjoint'],
];

function checkStatic(ipam: Record<string, unknown>, s: Scope): void {
  const addresses = ipam.addresses;
  if (addresses === undefined || addresses === null) return;
  if (!Array.isArray(addresses)) {
    s.at('addresses').problem(`${shown(addresses)} is not a list`, 'write "addresses": [{"address": "10.1.1.5/24", "gateway": "10.1.1.1"}]');
    return;
  }
  addresses.forEach((a, i) => {
    const at = s.at('addresses').at(i);
    if (!isObject(a)) {
      at.problem(`${shown(a)} is not an object`, 'write each entry as {"address": "10.1.1.5/24", "gateway": "10.1.1.1"}');
      return;
    }
    if (typeof a.address !== 'string' || cidrFamily(a.address) === 0) {
      at.at('address').problem(`${shown(a.address)} is not an address with a prefix length`, 'write it as address/prefix, e.g. "10.1.1.5/24"');
    }
    if (a.gateway !== undefined && (typeof a.gateway !== 'string' || ipFamily(a.gateway) === 0)) {
      at.at('gateway').problem(`${shown(a.gateway)} is not an IP address`, 'write the gateway as an address, e.g. "10.1.1.1"');
    }
  });
}

function checkObjectOf(plugin: Record<string, unknown>, key: string, s: Scope, valueType: 'boolean' | 'object', example: string): void {
  const v = plugin[key];
  if (v === undefined || v === null) return;
  if (!isObject(v)) {
    s.at(key).problem(`${shown(v)} is not an object`, `write "${key}" as an object, e.g. ${example}`);
    return;
  }
  if (valueType === 'boolean') {
    for (const [k, b] of Object.entries(v)) {
      if (typeof b !== 'boolean') s.at(key).at(k).problem(`${shown(b)} is not true or false`, `write ${JSON.stringify(k)}: true`);
    }
  }
}

/** One plugin: its type, capabilities, args, IPAM and the modes of the plugins known here. */
function checkPlugin(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  try {
    validatePluginType(plugin.type, 'type');
  } catch (e) {
    s.at('type').problem((e as CniError).message.replace(/^type: /, ''), (e as CniError).details || 'name the CNI plugin binary, e.g. "macvlan"');
  }
  checkObjectOf(plugin, 'capabilities', s, 'boolean', '{"ips": true, "mac": true}');
  checkObjectOf(plugin, 'args', s, 'object', '{"cni": {"key": "value"}}');
  if (isObject(plugin.args)) checkObjectOf(plugin.args, 'cni', s.at('args'), 'object', '{"key": "value"}');
  const modes = typeof plugin.type === 'string' ? MODES[plugin.type] : undefined;
  const mode = plugin.mode;
  if (modes && mode !== undefined && mode !== '' && !modes.includes(mode as string)) {
    s.at('mode').problem(`${shown(mode)} is not one of ${plugin.type as string}'s modes`, `use ${modes.map((m) => `"${m}"`).join(', ')}`);
  }
  checkIpam(plugin, s, network);
}

/** A single configuration or a conflist, checked as far as it can be without the node. */
export function checkCniConfig(raw: unknown, s: Scope, ctx: ConfigContext): void {
  if (!isObject(raw)) {
    s.problem(`${shown(raw)} is not a JSON object`, 'write one CNI configuration {"type": ...} or a conflist {"plugins": [...]}');
    return;
  }
  checkName(raw, s, ctx);
  checkVersion(raw, s);
  const network = { name: raw.name || ctx.nadName || 'network', cniVersion: raw.cniVersion };
  const hasType = raw.type !== undefined && raw.type !== '';
  if (hasType && raw.plugins !== undefined) {
    s.problem('has both "type" and "plugins"', 'keep "type" for a single plugin configuration, or "plugins" for a conflist, not both');
    return;
  }
  if (raw.plugins !== undefined) {
    const plugins = raw.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) {
      s.at('plugins').problem(`${shown(plugins)} is not a non-empty list`, 'list the plugins of the chain, e.g. [{"type": "macvlan", ...}, {"type": "tuning"}]');
      return;
    }
    plugins.forEach((p, i) => {
      if (isObject(p)) checkPlugin(p, s.at('plugins').at(i), network);
      else s.at('plugins').at(i).problem(`${shown(p)} is not an object`, 'write each plugin as an object with a "type"');
    });
    return;
  }
  if (!hasType) {
    s.problem('has neither "type" nor "plugins"', 'add "type": the plugin to run (e.g. "macvlan"), or "plugins": [...] for a conflist');
    return;
  }
  checkPlugin(raw, s, network);
}
