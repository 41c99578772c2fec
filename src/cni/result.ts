import { CniError, ErrorCode } from './errors';
import { cidrFamily, familyOf, ipFamily } from './ip';
import { type CniVersion, isSupportedVersion, versionAtLeast } from './version';

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
 * Reads a plugin's result in any supported version. A missing cniVersion takes `fallbackVersion`
 * (the configuration's), as libcni's fixupResultVersion does.
 */
export function parseResult(raw: unknown, fallbackVersion: string): Result {
  const top = object(raw, 'result');
  const version = resultVersion(top.cniVersion, fallbackVersion);
  const body = versionAtLeast(version, '0.3.0') ? parseIpsShape(top, version) : parseIp4Ip6Shape(top);
  return { cniVersion: version, ...body, dns: parseDns(top.dns) };
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

function resultVersion(raw: unknown, fallbackVersion: string): CniVersion {
  const version = raw === undefined || raw === null || raw === '' ? fallbackVersion : raw;
  if (typeof version !== 'string') invalid('cniVersion', 'a string', raw);
  if (!isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `unsupported CNI result version "${version}"`);
  }
  return version;
}

function parseIpsShape(top: Json, version: CniVersion): Omit<Result, 'cniVersion' | 'dns'> {
  // Interface mtu/socketPath/pciID only exist in the 1.x type; Go ignores them in older results.
  const v1 = versionAtLeast(version, '1.0.0');
  const interfaces = list(top.interfaces, 'interfaces').map((raw, i) => {
    const path = `interfaces[${i}]`;
    const o = object(raw, path);
    const iface: Interface = {
      name: requiredString(o.name, `${path}.name`),
      mac: optionalString(o.mac, `${path}.mac`) ?? '',
      sandbox: optionalString(o.sandbox, `${path}.sandbox`) ?? '',
    };
    if (v1) {
      assignDefined(iface, 'mtu', optionalInt(o.mtu, `${path}.mtu`));
      assignDefined(iface, 'socketPath', optionalString(o.socketPath, `${path}.socketPath`));
      assignDefined(iface, 'pciID', optionalString(o.pciID, `${path}.pciID`));
    }
    return iface;
  });

  const ips = list(top.ips, 'ips').map((raw, i) => {
    const path = `ips[${i}]`;
    const o = object(raw, path);
    const address = cidr(o.address, `${path}.address`);
    // The family is derived from the address; a 0.x "version" contradicting it means a broken plugin.
    if (!v1 && !isNullish(o.version)) {
      const expected = String(familyOf(address));
      if (o.version !== expected) invalid(`${path}.version`, `"${expected}" for address ${address}`, o.version);
    }
    const ip: IPConfig = { address };
    assignDefined(ip, 'gateway', optionalIp(o.gateway, `${path}.gateway`));
    const index = optionalInt(o.interface, `${path}.interface`);
    if (index !== undefined && index < 0) invalid(`${path}.interface`, 'a non-negative interface index', index);
    assignDefined(ip, 'interface', index);
    return ip;
  });

  const routes = list(top.routes, 'routes').map((raw, i) => parseRoute(raw, `routes[${i}]`, true));
  return { interfaces, ips, routes };
}

function parseIp4Ip6Shape(top: Json): Omit<Result, 'cniVersion' | 'dns'> {
  const ips: IPConfig[] = [];
  const routes: Route[] = [];
  // ip4 before ip6, each followed by its routes: the order Go's up-converter produces.
  for (const [key, fam] of [['ip4', 4], ['ip6', 6]] as const) {
    if (isNullish(top[key])) continue;
    const o = object(top[key], key);
    const address = cidr(o.ip, `${key}.ip`);
    if (familyOf(address) !== fam) invalid(`${key}.ip`, `an IPv${fam} address`, o.ip);
    const ip: IPConfig = { address };
    assignDefined(ip, 'gateway', optionalIp(o.gateway, `${key}.gateway`));
    ips.push(ip);
    list(o.routes, `${key}.routes`).forEach((raw, i) => routes.push(parseRoute(raw, `${key}.routes[${i}]`, false)));
  }
  return { interfaces: [], ips, routes };
}

function parseRoute(raw: unknown, path: string, extended: boolean): Route {
  const o = object(raw, path);
  const route: Route = { dst: cidr(o.dst, `${path}.dst`) };
  assignDefined(route, 'gw', optionalIp(o.gw, `${path}.gw`));
  // The 0.1.0/0.2.0 route type only has dst and gw; anything else is not part of that result.
  if (extended) {
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      assignDefined(route, key, optionalInt(o[key], `${path}.${key}`));
    }
  }
  return route;
}

function parseDns(raw: unknown): DNS {
  if (isNullish(raw)) return {};
  const o = object(raw, 'dns');
  const dns: DNS = {};
  assignDefined(dns, 'nameservers', optionalStringList(o.nameservers, 'dns.nameservers'));
  assignDefined(dns, 'domain', optionalString(o.domain, 'dns.domain'));
  assignDefined(dns, 'search', optionalStringList(o.search, 'dns.search'));
  assignDefined(dns, 'options', optionalStringList(o.options, 'dns.options'));
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

function isNullish(v: unknown): v is null | undefined {
  return v === undefined || v === null;
}

// Sets a key only when it has a value, so absent fields stay absent rather than `undefined`.
function assignDefined<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function invalid(path: string, expected: string, got: unknown): never {
  const shown = got === undefined ? 'nothing' : (JSON.stringify(got) ?? String(got));
  throw new CniError(ErrorCode.DecodingFailure, `invalid CNI result: "${path}" must be ${expected}, got ${shown}`);
}

function object(v: unknown, path: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(path, 'an object', v);
  return v as Json;
}

// Like Go's decoder, null stands for an absent list.
function list(v: unknown, path: string): unknown[] {
  if (isNullish(v)) return [];
  if (!Array.isArray(v)) invalid(path, 'an array', v);
  return v;
}

function requiredString(v: unknown, path: string): string {
  if (typeof v !== 'string') invalid(path, 'a string', v);
  return v;
}

function optionalString(v: unknown, path: string): string | undefined {
  return isNullish(v) ? undefined : requiredString(v, path);
}

function optionalStringList(v: unknown, path: string): string[] | undefined {
  return isNullish(v) ? undefined : list(v, path).map((s, i) => requiredString(s, `${path}[${i}]`));
}

function optionalInt(v: unknown, path: string): number | undefined {
  if (isNullish(v)) return undefined;
  if (!Number.isSafeInteger(v)) invalid(path, 'an integer', v);
  return v as number;
}

// Go decodes "" into a nil IP, i.e. no address.
function optionalIp(v: unknown, path: string): string | undefined {
  const s = optionalString(v, path);
  if (!s) return undefined;
  if (ipFamily(s) === 0) invalid(path, 'an IP address', s);
  return s;
}

function cidr(v: unknown, path: string): string {
  const s = requiredString(v, path);
  if (cidrFamily(s) === 0) invalid(path, 'an address with a prefix length (CIDR)', s);
  return s;
}
