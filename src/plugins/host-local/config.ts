import { CniError, ErrorCode } from '../../cni/errors';
import { parseCniArgs } from '../../cni/cni-args';
import { checkResult, type Route } from '../../cni/result';
import { versionAtLeast } from '../../cni/version';
import { ConfigReader, configVoice, isJsonObject, Problems, shown } from '../../cni/config-reader';
import { formatIp, parseCidr, parseIp, type IP } from './address';
import type { RangeSpec } from './range';
import { canonicaliseRangeSet, type RangeSetError, rangeSetsOverlap, type RangeSet } from './range-set';

/** The host-local configuration, checked and with the reference's defaults applied. */
export interface HostLocalConfig {
  /** The network name: the store's directory under dataDir. */
  name: string;
  dataDir: string;
  /** In `last_reserved_ip.<index>` order: runtimeConfig.ipRanges, then the single ipam range, then ipam.ranges. */
  rangeSets: RangeSet[];
  /** Copied into the result as given (canonical address text, as the reference prints it). */
  routes: Route[];
  /** '' when the result carries no DNS. */
  resolvConf: string;
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';

type Json = Record<string, unknown>;

/*
 * One checker for host-local's configuration, through the shared reader: the plugin's reader throws the first problem
 * (loadConfig, requestedIps), `multus validate`'s collects them all (checkHostLocal), each at its field. Every error
 * is code 999 with the reference's message, because runtimes and people match on those texts; the details say which
 * key to change. Checks that need what an earlier problem spoilt (a range set with a bad range, the sets' overlaps
 * when one is bad) are skipped rather than reported as more problems.
 */

function configError(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.Internal, msg, details);
}

const VOICE = configVoice('host-local configuration', ErrorCode.Internal);

// Module-level predicates: the reader's own typed getters would make a closure per field read.
const isString = (v: unknown): boolean => typeof v === 'string';

/** An object field as a reader of its own; none when absent, null or refused (nothing in it can then be wrong). */
function obj(r: ConfigReader | undefined, key: string): ConfigReader | undefined {
  const value = r?.record(key, undefined, 'an object');
  return value && r!.nested(value, `${key}.`);
}

/** A string field; '' when absent, null or refused. */
function str(r: ConfigReader, key: string): string {
  const v = r.raw(key);
  return v === undefined ? '' : (r.checked<string>(key, v, isString, 'a string') ?? '');
}

/** A net.IP field: empty means unset. */
function ipField(r: ConfigReader, key: string): IP | undefined {
  const s = str(r, key);
  if (s === '') return undefined;
  const ip = parseIp(s);
  if (!ip) {
    r.report({
      where: `${r.path}${key}`, problem: `${shown(s)} is not an IP address`, fix: 'write a single IPv4 or IPv6 address, without a prefix length',
      error: configError(`invalid IP address: ${s}`, `"${r.path}${key}" must be an IPv4 or IPv6 address`),
    });
  }
  return ip;
}

function decodeRange(r: ConfigReader): RangeSpec {
  const spec: RangeSpec = { rangeStart: ipField(r, 'rangeStart'), rangeEnd: ipField(r, 'rangeEnd'), gateway: ipField(r, 'gateway') };
  const subnet = r.raw('subnet');
  if (subnet !== undefined) {
    const text = r.checked<string>('subnet', subnet, isString, 'a string');
    if (text === undefined) return spec;
    const cidr = parseCidr(text);
    if (cidr) spec.subnet = cidr;
    else {
      r.report({
        where: `${r.path}subnet`, problem: `${shown(text)} is not a network`, fix: 'write the network with its prefix length, e.g. 10.1.0.0/24',
        error: configError(`invalid CIDR address: ${text}`, `"${r.path}subnet" must be a network such as 10.1.0.0/24`),
      });
    }
  }
  return spec;
}

interface SourcedSpecs {
  specs: RangeSpec[];
  /** How the details name the set. */
  source: string;
  /** The field of the set, and of its ranges (`<rangeAt>[j]`, or the set's own field for the single ipam range). */
  where: string;
  single?: boolean;
  /** A range of it had a problem already: not checked further. */
  bad?: boolean;
}

/** A list of range sets (`ranges`, `ipRanges`); sets with a problem are left out. */
function decodeRangeSets(r: ConfigReader, key: string): SourcedSpecs[] {
  const sets = r.list(key);
  if (!sets) return [];
  const where = `${r.path}${key}`;
  if (sets.length > 0 && sets.every(isJsonObject)) {
    // The most common mistake, worth its own fix; the runtime's error is the one about the first set.
    r.report({
      where, problem: 'is a list of ranges, but host-local wants a list of range sets (one per address family)',
      fix: `add the inner brackets: "${key}": [${JSON.stringify(sets)}]`,
      error: configError(`host-local configuration: "${where}[0]" must be a list, got ${JSON.stringify(sets[0])}`),
    });
    return [];
  }
  const out: SourcedSpecs[] = [];
  for (let i = 0; i < sets.length; i++) {
    // null is Go's zero value: an empty set, an empty range.
    const set = sets[i] === null ? [] : r.checked<unknown[]>(`${key}[${i}]`, sets[i], Array.isArray, 'a list', 'write each range set as a list of ranges: [{"subnet": ...}]');
    if (!set) continue;
    const before = r.problems?.count ?? 0;
    const specs = set.map((range, j) => {
      const value = range === null ? {} : r.checked<Json>(`${key}[${i}][${j}]`, range, isJsonObject, 'an object', 'write each range as {"subnet": ...}');
      return decodeRange(r.nested(value ?? {}, `${key}[${i}][${j}].`));
    });
    out.push({ specs, source: `${where}[${i}]`, where: `${where}[${i}]`, bad: (r.problems?.count ?? 0) !== before });
  }
  return out;
}

function decodeRoutes(r: ConfigReader): Route[] {
  // Routes are read as a result's routes are: the same rules, and every problem at its field.
  const raw = r.raw('routes');
  // None given (the usual case): no result reader built and run for an empty list.
  if (raw === undefined) return [];
  const found = new Problems();
  const routes = checkResult({ routes: raw }, '1.1.0', found)?.routes;
  for (const p of found.list) {
    r.report({ ...p, where: `${r.path}${p.where}`, error: configError(`host-local configuration: invalid "${r.path}routes": ${p.error.message}`) });
  }
  if (!routes) return [];
  // The reference prints what it parsed, so its result carries canonical address text.
  return routes.map((route) => {
    const dst = parseCidr(route.dst)!;
    const out: Route = { ...route, dst: `${formatIp(dst.ip)}/${dst.prefix}` };
    if (route.gw) out.gw = formatIp(parseIp(route.gw)!);
    return out;
  });
}

// Which key of a range the reference's message is about, and how to mend it; without a key it is about the set.
const RANGE_FIXES: Array<[RegExp, string, (m: RegExpMatchArray) => string]> = [
  [/^RangeStart \S+ not in network (\S+)/, 'rangeStart', (m) => `choose rangeStart and rangeEnd inside ${m[1]}, with rangeStart before rangeEnd`],
  [/^RangeEnd \S+ not in network (\S+)/, 'rangeEnd', (m) => `choose rangeStart and rangeEnd inside ${m[1]}, with rangeStart before rangeEnd`],
  [/mask of length (\d+) the network address is (\S+)/, 'subnet', (m) => `write the subnet with its network address: ${m[2]}/${m[1]}`],
  [/too small to allocate from/, 'subnet', () => 'use a subnet of /30 (IPv6: /126) or larger'],
  [/^IP <nil>/, 'subnet', () => 'give every range a "subnet"'],
  [/version mismatch/, 'subnet', () => 'write an IPv4 subnet in IPv4 form, e.g. 10.0.0.0/8'],
  [/mixed address families/, '', () => 'put IPv4 and IPv6 ranges in separate range sets: "ranges": [[{IPv4 ranges}], [{IPv6 ranges}]]'],
  [/overlap/, '', () => 'make the ranges disjoint'],
  [/empty range set/, '', () => 'give the set a range, or remove it'],
];

function canonicalised(r: ConfigReader, sets: SourcedSpecs[]): Array<RangeSet | undefined> {
  return sets.map(({ specs, source, where, single, bad }, i) => {
    if (bad) return undefined;
    try {
      return canonicaliseRangeSet(specs);
    } catch (e) {
      const err = e as RangeSetError;
      const found = RANGE_FIXES.find(([pattern]) => pattern.test(err.message));
      const key = found?.[1] ?? '';
      const range = err.range === undefined || single ? where : `${where}[${err.range}]`;
      r.report({
        where: key ? `${range}.${key}` : range, problem: `invalid range set ${i}: ${err.message}`,
        fix: found ? found[2](err.message.match(found[0])!) : 'correct the range set as the message says',
        error: configError(`invalid range set ${i}: ${err.message}`, `range set ${i} is ${source}`),
      });
      return undefined;
    }
  });
}

/** What host-local requires of the network configuration it is given (the whole of it, not only "ipam"). */
export function checkHostLocalConf(r: ConfigReader): HostLocalConfig | undefined {
  const ipamValue = r.record('ipam', undefined, 'an object');
  if (!ipamValue) {
    if (r.raw('ipam') === undefined) {
      r.report({
        where: 'ipam', problem: 'is missing', fix: 'add an "ipam" object with "type": "host-local" and a "subnet" or "ranges"',
        error: configError("IPAM config missing 'ipam' key", 'add an "ipam" object with "type": "host-local" and a "subnet" or "ranges"'),
      });
    }
    return undefined;
  }
  const ipam = r.nested(ipamValue, 'ipam.');
  const runtimeConfig = obj(r, 'runtimeConfig');
  const before = r.problems?.count ?? 0;

  const single = decodeRange(ipam);
  const singleBad = (r.problems?.count ?? 0) !== before;
  const sets: SourcedSpecs[] = [
    ...(runtimeConfig ? decodeRangeSets(runtimeConfig, 'ipRanges') : []),
    ...(single.subnet ? [{ specs: [single], source: 'ipam (subnet, rangeStart, rangeEnd, gateway)', where: 'ipam', single: true, bad: singleBad }] : []),
    ...decodeRangeSets(ipam, 'ranges'),
  ];
  if (sets.length === 0 && (r.problems?.count ?? 0) === before) {
    r.report({
      where: 'ipam', problem: 'has no IP ranges', fix: 'set "ipam.subnet" or "ipam.ranges"',
      error: configError('no IP ranges specified', 'set "ipam.subnet" or "ipam.ranges"'),
    });
  }
  const checked = canonicalised(r, sets);
  const cniVersion = str(r, 'cniVersion');
  if ((r.problems?.count ?? 0) === before) {
    const rangeSets = checked as RangeSet[];
    const count = (family: 4 | 6) => rangeSets.filter((s) => s[0]!.network.family === family).length;
    if ((count(4) > 1 || count(6) > 1) && !versionAtLeast(cniVersion, '0.3.0')) {
      r.report({
        where: 'cniVersion', problem: `${shown(cniVersion)} has one address per family, and there are more range sets of one family`,
        fix: 'use "cniVersion" 0.3.0 or later, or one range set per address family',
        error: configError(`CNI version ${cniVersion} does not support more than 1 address per family`,
          'use "cniVersion" 0.3.0 or later, or one range set per address family'),
      });
    }
    overlaps(r, sets, rangeSets);
  }

  const conf: HostLocalConfig = {
    name: str(r, 'name'),
    dataDir: str(ipam, 'dataDir') || DEFAULT_DATA_DIR,
    rangeSets: checked as RangeSet[],
    routes: decodeRoutes(ipam),
    resolvConf: str(ipam, 'resolvConf'),
  };
  return (r.problems?.count ?? 0) === 0 ? conf : undefined;
}

function overlaps(r: ConfigReader, sets: SourcedSpecs[], rangeSets: RangeSet[]): void {
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSetsOverlap(rangeSets[i]!, rangeSets[j]!)) {
        r.report({
          where: sets[j]!.where, problem: `range set ${i} overlaps with ${j}`, fix: `make ${sets[i]!.where} and ${sets[j]!.where} disjoint`,
          error: configError(`range set ${i} overlaps with ${j}`, `range set ${i} is ${sets[i]!.source}, range set ${j} is ${sets[j]!.source}`),
        });
      }
    }
  }
}

/** Reads the host-local keys of the whole network configuration the plugin was given; throws the first problem. */
export function loadConfig(config: Json): HostLocalConfig {
  return checkHostLocalConf(new ConfigReader(config, '', '', undefined, VOICE))!;
}

/**
 * Every problem host-local would refuse in `config` (for `multus validate`): the configuration's, then the requested
 * addresses' of the configuration (CNI_ARGS comes from the runtime, so it is not here).
 */
export function checkHostLocal(config: Json, problems: Problems): void {
  const r = new ConfigReader(config, '', '', problems, VOICE);
  checkHostLocalConf(r);
  requestedFromConfig(r);
}

/** The reference's pkg/ip parser: an address, or an address with a prefix that is checked and then ignored. */
function parseRequestedIp(text: string): IP | undefined {
  return text.includes('/') ? parseCidr(text)?.ip : parseIp(text);
}

function requestedList(r: ConfigReader | undefined, key: string): IP[] {
  const list = r?.list(key);
  if (!r || !list) return [];
  const out: IP[] = [];
  for (let i = 0; i < list.length; i++) {
    const text = r.checked<string>(`${key}[${i}]`, list[i], isString, 'a string');
    if (text === undefined) continue;
    const ip = parseRequestedIp(text);
    if (ip) out.push(ip);
    else {
      r.report({
        where: `${r.path}${key}[${i}]`, problem: `${shown(text)} is not an IP address`, fix: 'write an IP address, optionally with a prefix length',
        error: configError(`invalid IP address ${text}`, `"${r.path}${key}[${i}]" must be an IP address, optionally with a prefix length`),
      });
    }
  }
  return out;
}

/** The addresses asked for in the configuration: `args.cni.ips`, then `runtimeConfig.ips`. */
function requestedFromConfig(r: ConfigReader): IP[] {
  const cni = obj(obj(r, 'args'), 'cni');
  const runtimeConfig = obj(r, 'runtimeConfig');
  return [...requestedList(cni, 'ips'), ...requestedList(runtimeConfig, 'ips')];
}

/**
 * The addresses asked for, from CNI_ARGS `IP` (one address or a comma-separated list), `args.cni.ips` and `runtimeConfig.ips`, all merged as the reference
 * does. Unlike the reference, which takes them in Go map order (random), they are kept in that order, without
 * duplicates, so the same request always gets the same answer.
 */
export function requestedIps(config: Json, cniArgs: string): IP[] {
  const fromEnv: IP[] = [];
  const ipArg = parseCniArgs(cniArgs, ['IP']).IP;
  // Multus passes a pod's addresses as IP=<a>,<b>; the reference reads one address and fails on a list.
  for (const text of ipArg === undefined ? [] : ipArg.split(',').map((t) => t.trim())) {
    const ip = parseRequestedIp(text);
    if (!ip) throw configError(`ARGS: error parsing value of pair ${JSON.stringify(`IP=${ipArg}`)}: invalid IP address ${text}`);
    fromEnv.push(ip);
  }
  const all = [...fromEnv, ...requestedFromConfig(new ConfigReader(config, '', '', undefined, VOICE))];
  const seen = new Set<string>();
  return all.filter((ip) => {
    const key = formatIp(ip);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
