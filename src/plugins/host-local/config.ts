import { CniError, ErrorCode } from '../../cni/errors';
import { parseCniArgs } from '../../cni/cni-args';
import { parseResult, type Route } from '../../cni/result';
import { versionAtLeast } from '../../cni/version';
import { goField } from '../../cni/config-reader';
import { formatIp, parseCidr, parseIp, type IP } from './address';
import type { RangeSpec } from './range';
import { canonicaliseRangeSet, rangeSetsOverlap, type RangeSet } from './range-set';

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
 * Every failure is code 999 with the reference's message, because runtimes and people match on those texts; the
 * details say which key to change.
 */
function configError(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.Internal, msg, details);
}

function typeError(path: string, expected: string, got: unknown): CniError {
  return configError(`host-local configuration: "${path}" must be ${expected}, got ${JSON.stringify(got)}`);
}

function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

function optObject(v: unknown, path: string): Json | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw typeError(path, 'an object', v);
  return v as Json;
}

function optList(v: unknown, path: string): unknown[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) throw typeError(path, 'a list', v);
  return v;
}

function optString(v: unknown, path: string): string {
  if (absent(v)) return '';
  if (typeof v !== 'string') throw typeError(path, 'a string', v);
  return v;
}

/** A net.IP field: empty means unset. */
function optIp(v: unknown, path: string): IP | undefined {
  const s = optString(v, path);
  if (s === '') return undefined;
  const ip = parseIp(s);
  if (!ip) throw configError(`invalid IP address: ${s}`, `"${path}" must be an IPv4 or IPv6 address`);
  return ip;
}

function decodeRange(obj: Json, path: string): RangeSpec {
  const spec: RangeSpec = {
    rangeStart: optIp(goField(obj, 'rangeStart'), `${path}.rangeStart`),
    rangeEnd: optIp(goField(obj, 'rangeEnd'), `${path}.rangeEnd`),
    gateway: optIp(goField(obj, 'gateway'), `${path}.gateway`),
  };
  const subnet = goField(obj, 'subnet');
  if (!absent(subnet)) {
    const text = optString(subnet, `${path}.subnet`);
    const cidr = parseCidr(text);
    if (!cidr) throw configError(`invalid CIDR address: ${text}`, `"${path}.subnet" must be a network such as 10.1.0.0/24`);
    spec.subnet = cidr;
  }
  return spec;
}

interface SourcedSpecs {
  specs: RangeSpec[];
  source: string;
}

function decodeRangeSets(v: unknown, path: string): SourcedSpecs[] {
  return optList(v, path).map((set, i) => ({
    source: `${path}[${i}]`,
    specs: optList(set, `${path}[${i}]`).map((r, j) => decodeRange(optObject(r, `${path}[${i}][${j}]`) ?? {}, `${path}[${i}][${j}]`)),
  }));
}

function decodeRoutes(v: unknown): Route[] {
  let routes: Route[];
  try {
    routes = parseResult({ routes: v }, '1.1.0').routes;
  } catch (e) {
    throw configError(`host-local configuration: invalid "ipam.routes": ${(e as Error).message}`);
  }
  // The reference prints what it parsed, so its result carries canonical address text.
  return routes.map((r) => {
    const dst = parseCidr(r.dst)!;
    const out: Route = { ...r, dst: `${formatIp(dst.ip)}/${dst.prefix}` };
    if (r.gw) out.gw = formatIp(parseIp(r.gw)!);
    return out;
  });
}

/** Reads the host-local keys of the whole network configuration the plugin was given. */
export function loadConfig(config: Json): HostLocalConfig {
  const ipam = optObject(goField(config, 'ipam'), 'ipam');
  if (!ipam) throw configError("IPAM config missing 'ipam' key", 'add an "ipam" object with "type": "host-local" and a "subnet" or "ranges"');
  const runtimeConfig = optObject(goField(config, 'runtimeConfig'), 'runtimeConfig') ?? {};

  const single = decodeRange(ipam, 'ipam');
  const sets: SourcedSpecs[] = [
    ...decodeRangeSets(goField(runtimeConfig, 'ipRanges'), 'runtimeConfig.ipRanges'),
    ...(single.subnet ? [{ specs: [single], source: 'ipam (subnet, rangeStart, rangeEnd, gateway)' }] : []),
    ...decodeRangeSets(goField(ipam, 'ranges'), 'ipam.ranges'),
  ];
  if (sets.length === 0) throw configError('no IP ranges specified', 'set "ipam.subnet" or "ipam.ranges"');

  const rangeSets = sets.map(({ specs, source }, i) => {
    try {
      return canonicaliseRangeSet(specs);
    } catch (e) {
      throw configError(`invalid range set ${i}: ${(e as Error).message}`, `range set ${i} is ${source}`);
    }
  });

  const cniVersion = optString(goField(config, 'cniVersion'), 'cniVersion');
  const count = (family: 4 | 6) => rangeSets.filter((s) => s[0]!.network.family === family).length;
  if ((count(4) > 1 || count(6) > 1) && !versionAtLeast(cniVersion, '0.3.0')) {
    throw configError(`CNI version ${cniVersion} does not support more than 1 address per family`,
      'use "cniVersion" 0.3.0 or later, or one range set per address family');
  }
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSetsOverlap(rangeSets[i]!, rangeSets[j]!)) {
        throw configError(`range set ${i} overlaps with ${j}`, `range set ${i} is ${sets[i]!.source}, range set ${j} is ${sets[j]!.source}`);
      }
    }
  }

  return {
    name: optString(goField(config, 'name'), 'name'),
    dataDir: optString(goField(ipam, 'dataDir'), 'ipam.dataDir') || DEFAULT_DATA_DIR,
    rangeSets,
    routes: decodeRoutes(goField(ipam, 'routes')),
    resolvConf: optString(goField(ipam, 'resolvConf'), 'ipam.resolvConf'),
  };
}

/** The reference's pkg/ip parser: an address, or an address with a prefix that is checked and then ignored. */
function parseRequestedIp(text: string): IP | undefined {
  return text.includes('/') ? parseCidr(text)?.ip : parseIp(text);
}

function requestedList(v: unknown, path: string): IP[] {
  return optList(v, path).map((raw, i) => {
    const text = optString(raw, `${path}[${i}]`);
    const ip = parseRequestedIp(text);
    if (!ip) throw configError(`invalid IP address ${text}`, `"${path}[${i}]" must be an IP address, optionally with a prefix length`);
    return ip;
  });
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
  const args = optObject(goField(config, 'args'), 'args');
  const cni = args && optObject(goField(args, 'cni'), 'args.cni');
  const runtimeConfig = optObject(goField(config, 'runtimeConfig'), 'runtimeConfig');
  const all = [
    ...fromEnv,
    ...requestedList(cni && goField(cni, 'ips'), 'args.cni.ips'),
    ...requestedList(runtimeConfig && goField(runtimeConfig, 'ips'), 'runtimeConfig.ips'),
  ];
  const seen = new Set<string>();
  return all.filter((ip) => {
    const key = formatIp(ip);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
