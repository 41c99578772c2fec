import { ConfigReader, goField, Problems } from '../cni/config-reader';
import { CURRENT_VERSION } from '../cni/version';
import { checkNetworkConfig } from '../delegation/network-config';
import { checkNetworkFile } from '../delegation/network-files';
import { cidrContains, cidrFamily, ipFamily, ipToBytes, parseCidr } from '../cni/ip';
import { checkHostLocal as checkHostLocalConf } from '../plugins/host-local/config';
import { isObject, Scope, shown } from './findings';
import { checkIpvlanConf } from '../plugins/ipvlan/config';
import { NETCONF } from '../plugins/link/config';
import { checkMacvlanConf } from '../plugins/macvlan/config';

/*
 * One CNI network configuration (a NAD's spec.config, a multus delegate, a plain configuration or conflist): the
 * runtime's own checker (delegation/network-config.ts) says what multus refuses; what follows here adds what only the
 * plugin would refuse once it runs, for the plugins whose configuration is known here (macvlan and ipvlan by their
 * own checks, host-local by its own checker; static and whereabouts IPAM, which multus-ts does not ship, by the rules
 * below), and notes. Any other type is accepted as it is, since it may well be
 * installed on the nodes (sriov, ...).
 */

export interface ConfigContext {
  /** For a NetworkAttachmentDefinition: its name, which stands in for a missing network name. */
  nadName?: string;
  /** The file it was read from, when libcni would read it by its extension (.conf, .conflist, .json). */
  file?: string;
}

// The built-in plugins' own checks of their configuration (the runtime's, collecting), by type.
const PLUGIN_CHECKS: Record<string, (r: ConfigReader) => unknown> = { macvlan: checkMacvlanConf, ipvlan: checkIpvlanConf };

/** What the IPAM plugin would refuse; the runtime's checker has already looked at "ipam" and its "type". */
function checkIpam(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  const ipam = goField(plugin, 'ipam');
  const at = s.at('ipam');
  if (!isObject(ipam) || Object.keys(ipam).length === 0) return;
  const type = goField(ipam, 'type');
  if (type === undefined || type === null || type === '') {
    at.at('type').problem('is missing although "ipam" has settings', 'add "type": the IPAM plugin, e.g. "host-local", "static", "dhcp" or "whereabouts"');
    return;
  }
  if (type === 'host-local') checkHostLocal(plugin, s, network);
  if (type === 'static') checkStatic(ipam, at);
  if (type === 'whereabouts') checkWhereabouts(ipam, at);
}

/**
 * Whereabouts' range keys as its configuration loader reads them: `range` is a CIDR or `<first IP>-<last IP>/<prefix>`,
 * `range_start`/`range_end` addresses inside it, `exclude` CIDRs, `ipRanges` a list of such ranges. Without `range`
 * and `ipRanges` whereabouts takes them from its flat file on the node, which is only noted.
 */
function checkWhereabouts(ipam: Record<string, unknown>, s: Scope): void {
  // Whereabouts decodes with Go's encoding/json too: keys in any case.
  const ipRanges = goField(ipam, 'ipRanges');
  const range = goField(ipam, 'range');
  const hasRanges = ipRanges !== undefined && ipRanges !== null;
  if ((range === undefined || range === '') && !hasRanges) {
    s.note('has neither "range" nor "ipRanges": whereabouts then needs them in its flat file on every node (/etc/cni/net.d/whereabouts.d/whereabouts.conf)');
  }
  checkWhereaboutsRange(ipam, s);
  if (!hasRanges) return;
  if (!Array.isArray(ipRanges)) {
    s.at('ipRanges').problem(`${shown(ipRanges)} is not a list`, 'write "ipRanges": [{"range": "10.1.1.0/24"}, {"range": "fd00::/64"}]');
    return;
  }
  ipRanges.forEach((r, i) => {
    const at = s.at('ipRanges').at(i);
    if (!isObject(r)) at.problem(`${shown(r)} is not an object`, 'write each entry as {"range": "10.1.1.0/24"}, optionally with range_start, range_end and exclude');
    else if (goField(r, 'range') === undefined || goField(r, 'range') === '') at.at('range').problem('is missing', 'give the range as a CIDR, e.g. "10.1.1.0/24"');
    else checkWhereaboutsRange(r, at);
  });
}

function checkWhereaboutsRange(r: Record<string, unknown>, s: Scope): void {
  const raw = goField(r, 'range');
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
    const v = goField(r, key);
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
  const exclude = goField(r, 'exclude');
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

/**
 * host-local's own checker, on the configuration the plugin would receive: every problem it would refuse, each at its
 * field. "args" and "args.cni" being objects is the plugin's own part too, but said already (checkObjectOf).
 */
function checkHostLocal(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  const problems = new Problems();
  checkHostLocalConf({ ...plugin, name: network.name, cniVersion: network.cniVersion }, problems);
  for (const p of problems.list) if (p.where !== 'args' && p.where !== 'args.cni') s.under(p.where).problem(p.problem, p.fix, p.error);
}

function checkStatic(ipam: Record<string, unknown>, s: Scope): void {
  const addresses = goField(ipam, 'addresses');
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
    const address = goField(a, 'address');
    const gateway = goField(a, 'gateway');
    if (typeof address !== 'string' || cidrFamily(address) === 0) {
      at.at('address').problem(`${shown(address)} is not an address with a prefix length`, 'write it as address/prefix, e.g. "10.1.1.5/24"');
    }
    if (gateway !== undefined && (typeof gateway !== 'string' || ipFamily(gateway) === 0)) {
      at.at('gateway').problem(`${shown(gateway)} is not an IP address`, 'write the gateway as an address, e.g. "10.1.1.1"');
    }
  });
}

function checkObjectOf(plugin: Record<string, unknown>, key: string, s: Scope, example: string): void {
  const v = goField(plugin, key);
  if (v !== undefined && v !== null && !isObject(v)) s.at(key).problem(`${shown(v)} is not an object`, `write "${key}" as an object, e.g. ${example}`);
}

/** One plugin: its args, IPAM, and the built-in plugins' own checks. */
function lintPlugin(plugin: Record<string, unknown>, s: Scope, network: { name: unknown; cniVersion: unknown }): void {
  const args = goField(plugin, 'args');
  checkObjectOf(plugin, 'args', s, '{"cni": {"key": "value"}}');
  if (isObject(args)) checkObjectOf(args, 'cni', s.at('args'), '{"key": "value"}');
  const type = goField(plugin, 'type');
  const check = typeof type === 'string' ? PLUGIN_CHECKS[type] : undefined;
  if (check) {
    const problems = new Problems();
    check(new ConfigReader(plugin, NETCONF, '', problems));
    // "ipam" and "dns" are libcni's NetConf, which multus's own checker (above) reads; the rest is the plugin's.
    for (const p of problems.list) if (!/^(ipam|dns)\b/.test(p.where)) s.under(p.where).problem(p.problem, p.fix, p.error);
  }
  checkIpam(plugin, s, network);
}

/**
 * What the runtime's checker does not see in a configuration: what its plugins would refuse, and notes (a missing
 * name or cniVersion that multus fills in). Runs on anything; only objects have something to say.
 */
export function lintCniConfig(raw: unknown, s: Scope, ctx: ConfigContext): void {
  if (!isObject(raw)) return;
  const name = goField(raw, 'name');
  if ((name === undefined || name === null || name === '') && ctx.nadName !== undefined) {
    s.at('name').note(`missing: multus names the network after the NetworkAttachmentDefinition, "${ctx.nadName}"`);
  }
  const version = goField(raw, 'cniVersion');
  if (version === undefined || version === null || version === '') {
    s.at('cniVersion').note('missing: Go Multus then runs the plugin as CNI 0.1.0 (the oldest result format) while multus-ts uses the multus '
      + 'configuration\'s cniVersion; set it, e.g. "1.0.0", to get the same behaviour everywhere');
  }
  const network = { name: name || ctx.nadName || 'network', cniVersion: version };
  const plugins = goField(raw, 'plugins');
  if (plugins === undefined) lintPlugin(raw, s, network);
  else if (Array.isArray(plugins)) plugins.forEach((p, i) => isObject(p) && lintPlugin(p, s.at('plugins').at(i), network));
}

/** A plain configuration or conflist on its own: what multus refuses (its own checker), then what the plugins would. */
export function checkCniConfig(raw: unknown, s: Scope, ctx: ConfigContext): void {
  const problems = new Problems();
  // A missing name is the NAD's, a missing cniVersion multus's own: both only noted.
  const named = isObject(raw) && ctx.nadName !== undefined && !goField(raw, 'name') ? { ...raw, name: ctx.nadName } : raw;
  if (ctx.file !== undefined) checkNetworkFile(named, ctx.file, CURRENT_VERSION, problems);
  else checkNetworkConfig(named, 'configuration', CURRENT_VERSION, problems);
  s.addAll(problems);
  lintCniConfig(raw, s, ctx);
}
