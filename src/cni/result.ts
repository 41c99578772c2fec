import { ConfigReader, goField, isJsonObject, Problems, type ReaderVoice, shown } from './config-reader';
import { CniError, ErrorCode } from './errors';
import { cidrFamily, familyOf, ipFamily } from './ip';
import { type CniVersion, isSupportedVersion, SUPPORTED_VERSIONS, versionAtLeast } from './version';

/*
 * Results are held in the 1.x shape whatever version they arrived in, because 1.x is a superset of
 * every older shape; the per-version JSON only exists at the edges (parseResult, convertResult).
 * As in Go's `omitempty`, an empty string or a zero mtu/advmss/priority means "absent".
 */

export interface Interface {
  name: string;
  /** '' for a device without a MAC address. */
  mac: string;
  /** '' for an interface in the host namespace. */
  sandbox: string;
  mtu?: number;
  socketPath?: string;
  pciID?: string;
}

export interface IPConfig {
  /** The host address with its subnet's prefix length, e.g. 10.1.2.3/24. */
  address: string;
  gateway?: string;
  /** Index into Result.interfaces; IPAM results leave it out. */
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  /** table and scope are kept even when 0, which is a meaningful value for both. */
  table?: number;
  scope?: number;
}

export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  /** The version the result was written in; the printed version is chosen by convertResult. */
  cniVersion: CniVersion;
  interfaces: Interface[];
  ips: IPConfig[];
  routes: Route[];
  dns: DNS;
}

type Json = Record<string, unknown>;

/**
 * Checks a plugin's result in any supported version, collecting every problem; the result when there is none. It is
 * read as Go's decoder reads it (keys in any case, the last spelling winning, null for absent). A missing cniVersion
 * takes `fallbackVersion` (the configuration's), as libcni's fixupResultVersion does.
 */
export function checkResult(raw: unknown, fallbackVersion: string, problems: Problems): Result | undefined {
  const before = problems.count;
  const top = new ConfigReader({ result: raw }, '', '', problems, RESULT_VOICE);
  if (!isJsonObject(raw)) return void top.fail('result', 'an object', raw);
  const r = top.nested(raw, '');
  const version = resultVersion(r, fallbackVersion, problems);
  if (version === undefined) return undefined;
  const body = versionAtLeast(version, '0.3.0') ? parseIpsShape(r, version) : parseIp4Ip6Shape(r);
  const dns = parseDns(r);
  return problems.count > before ? undefined : { cniVersion: version, ...body, dns };
}

/** The runtime's: the result, or a CniError (code 6, or 1 for its version) for its first problem. */
export function parseResult(raw: unknown, fallbackVersion: string): Result {
  const problems = new Problems();
  const result = checkResult(raw, fallbackVersion, problems);
  problems.throwFirst();
  return result!;
}

/** The result as the plain JSON object of `toVersion`, following the Go library's converters. */
export function convertResult(result: Result, toVersion: string): Json {
  if (!isSupportedVersion(toVersion)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `no converter for CNI result version ${result.cniVersion} to ${toVersion}`,
    );
  }
  return versionAtLeast(toVersion, '0.3.0') ? toIpsShape(result, toVersion) : toIp4Ip6Shape(result, toVersion);
}

/** Go's Result.Print: json.MarshalIndent with 4 spaces, no trailing newline, HTML characters escaped. */
export function formatResult(obj: Json): string {
  // These characters can only occur inside JSON strings, so escaping them in the text is safe.
  return JSON.stringify(obj, null, 4).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// A result's problems are decoding failures (code 6), named by their path in the result.
const RESULT_VOICE: ReaderVoice = (field, got, what, fix, expected) => ({
  where: field, problem: `${shown(got)} ${what}`, fix,
  error: new CniError(ErrorCode.DecodingFailure,
    `invalid CNI result: "${field}" must be ${expected ?? what}, got ${got === undefined ? 'nothing' : (JSON.stringify(got) ?? String(got))}`),
});

function resultVersion(r: Reader, fallbackVersion: string, problems: Problems): CniVersion | undefined {
  const raw = r.raw('cniVersion');
  const version = raw === undefined || raw === '' ? fallbackVersion : raw;
  if (typeof version !== 'string') return void r.fail('cniVersion', 'a string', raw, 'write "cniVersion" as a JSON string');
  if (!isSupportedVersion(version)) {
    problems.add({
      where: 'cniVersion', problem: `${shown(version)} is not a CNI version multus supports`, fix: `use one of ${SUPPORTED_VERSIONS.join(', ')}`,
      error: new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI result version "${version}"`),
    });
    return undefined;
  }
  return version;
}

function parseIpsShape(r: Reader, version: CniVersion): Omit<Result, 'cniVersion' | 'dns'> {
  // Interface mtu/socketPath/pciID only exist in the 1.x type; Go ignores them in older results.
  const v1 = versionAtLeast(version, '1.0.0');
  const interfaces = objects(r, 'interfaces', (o) => {
    const iface: Interface = {
      name: requiredString(o, 'name') ?? '',
      mac: optionalString(o, 'mac') ?? '',
      sandbox: optionalString(o, 'sandbox') ?? '',
    };
    if (v1) {
      assignDefined(iface, 'mtu', optionalInt(o, 'mtu'));
      assignDefined(iface, 'socketPath', optionalString(o, 'socketPath'));
      assignDefined(iface, 'pciID', optionalString(o, 'pciID'));
    }
    return iface;
  });

  const ips = objects(r, 'ips', (o) => {
    const address = cidr(o, 'address');
    // The family is derived from the address; a 0.x "version" contradicting it means a broken plugin.
    const family = o.raw('version');
    if (!v1 && family !== undefined && address !== undefined) {
      const expected = String(familyOf(address));
      if (family !== expected) o.fail('version', `"${expected}" for address ${address}`, family);
    }
    const ip: IPConfig = { address: address ?? '' };
    assignDefined(ip, 'gateway', optionalIp(o, 'gateway'));
    const index = optionalInt(o, 'interface');
    if (index !== undefined && index < 0) o.fail('interface', 'a non-negative interface index', index);
    else assignDefined(ip, 'interface', index);
    return ip;
  });

  const routes = objects(r, 'routes', (o) => parseRoute(o, true));
  return { interfaces, ips, routes };
}

function parseIp4Ip6Shape(r: Reader): Omit<Result, 'cniVersion' | 'dns'> {
  const ips: IPConfig[] = [];
  const routes: Route[] = [];
  // ip4 before ip6, each followed by its routes: the order Go's up-converter produces.
  for (const [key, fam] of [['ip4', 4], ['ip6', 6]] as const) {
    if (r.raw(key) === undefined) continue;
    const o = object(r, key);
    if (!o) continue;
    const address = cidr(o, 'ip');
    if (address !== undefined && familyOf(address) !== fam) o.fail('ip', `an IPv${fam} address`, address);
    const ip: IPConfig = { address: address ?? '' };
    assignDefined(ip, 'gateway', optionalIp(o, 'gateway'));
    ips.push(ip);
    routes.push(...objects(o, 'routes', (route) => parseRoute(route, false)));
  }
  return { interfaces: [], ips, routes };
}

function parseRoute(o: Reader, extended: boolean): Route {
  const route: Route = { dst: cidr(o, 'dst') ?? '' };
  assignDefined(route, 'gw', optionalIp(o, 'gw'));
  // The 0.1.0/0.2.0 route type only has dst and gw; anything else is not part of that result.
  if (extended) {
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      assignDefined(route, key, optionalInt(o, key));
    }
  }
  return route;
}

function parseDns(r: Reader): DNS {
  if (r.raw('dns') === undefined) return {};
  const o = object(r, 'dns');
  if (!o) return {};
  const dns: DNS = {};
  assignDefined(dns, 'nameservers', optionalStringList(o, 'nameservers'));
  assignDefined(dns, 'domain', optionalString(o, 'domain'));
  assignDefined(dns, 'search', optionalStringList(o, 'search'));
  assignDefined(dns, 'options', optionalStringList(o, 'options'));
  return dns;
}

function toIpsShape(r: Result, version: CniVersion): Json {
  const v1 = versionAtLeast(version, '1.0.0');
  const out: Json = { cniVersion: version };
  if (r.interfaces.length > 0) out.interfaces = r.interfaces.map((iface) => interfaceJson(iface, v1));
  if (r.ips.length > 0) out.ips = r.ips.map((ip) => ipJson(ip, v1));
  if (r.routes.length > 0) out.routes = r.routes.map(routeJson);
  const dns = dnsJson(r.dns);
  // Go's 0.x printers always emit dns; its 1.x printer drops an empty one.
  if (!v1 || Object.keys(dns).length > 0) out.dns = dns;
  return out;
}

function toIp4Ip6Shape(r: Result, version: CniVersion): Json {
  const out: Json = { cniVersion: version };
  for (const [key, fam] of [['ip4', 4], ['ip6', 6]] as const) {
    // These versions hold one address per family: the first one wins, the rest are lost.
    const ip = r.ips.find((c) => familyOf(c.address) === fam);
    if (!ip) continue;
    const cfg: Json = { ip: ip.address };
    if (ip.gateway) cfg.gateway = ip.gateway;
    // A route can only live under the ipN of its family, so without that address it is dropped.
    const routes = r.routes
      .filter((route) => familyOf(route.dst) === fam)
      .map((route) => (route.gw ? { dst: route.dst, gw: route.gw } : { dst: route.dst }));
    if (routes.length > 0) cfg.routes = routes;
    out[key] = cfg;
  }
  if (!out.ip4 && !out.ip6) throw new CniError(ErrorCode.Internal, 'cannot convert: no valid IP addresses');
  out.dns = dnsJson(r.dns);
  return out;
}

function interfaceJson(iface: Interface, v1: boolean): Json {
  const out: Json = { name: iface.name };
  if (iface.mac) out.mac = iface.mac;
  if (v1 && iface.mtu) out.mtu = iface.mtu;
  if (iface.sandbox) out.sandbox = iface.sandbox;
  if (v1 && iface.socketPath) out.socketPath = iface.socketPath;
  if (v1 && iface.pciID) out.pciID = iface.pciID;
  return out;
}

function ipJson(ip: IPConfig, v1: boolean): Json {
  const out: Json = {};
  if (!v1) out.version = String(familyOf(ip.address));
  if (ip.interface !== undefined) out.interface = ip.interface;
  out.address = ip.address;
  if (ip.gateway) out.gateway = ip.gateway;
  return out;
}

function routeJson(route: Route): Json {
  const out: Json = { dst: route.dst };
  if (route.gw) out.gw = route.gw;
  if (route.mtu) out.mtu = route.mtu;
  if (route.advmss) out.advmss = route.advmss;
  if (route.priority) out.priority = route.priority;
  if (route.table !== undefined) out.table = route.table;
  if (route.scope !== undefined) out.scope = route.scope;
  return out;
}

function dnsJson(dns: DNS): Json {
  const out: Json = {};
  if (dns.nameservers?.length) out.nameservers = [...dns.nameservers];
  if (dns.domain) out.domain = dns.domain;
  if (dns.search?.length) out.search = [...dns.search];
  if (dns.options?.length) out.options = [...dns.options];
  return out;
}

type Reader = ConfigReader;

// Sets a key only when it has a value, so absent fields stay absent rather than `undefined`.
function assignDefined<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** A nested object, read with the same reader rules; undefined when refused. */
function object(r: Reader, key: string): Reader | undefined {
  const v = goField(r.value, key);
  return isJsonObject(v) ? r.nested(v, `${key}.`) : void r.fail(key, 'an object', v);
}

// Like Go's decoder, null stands for an absent list.
function list(r: Reader, key: string): unknown[] {
  const v = r.raw(key);
  if (v === undefined) return [];
  return r.checked<unknown[]>(key, v, Array.isArray, 'an array') ?? [];
}

/** `read` of each object of a list, with a reader at `key[i].`, in order; the other elements are problems. */
function objects<T>(r: Reader, key: string, read: (o: Reader) => T): T[] {
  const out: T[] = [];
  const items = list(r, key);
  for (let i = 0; i < items.length; i++) {
    const v = items[i];
    if (isJsonObject(v)) out.push(read(r.nested(v, `${key}[${i}].`)));
    else r.fail(`${key}[${i}]`, 'an object', v);
  }
  return out;
}

// Module-level predicates: a closure per field read is garbage made in every call (results are read twice per
// attachment: the IPAM plugin's by its caller, the delegate's by multus).
const isString = (v: unknown): boolean => typeof v === 'string';
const isIpText = (v: unknown): boolean => ipFamily(v as string) !== 0;
const isCidrText = (v: unknown): boolean => cidrFamily(v as string) !== 0;

function requiredString(r: Reader, key: string): string | undefined {
  return r.checked<string>(key, goField(r.value, key), isString, 'a string');
}

function optionalString(r: Reader, key: string): string | undefined {
  return r.raw(key) === undefined ? undefined : requiredString(r, key);
}

function optionalStringList(r: Reader, key: string): string[] | undefined {
  if (r.raw(key) === undefined) return undefined;
  const items = list(r, key);
  const ok = items.every((s, i) => r.checked<string>(`${key}[${i}]`, s, isString, 'a string') !== undefined);
  return ok ? (items as string[]) : undefined;
}

function optionalInt(r: Reader, key: string): number | undefined {
  const v = r.raw(key);
  return v === undefined ? undefined : r.checked<number>(key, v, Number.isSafeInteger, 'an integer');
}

// Go decodes "" into a nil IP, i.e. no address.
function optionalIp(r: Reader, key: string): string | undefined {
  const s = optionalString(r, key);
  if (!s) return undefined;
  return r.checked<string>(key, s, isIpText, 'an IP address');
}

function cidr(r: Reader, key: string): string | undefined {
  const s = requiredString(r, key);
  if (s === undefined) return undefined;
  return r.checked<string>(key, s, isCidrText, 'an address with a prefix length (CIDR)');
}
