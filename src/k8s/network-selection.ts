import { CniError, ErrorCode } from '../cni/errors';
import { validateInterfaceName } from '../cni/environment';
import { cidrFamily, ipFamily, parseHardwareAddress } from '../cni/ip';
import {
  ConfigReader, type ConfigProblem, formatProblem, goField, isJsonObject, type Problem, Problems, type ReaderVoice, shown,
} from '../cni/config-reader';
import { isDns1123Label, isDns1123Subdomain, LABEL_RULE, SUBDOMAIN_RULE } from './names';
import { parseJson } from '../cni/json-text';

/*
 * The pod's network-selection annotations (multi-net-spec §4.1; Multus's parsePodNetworkAnnotation), parsed once
 * into typed elements. Everything Multus would only find out while attaching (a bad name, a duplicate interface,
 * an unparsable address) is refused here, before the first delegate runs, with the item quoted and the fix named.
 */

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const DEFAULT_NETWORK_ANNOTATION = 'v1.multus-cni.io/default-network';

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}

export interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One element of the annotation, validated. Absent requests are absent keys. */
export interface NetworkSelection {
  /** The NetworkAttachmentDefinition's name. */
  name: string;
  /** Its namespace: the pod's (or multusNamespace's, for the default network) when the annotation has none. */
  namespace: string;
  interface?: string;
  /** Addresses as written: IPs or CIDRs. */
  ips?: string[];
  mac?: string;
  infinibandGUID?: string;
  portMappings?: PortMapping[];
  bandwidth?: Bandwidth;
  cniArgs?: Record<string, unknown>;
  /**
   * Gateways of this attachment's default routes. An empty list is kept as written: Multus reads it as "no
   * attachment keeps a default route", and that decision belongs to the default-route handling, not the parser.
   */
  defaultRoute?: string[];
  deviceID?: string;
}

export interface SelectionCheck {
  /** Every element that parsed without a problem, in annotation order. */
  selections: NetworkSelection[];
  /** Each with the runtime's error: the line `validate` prints. */
  problems: ConfigProblem[];
  /** JSON keys that neither Multus nor multus-ts reads (ignored, as Multus does; `multus validate` reports them). */
  ignoredKeys: Array<{ where: string; key: string }>;
}

// ---------------------------------------------------------------------------------------------------------------

const INTERFACE_RULE = 'interface names are 1 to 15 bytes, without "/", ":" or white space, and not "." or ".."';
const FORMAT = 'write each item as [namespace/]name[@interface], separated by commas, e.g. default/macvlan-conf@net1';
const JSON_EXAMPLE = '[{"name": "macvlan-conf", "namespace": "default", "interface": "net1"}]';

// Multus's selection keys (pkg/types NetworkSelectionElement); Go matches them ignoring case.
export const SELECTION_KEYS = [
  'name', 'namespace', 'interface', 'interfaceRequest', 'ips', 'mac', 'infiniband-guid', 'portMappings', 'bandwidth',
  'cni-args', 'default-route', 'deviceID',
];

class Collector {
  readonly problems = new Problems();
  readonly ignoredKeys: Array<{ where: string; key: string }> = [];

  add(where: string, problem: string, fix: string): void {
    this.problems.add(selectionProblem(where, problem, fix));
  }
}

/** A problem of an annotation: the runtime's error is the line `validate` prints. */
function selectionProblem(where: string, problem: string, fix: string): ConfigProblem {
  const p = { where, problem, fix };
  return { ...p, error: new CniError(ErrorCode.InvalidNetworkConfig, formatProblem(p)) };
}

/** How the shared reader words an element's problems: at the element, naming the key in the problem. */
function elementVoice(where: string): ReaderVoice {
  return (field, got, what, fix) => selectionProblem(where, `"${field}": ${shown(got)} ${what}`, fix);
}

function interfaceProblem(name: string): string | undefined {
  try {
    validateInterfaceName(name);
    return undefined;
  } catch (e) {
    return (e as CniError).message;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text form: [namespace/]name[@interface], comma separated.

function parseTextItem(item: string, where: string, podNamespace: string, c: Collector): NetworkSelection | undefined {
  const quoted = JSON.stringify(item);
  const slash = item.split('/');
  if (slash.length > 2) {
    c.add(where, `${quoted} has more than one "/"`, FORMAT);
    return undefined;
  }
  const at = slash[slash.length - 1]!.split('@');
  if (at.length > 2) {
    c.add(where, `${quoted} has more than one "@"`, FORMAT);
    return undefined;
  }
  const namespace = slash.length === 2 ? slash[0]!.trim() : undefined;
  const name = at[0]!.trim();
  const iface = at.length === 2 ? at[1]!.trim() : undefined;
  const before = c.problems.count;
  if (namespace === '') {
    c.add(where, `${quoted} has nothing before "/"`, 'write the namespace before the "/", or leave out the "/" to use the pod\'s namespace');
  } else if (namespace !== undefined && !isDns1123Label(namespace)) {
    c.add(where, `namespace ${JSON.stringify(namespace)} in ${quoted} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}`);
  }
  if (name === '') {
    c.add(where, `${quoted} has no network name`, `name the NetworkAttachmentDefinition, e.g. macvlan-conf or default/macvlan-conf; ${FORMAT}`);
  } else if (!isDns1123Subdomain(name)) {
    c.add(where, `network name ${JSON.stringify(name)} in ${quoted} is not a valid NetworkAttachmentDefinition name`,
      `a NetworkAttachmentDefinition name has ${SUBDOMAIN_RULE}`);
  }
  if (iface === '') {
    c.add(where, `${quoted} has nothing after "@"`, 'write the interface name after "@", or leave out the "@" to get the next netN name');
  } else if (iface !== undefined) {
    const bad = interfaceProblem(iface);
    if (bad) c.add(where, `interface ${JSON.stringify(iface)} in ${quoted}: ${bad}`, INTERFACE_RULE);
  }
  if (c.problems.count > before) return undefined;
  const sel: NetworkSelection = { name, namespace: namespace ?? podNamespace };
  if (iface !== undefined) sel.interface = iface;
  return sel;
}

function parseText(value: string, annotation: string, podNamespace: string, c: Collector): NetworkSelection[] {
  const out: NetworkSelection[] = [];
  value.split(',').forEach((raw, i) => {
    const item = raw.trim();
    const where = `${annotation} item ${i + 1}`;
    if (item === '') {
      c.add(where, 'is empty (a comma at the start or end, or two commas in a row)', 'remove the extra comma');
      return;
    }
    const sel = parseTextItem(item, where, podNamespace, c);
    if (sel) out.push(sel);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON form: a list of network-selection elements.

type Reader = ConfigReader;

/** A string field; '' counts as absent, as it does for Multus. */
function optString(r: Reader, key: string): string | undefined {
  return r.string(key, '', `write "${key}" as a JSON string`) || undefined;
}

function jsonName(r: Reader): string | undefined {
  const name = r.raw('name');
  if (name === undefined || name === '') {
    r.reject('name', name ?? null, 'is missing', `add "name": the NetworkAttachmentDefinition's name, e.g. ${JSON_EXAMPLE}`);
    return undefined;
  }
  if (typeof name !== 'string') return void r.reject('name', name, 'is not a string', 'write the NetworkAttachmentDefinition\'s name as a JSON string');
  if (name.includes('/')) {
    return void r.reject('name', name, 'contains "/"', `in the JSON form the namespace has its own key: {"namespace": ${JSON.stringify(name.split('/')[0])}, "name": ${JSON.stringify(name.split('/').slice(1).join('/'))}}`);
  }
  if (name.includes('@')) {
    return void r.reject('name', name, 'contains "@"', 'in the JSON form the interface has its own key: {"name": "...", "interface": "net1"}');
  }
  if (!isDns1123Subdomain(name)) return void r.reject('name', name, 'is not a valid NetworkAttachmentDefinition name', `a NetworkAttachmentDefinition name has ${SUBDOMAIN_RULE}`);
  return name;
}

function jsonInterface(r: Reader): string | undefined {
  // interfaceRequest is the pre-3.2 spelling, read when "interface" is empty.
  for (const key of ['interface', 'interfaceRequest']) {
    const iface = optString(r, key);
    if (iface === undefined) continue;
    const bad = interfaceProblem(iface);
    if (!bad) return iface;
    return void r.reject(key, iface, `is not a usable interface name: ${bad}`, INTERFACE_RULE);
  }
  return undefined;
}

function jsonIps(r: Reader): string[] | undefined {
  const ips = r.list('ips', 'write "ips" as a JSON list of addresses, e.g. ["10.1.1.5/24"]');
  if (ips === undefined || ips.length === 0) return undefined;
  let ok = true;
  for (const ip of ips) {
    if (typeof ip !== 'string' || (ip.includes('/') ? cidrFamily(ip) : ipFamily(ip)) === 0) {
      r.reject('ips', ip, 'is not an IP address or CIDR', 'write each address as an IP (10.1.1.5) or an IP with prefix length (10.1.1.5/24)');
      ok = false;
    }
  }
  return ok ? (ips as string[]) : undefined;
}

function jsonHardwareAddress(r: Reader, key: string, lengths: number[], fix: string): string | undefined {
  const v = optString(r, key);
  if (v === undefined) return undefined;
  if (lengths.includes(parseHardwareAddress(v)?.length ?? 0)) return v;
  return void r.reject(key, v, `is not a ${key === 'mac' ? 'MAC address' : 'GUID'}`, fix);
}

const wholeNumber = (min: number, max: number) => (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;

function jsonPortMapping(r: Reader, raw: unknown, i: number): PortMapping | undefined {
  if (!isJsonObject(raw)) {
    return void r.reject(`portMappings[${i}]`, raw, 'is not an object', 'write each port mapping as {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}');
  }
  const pr = r.nested(raw, `portMappings[${i}].`);
  const portFix = 'ports are whole numbers from 1 to 65535';
  const port = (key: string): number | undefined => pr.checked<number>(key, goField(raw, key), wholeNumber(1, 65535), 'a whole number from 1 to 65535', portFix);
  const hostPort = port('hostPort');
  const containerPort = port('containerPort');
  const protocol = goField(raw, 'protocol');
  const hostIP = goField(raw, 'hostIP');
  const badProtocol = protocol !== undefined && protocol !== null && protocol !== ''
    && (typeof protocol !== 'string' || !['tcp', 'udp', 'sctp'].includes(protocol.toLowerCase()));
  if (badProtocol) pr.reject('protocol', protocol, 'is not a protocol', 'use "tcp", "udp" or "sctp"');
  const badHostIP = hostIP !== undefined && hostIP !== null && hostIP !== '' && (typeof hostIP !== 'string' || ipFamily(hostIP) === 0);
  if (badHostIP) pr.reject('hostIP', hostIP, 'is not an IP address', 'write the host address to bind, e.g. "0.0.0.0", or leave "hostIP" out');
  if (hostPort === undefined || containerPort === undefined || badProtocol || badHostIP) return undefined;
  const pm: PortMapping = { hostPort, containerPort };
  if (typeof protocol === 'string' && protocol !== '') pm.protocol = protocol;
  if (typeof hostIP === 'string' && hostIP !== '') pm.hostIP = hostIP;
  return pm;
}

function jsonPortMappings(r: Reader): PortMapping[] | undefined {
  const list = r.list('portMappings', 'write "portMappings" as a JSON list of objects, e.g. [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]');
  if (list === undefined || list.length === 0) return undefined;
  const out = list.map((raw, i) => jsonPortMapping(r, raw, i));
  return out.every((pm) => pm !== undefined) ? (out as PortMapping[]) : undefined;
}

function jsonBandwidth(r: Reader): Bandwidth | undefined {
  const o = r.record('bandwidth', 'write "bandwidth" as a JSON object, e.g. {"ingressRate": 1000000, "ingressBurst": 1000000}', 'an object');
  if (o === undefined) return undefined;
  const br = r.nested(o, 'bandwidth.');
  const out: Bandwidth = {};
  let ok = true;
  for (const key of ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'] as const) {
    const v = br.raw(key);
    if (v === undefined) continue;
    const n = br.checked<number>(key, v, wholeNumber(0, Number.MAX_SAFE_INTEGER), `a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
      'rates are bits per second and bursts bits, as whole numbers');
    if (n === undefined) ok = false;
    else out[key] = n;
  }
  return ok ? out : undefined;
}

function jsonDefaultRoute(r: Reader): string[] | undefined {
  const list = r.list('default-route', 'write "default-route" as a JSON list of gateway addresses, e.g. ["192.168.1.1"]');
  if (list === undefined) return undefined;
  let ok = true;
  for (const gw of list) {
    if (typeof gw !== 'string' || ipFamily(gw) === 0) {
      r.reject('default-route', gw, 'is not an IP address', 'list the gateway address(es) of the default route, one per IP family, e.g. ["192.168.1.1"]');
      ok = false;
    }
  }
  return ok ? (list as string[]) : undefined;
}

function parseJsonElement(raw: unknown, where: string, podNamespace: string, c: Collector): NetworkSelection | undefined {
  if (!isJsonObject(raw)) {
    c.add(where, `${shown(raw)} is not an object`, `write each element as an object, e.g. ${JSON_EXAMPLE}`);
    return undefined;
  }
  const elementName = goField(raw, 'name');
  const label = typeof elementName === 'string' && elementName !== '' ? `${where} (${JSON.stringify(elementName)})` : where;
  for (const key of Object.keys(raw)) {
    if (!SELECTION_KEYS.some((k) => k.toLowerCase() === key.toLowerCase())) c.ignoredKeys.push({ where: label, key });
  }
  // Go's decoder reads the element (pkg/types NetworkSelectionElement): keys ignoring case, the last spelling wins.
  const r = new ConfigReader(raw, '', '', c.problems, elementVoice(label));
  const before = c.problems.count;
  const name = jsonName(r);
  const namespace = optString(r, 'namespace');
  if (namespace !== undefined && !isDns1123Label(namespace)) {
    r.reject('namespace', namespace, 'is not a valid namespace name', `a namespace name has ${LABEL_RULE}`);
  }
  const sel: NetworkSelection = { name: name ?? '', namespace: namespace ?? podNamespace };
  const set = <K extends keyof NetworkSelection>(k: K, v: NetworkSelection[K] | undefined): void => {
    if (v !== undefined) sel[k] = v;
  };
  set('interface', jsonInterface(r));
  set('ips', jsonIps(r));
  set('mac', jsonHardwareAddress(r, 'mac', [6, 8, 20], 'write the MAC address as six hex pairs, e.g. "c2:b0:57:49:47:f1"'));
  set('infinibandGUID', jsonHardwareAddress(r, 'infiniband-guid', [8], 'write the GUID as eight hex pairs, e.g. "c2:9b:61:8b:6e:4c:0d:9a"'));
  set('portMappings', jsonPortMappings(r));
  set('bandwidth', jsonBandwidth(r));
  set('cniArgs', r.record('cni-args', 'write "cni-args" as a JSON object, e.g. {"key": "value"}', 'an object'));
  set('defaultRoute', jsonDefaultRoute(r));
  set('deviceID', optString(r, 'deviceID'));
  return c.problems.count > before ? undefined : sel;
}

function parseJsonForm(value: string, annotation: string, podNamespace: string, c: Collector): NetworkSelection[] {
  let parsed: unknown;
  try {
    parsed = parseJson(value);
  } catch (e) {
    c.add(annotation, `${shown(value)} is not valid JSON: ${(e as Error).message}`,
      `write a JSON list such as ${JSON_EXAMPLE}, or the text form without brackets, braces or quotes: default/macvlan-conf@net1`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    // A single object is refused like Multus does, so that an annotation accepted here works on every Multus node.
    const isObject = parsed !== null && typeof parsed === 'object';
    c.add(annotation, isObject ? 'is a single JSON object, not a list' : `${shown(parsed)} is not a JSON list`,
      isObject ? `put it in square brackets: [${value.trim()}]` : `write a JSON list such as ${JSON_EXAMPLE}`);
    return [];
  }
  const out: NetworkSelection[] = [];
  parsed.forEach((raw, i) => {
    const sel = parseJsonElement(raw, `${annotation}[${i}]`, podNamespace, c);
    if (sel) out.push(sel);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

function selectionLabel(s: NetworkSelection): string {
  return `${s.namespace}/${s.name}${s.interface ? `@${s.interface}` : ''}`;
}

function duplicateInterfaces(selections: NetworkSelection[], annotation: string, c: Collector): void {
  const seen = new Map<string, NetworkSelection>();
  for (const s of selections) {
    if (s.interface === undefined) continue;
    const first = seen.get(s.interface);
    if (first) {
      c.add(annotation, `interface ${JSON.stringify(s.interface)} is requested twice, by ${JSON.stringify(selectionLabel(first))} and ${JSON.stringify(selectionLabel(s))}`,
        'give each attachment its own interface name');
    } else {
      seen.set(s.interface, s);
    }
  }
}

function ecmpProblems(selections: NetworkSelection[], where: string, c: Collector): void {
  for (const family of [4, 6] as const) {
    const gateways = selections.flatMap((s) => (s.defaultRoute ?? []).filter((gw) => ipFamily(gw) === family).map((gw) => `${gw} (${selectionLabel(s)})`));
    if (gateways.length > 1) {
      c.add(where, `multus does not support ECMP for default-route: ${gateways.length} IPv${family} gateways are requested: ${gateways.join(', ')}`,
        `keep one IPv${family} gateway in "default-route", on one attachment`);
    }
  }
}

/**
 * Parses and checks an annotation value, collecting every problem instead of stopping at the first. JSON when the
 * value contains "[", "{" or '"' (Multus's rule), the text form otherwise; an empty value selects nothing.
 */
export function checkNetworkSelection(value: string, podNamespace: string, annotation = NETWORKS_ANNOTATION): SelectionCheck {
  const c = new Collector();
  const trimmed = value.trim();
  let selections: NetworkSelection[] = [];
  if (trimmed !== '') {
    selections = /[[{"]/.test(trimmed)
      ? parseJsonForm(trimmed, annotation, podNamespace, c)
      : parseText(trimmed, annotation, podNamespace, c);
  }
  duplicateInterfaces(selections, annotation, c);
  ecmpProblems(selections, annotation, c);
  if (annotation === DEFAULT_NETWORK_ANNOTATION && selections.length > 1) {
    c.add(DEFAULT_NETWORK_ANNOTATION, `more than one default network is specified: ${shown(value)}`,
      `name exactly one NetworkAttachmentDefinition; add the others to ${NETWORKS_ANNOTATION}`);
  }
  return { selections, problems: c.problems.list, ignoredKeys: c.ignoredKeys };
}

function throwProblems(problems: Problem[]): never {
  const more = problems.length > 1
    ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}; "multus validate --kind annotation" lists them all)`
    : '';
  throw new CniError(ErrorCode.InvalidNetworkConfig, `${formatProblem(problems[0]!)}${more}`);
}

/** The `k8s.v1.cni.cncf.io/networks` annotation as typed elements; a CniError (code 7) on any problem. */
export function parseNetworkSelection(value: string, podNamespace: string): NetworkSelection[] {
  const { selections, problems } = checkNetworkSelection(value, podNamespace);
  if (problems.length > 0) throwProblems(problems);
  return selections;
}

/**
 * The `v1.multus-cni.io/default-network` annotation: the one network that replaces the primary (undefined when the
 * annotation is empty). Its namespace defaults to multusNamespace.
 */
export function parseDefaultNetworkAnnotation(value: string, multusNamespace: string): NetworkSelection | undefined {
  const { selections, problems } = checkNetworkSelection(value, multusNamespace, DEFAULT_NETWORK_ANNOTATION);
  if (problems.length > 0) throwProblems(problems);
  return selections[0];
}

/**
 * The ECMP rule over every attachment of the pod (the default network's element and the annotation's): at most one
 * default-route gateway per IP family. checkNetworkSelection already applies it within one annotation.
 */
export function checkDefaultRoutes(selections: NetworkSelection[]): void {
  const c = new Collector();
  ecmpProblems(selections, 'default-route', c);
  if (c.problems.count > 0) throwProblems(c.problems.list);
}

