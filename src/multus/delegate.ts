import type { NetworkConfig } from '../delegation/network-config';
import type { Bandwidth, NetworkSelection, PortMapping } from '../k8s/network-selection';

/**
 * One network to attach to the pod, with what the pod asked of it. The request fields are the ones Multus keeps
 * in its scratch cache, so that DEL can repeat them without the API server.
 */
export interface Delegate {
  net: NetworkConfig;
  /** `namespace/name` of a NetworkAttachmentDefinition; '' for networks from the local configuration. */
  name: string;
  ifnameRequest?: string;
  macRequest?: string;
  infinibandGUIDRequest?: string;
  ipRequest?: string[];
  gatewayRequest?: string[];
  deviceID?: string;
  resourceName?: string;
  isFilterV4Gateway: boolean;
  isFilterV6Gateway: boolean;
  /** The auxiliary chain (auxiliaryCNIChainName): no interface of its own, so no network-status entry. ADD only. */
  auxiliary?: boolean;
  /** Requests Multus does not cache either: only ADD passes them on. */
  portMappingsRequest?: PortMapping[];
  bandwidthRequest?: Bandwidth;
}

type RequestField = 'ifnameRequest' | 'macRequest' | 'infinibandGUIDRequest' | 'ipRequest' | 'gatewayRequest' | 'deviceID'
  | 'resourceName' | 'portMappingsRequest' | 'bandwidthRequest';

interface RequestDefinition {
  field: RequestField;
  /** The selection element's key it comes from. */
  selection?: keyof NetworkSelection;
  /** Its key in Go Multus's scratch cache, and whether that holds a string or a list; absent: not cached (ADD only). */
  cache?: { key: string; kind: 'string' | 'strings' };
  /** The runtimeConfig capability it reaches a secondary network's plugins as; absent: not passed as one. */
  capability?: string;
  /** An empty list still says something (no default route at all), so it is kept. */
  keepEmpty?: true;
}

/**
 * Each request a delegate carries for the pod, defined once: where it comes from, how the scratch cache keeps it
 * (in Go Multus's field order) and what capability it becomes. selectionDelegate, the scratch cache and the
 * capability arguments all read this table.
 */
export const REQUESTS: readonly RequestDefinition[] = [
  { field: 'ifnameRequest', selection: 'interface', cache: { key: 'ifnameRequest', kind: 'string' } },
  { field: 'macRequest', selection: 'mac', cache: { key: 'macRequest', kind: 'string' }, capability: 'mac' },
  { field: 'infinibandGUIDRequest', selection: 'infinibandGUID', cache: { key: 'infinibandGUIDRequest', kind: 'string' }, capability: 'infinibandGUID' },
  { field: 'ipRequest', selection: 'ips', cache: { key: 'ipRequest', kind: 'strings' }, capability: 'ips' },
  { field: 'gatewayRequest', selection: 'defaultRoute', cache: { key: 'default-route', kind: 'strings' }, keepEmpty: true },
  { field: 'deviceID', selection: 'deviceID', cache: { key: 'deviceID', kind: 'string' }, capability: 'deviceID' },
  { field: 'resourceName', cache: { key: 'resourceName', kind: 'string' } },
  { field: 'portMappingsRequest', selection: 'portMappings', capability: 'portMappings' },
  { field: 'bandwidthRequest', selection: 'bandwidth', capability: 'bandwidth' },
];

/** Whether a request value says anything: not absent, not '', not an empty list (unless that means something). */
export function requestGiven(r: RequestDefinition, v: unknown): boolean {
  if (v === undefined || v === null || v === '') return false;
  return !Array.isArray(v) || v.length > 0 || r.keepEmpty === true;
}

export function delegateFrom(net: NetworkConfig): Delegate {
  return { net, name: '', isFilterV4Gateway: false, isFilterV6Gateway: false };
}

/**
 * The delegate for one selection element of the pod, attached to `net` (the configuration of NetworkAttachmentDefinition
 * `nad`, `namespace/name`). The element's requests travel with the delegate (and its scratch cache entry), so that DEL
 * can repeat them. `resourceDeviceID` is the device the kubelet assigned, `resourceName` the NAD's resource.
 */
export function selectionDelegate(net: NetworkConfig, nad: string, selection: NetworkSelection,
  resourceDeviceID?: string, resourceName?: string): Delegate {
  const d: Delegate = { net, name: nad, isFilterV4Gateway: false, isFilterV6Gateway: false };
  const requests = d as unknown as Record<RequestField, unknown>;
  for (const r of REQUESTS) {
    const v = r.selection === undefined ? undefined : selection[r.selection];
    if (requestGiven(r, v)) requests[r.field] = v;
  }
  // The element's own deviceID only counts when the kubelet assigned none (Multus logs and ignores it otherwise).
  if (resourceDeviceID) d.deviceID = resourceDeviceID;
  if (resourceName) d.resourceName = resourceName;
  return d;
}

/** The primary gets the runtime's interface name; the others net1..netN by position, unless the pod named one. */
export function interfaceName(d: Delegate, index: number, runtimeIfName: string): string {
  if (d.ifnameRequest) return d.ifnameRequest;
  return index === 0 ? runtimeIfName : `net${index}`;
}

/** How a delegate is named in messages: the NAD it came from, else its network name. */
export function delegateLabel(d: Delegate): string {
  return d.name || d.net.name;
}
