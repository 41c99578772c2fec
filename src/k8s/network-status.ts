import { bareAddress, familyOf, isDefaultDst } from '../cni/ip';
import { formatResult, type DNS, type Interface, type IPConfig, type Result } from '../cni/result';

/*
 * The `k8s.v1.cni.cncf.io/network-status` annotation (multi-net-spec §5; NAD-client NetworkStatus), built from a
 * delegate's result. It follows Multus ≥4.1 (one entry per pod-side interface, `gateway`, bare IPs) without its
 * bugs: a result without interfaces (CNI 0.1/0.2, or a plugin that lists none) still gets an entry, and a default
 * route without a gateway never shows up as "<nil>".
 */

export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** Device information (multi-net-spec "Device Information Specification"), as the device-info file holds it. */
export interface DeviceInfo {
  type: string;
  version: string;
  [detail: string]: unknown;
}

/** One entry; the keys are in NAD-client's order, which is the order they are written in. */
export interface NetworkStatus {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  mtu?: number;
  default?: boolean;
  dns: DNS;
  'device-info'?: DeviceInfo;
  gateway?: string[];
}

/**
 * The gateways of the result's default routes: a route's own gw, or for a default route without one the gateway of
 * the result's first address of that family that has one; nothing when neither exists.
 */
function defaultGateways(result: Result): string[] {
  const out: string[] = [];
  for (const route of result.routes) {
    if (!isDefaultDst(route.dst)) continue;
    const family = familyOf(route.dst);
    const gw = route.gw ?? result.ips.find((ip) => ip.gateway !== undefined && familyOf(ip.address) === family)?.gateway;
    if (gw !== undefined && !out.includes(gw)) out.push(gw);
  }
  return out;
}

interface Common {
  dns: DNS;
  gateway?: string[];
  deviceInfo?: DeviceInfo;
}

// Keys are added in NAD-client's field order, which is the order JSON.stringify writes them in.
function entry(name: string, ips: IPConfig[], common: Common, iface: Interface | undefined, isDefault: boolean): NetworkStatus {
  const e: NetworkStatus = { name } as NetworkStatus;
  if (iface) e.interface = iface.name;
  if (ips.length > 0) e.ips = ips.map((ip) => bareAddress(ip.address));
  if (iface?.mac) e.mac = iface.mac;
  if (iface?.mtu) e.mtu = iface.mtu;
  if (isDefault) e.default = true;
  e.dns = common.dns;
  if (common.deviceInfo) e['device-info'] = common.deviceInfo;
  if (common.gateway) e.gateway = common.gateway;
  return e;
}

/**
 * The status entries for one delegate's result: one per interface inside the pod, each with the addresses that
 * name it by index (addresses without a usable index go to the last pod interface, as in NAD-client); a single
 * entry with every address when the result names no pod interface. `default` marks the pod's default network: on
 * the interface of the first address with a gateway, else on the first pod interface.
 */
export function networkStatusEntries(result: Result, delegateName: string, isDefault: boolean, deviceInfo?: DeviceInfo): NetworkStatus[] {
  const dns: DNS = { ...result.dns };
  const gateway = defaultGateways(result);
  const common: Common = { dns };
  if (gateway.length > 0) common.gateway = gateway;
  if (deviceInfo) common.deviceInfo = deviceInfo;
  const podSide = result.interfaces.map((iface, index) => ({ iface, index })).filter(({ iface }) => iface.sandbox !== '');
  if (podSide.length === 0) return [entry(delegateName, result.ips, common, undefined, isDefault)];

  const byIndex = new Map(podSide.map(({ index }) => [index, [] as IPConfig[]]));
  const lastIndex = podSide[podSide.length - 1]!.index;
  for (const ip of result.ips) {
    if (ip.interface !== undefined && byIndex.has(ip.interface)) byIndex.get(ip.interface)!.push(ip);
    // An address on a host-side interface is not the pod's; one without a usable index is.
    else if (ip.interface === undefined || ip.interface >= result.interfaces.length) byIndex.get(lastIndex)!.push(ip);
  }
  const gatewayIndex = result.ips.find((ip) => ip.gateway !== undefined && ip.interface !== undefined && byIndex.has(ip.interface))?.interface;
  const defaultIndex = gatewayIndex ?? podSide[0]!.index;
  return podSide.map(({ iface, index }) => entry(delegateName, byIndex.get(index)!, common, iface, isDefault && index === defaultIndex));
}

/**
 * The annotation's value. Laid out as Multus writes it (each entry indented by 4 spaces, joined by "," inside "[]",
 * HTML characters escaped as Go does), so tools that compare or scrape it see the same text.
 */
export function networkStatusAnnotation(entries: readonly NetworkStatus[]): string {
  return `[${entries.map((e) => formatResult(e as unknown as Record<string, unknown>)).join(',')}]`;
}
