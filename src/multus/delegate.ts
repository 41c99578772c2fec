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
  if (selection.interface) d.ifnameRequest = selection.interface;
  if (selection.mac) d.macRequest = selection.mac;
  if (selection.infinibandGUID) d.infinibandGUIDRequest = selection.infinibandGUID;
  if (selection.ips) d.ipRequest = selection.ips;
  if (selection.defaultRoute) d.gatewayRequest = selection.defaultRoute;
  if (selection.portMappings?.length) d.portMappingsRequest = selection.portMappings;
  if (selection.bandwidth) d.bandwidthRequest = selection.bandwidth;
  // The element's own deviceID only counts when the kubelet assigned none (Multus logs and ignores it otherwise).
  const deviceID = resourceDeviceID || selection.deviceID;
  if (deviceID) d.deviceID = deviceID;
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
