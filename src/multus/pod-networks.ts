import { CniError, ErrorCode } from '../cni/errors';
import { validateInterfaceName } from '../cni/environment';
import { pluginType } from '../delegation/network-config';
import { locatePlugin } from '../delegation/plugin-path';
import type { NetworkAttachmentDefinition } from '../k8s/nad';
import type { NetworkSelection } from '../k8s/network-selection';
import type { MultusCall } from './call';
import { delegateFrom, delegateLabel, interfaceName, selectionDelegate, type Delegate } from './delegate';
import type { DeviceRequest } from './devices';
import { noNetworkFoundMessage } from './events';
import type { KubeContext } from './kube-context';
import { findNetworkByName, loadNetworkPath } from '../delegation/network-files';
import { mapBounded } from '../util/bounded-map';

type Kube = Omit<KubeContext, 'pod'> & { pod?: KubeContext['pod'] };

/**
 * Networks one pod may have, the primary included: far above any real pod (Linux names them net1…netN), low enough
 * that a hostile annotation cannot make one ADD fire thousands of API requests and netlink calls.
 */
export const MAX_NETWORKS_PER_POD = 256;
/** NetworkAttachmentDefinitions fetched at the same time for one pod. */
export const MAX_REQUESTS_IN_FLIGHT = 8;

function checkNetworkCount(count: number, what: string): void {
  if (count > MAX_NETWORKS_PER_POD) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${what} ${count} networks; a pod may have at most ${MAX_NETWORKS_PER_POD}`,
      'attach fewer networks to the pod');
  }
}

/**
 * A NetworkAttachmentDefinition fetched for a selection element. It becomes a delegate only once every network of
 * the pod is known, because its device ID depends on the attachments before it (see devices.ts).
 */
interface FetchedNad {
  nad: NetworkAttachmentDefinition;
  selection: NetworkSelection;
  /** Put in front of errors from building the delegate, e.g. `network "ns/name"`. */
  context: string;
}
type Network = Delegate | FetchedNad;

const isFetched = (n: Network): n is FetchedNad => 'nad' in n;

/** client-go's wording for a NetworkAttachmentDefinition that does not exist, which Go Multus's event quotes. */
function missingNad(name: string): string {
  return `network-attachment-definitions.k8s.cni.cncf.io "${name}" not found`;
}

async function fetchNad(kube: Kube, selection: NetworkSelection, context: string): Promise<FetchedNad> {
  return { nad: await kube.api.getNetworkAttachmentDefinition(selection.namespace, selection.name), selection, context };
}

/**
 * A `clusterNetwork`/`defaultNetworks` value: a path (it contains `/`) to a file or directory; otherwise a
 * NetworkAttachmentDefinition in multusNamespace when Kubernetes is configured, else (or when there is no such
 * NAD) the configuration with that name in `confDir`.
 */
async function configuredNetwork(call: MultusCall, kube: Kube | undefined, key: string, value: string): Promise<Network> {
  const { conf } = call;
  const context = `${key} "${value}"`;
  try {
    if (value.includes('/')) return delegateFrom(loadNetworkPath(value, conf.cniVersion));
    if (kube) {
      try {
        return await fetchNad(kube, { name: value, namespace: conf.multusNamespace }, context);
      } catch (e) {
        if (!kube.k8s.isNotFound(e, 'network-attachment-definitions')) throw e;
      }
    }
    const found = findNetworkByName(conf.confDir, value, conf.cniVersion);
    if (found) return delegateFrom(found);
  } catch (e) {
    throw e instanceof CniError ? e.withContext(context) : e;
  }
  kube?.events?.warning('NoNetworkFound', noNetworkFoundMessage(conf.multusNamespace, value, missingNad(value)));
  throw new CniError(ErrorCode.InvalidNetworkConfig,
    `${key} "${value}": no ${kube ? `NetworkAttachmentDefinition ${conf.multusNamespace}/${value} and no ` : ''}CNI configuration named "${value}" in confDir ${conf.confDir}`,
    'create it, or give an absolute path to a configuration file or directory');
}

/** The networks every pod gets from the configuration: the primary first, then defaultNetworks. */
async function configuredNetworks(call: MultusCall, kube: Kube | undefined, primaryOnly: boolean): Promise<Network[]> {
  const { conf, pod } = call;
  if (conf.clusterNetwork === '') return (primaryOnly ? conf.delegates.slice(0, 1) : conf.delegates).map(delegateFrom);
  const out: Network[] = [await configuredNetwork(call, kube, 'clusterNetwork', conf.clusterNetwork)];
  if (primaryOnly || conf.systemNamespaces.includes(pod.namespace)) return out;
  checkNetworkCount(1 + conf.defaultNetworks.length, 'clusterNetwork and defaultNetworks give the pod');
  for (const [i, n] of conf.defaultNetworks.entries()) out.push(await configuredNetwork(call, kube, `defaultNetworks[${i}]`, n));
  return out;
}

/** With namespaceIsolation, a pod may only use NetworkAttachmentDefinitions of its own or a global namespace. */
export function checkNamespaceIsolation(selections: NetworkSelection[], podNamespace: string, globalNamespaces: readonly string[]): void {
  for (const s of selections) {
    if (s.namespace === podNamespace || globalNamespaces.includes(s.namespace)) continue;
    throw new CniError(ErrorCode.InvalidNetworkConfig,
      `namespace isolation enabled, annotation violates permission, pod is in namespace ${podNamespace} but refers to target namespace ${s.namespace} `
      + `(network ${JSON.stringify(`${s.namespace}/${s.name}`)}) — fix: use a NetworkAttachmentDefinition in namespace ${podNamespace}, `
      + `or add ${s.namespace} to "globalNamespaces" in the multus configuration`);
  }
}

/**
 * The pod's own networks from its annotations: the default-network replacement for the primary, and the
 * networks annotation. Everything is parsed and checked before the first NetworkAttachmentDefinition is fetched,
 * and each distinct one is fetched once, a few at a time (MAX_REQUESTS_IN_FLIGHT).
 */
async function annotatedNetworks(call: MultusCall, kube: Kube, configured: Network[]): Promise<Network[]> {
  const pod = kube.pod!;
  const sel = await import('../k8s/network-selection');
  const primary = sel.parseDefaultNetworkAnnotation(pod.annotations[sel.DEFAULT_NETWORK_ANNOTATION] ?? '', call.conf.multusNamespace);
  const networks = sel.parseNetworkSelection(pod.annotations[sel.NETWORKS_ANNOTATION] ?? '', pod.namespace);
  if (call.conf.namespaceIsolation) checkNamespaceIsolation(networks, pod.namespace, call.conf.globalNamespaces);
  if (primary) sel.checkDefaultRoutes([primary, ...networks]);
  const selections = primary ? [primary, ...networks] : networks;
  checkNetworkCount(configured.length + networks.length, `the pod's annotation ${sel.NETWORKS_ANNOTATION} and the configuration give it`);
  // Bounded, and stopped at the first NAD that cannot be had: one missing network already fails the ADD.
  const resolved = await mapBounded(selections, MAX_REQUESTS_IN_FLIGHT, (s) => {
    const context = `network "${s.namespace}/${s.name}"`;
    return fetchNad(kube, s, context).catch((e: unknown) => {
      const reason = kube.k8s.isNotFound(e, 'network-attachment-definitions') ? missingNad(s.name) : (e as Error).message;
      kube.events?.warning('NoNetworkFound', noNetworkFoundMessage(s.namespace, s.name, reason));
      throw e instanceof CniError ? e.withContext(context) : e;
    });
  });
  const out = [...configured];
  if (primary) out[0] = resolved.shift()!;
  return [...out, ...resolved];
}

/** How device IDs are looked up: `required` on ADD, `best-effort` for a DEL that lost its cache, `none` otherwise. */
export type DeviceLookup = 'required' | 'best-effort' | 'none';

/**
 * The delegates, in order, with the device IDs of the NADs that name a resource. The primary never takes part:
 * Multus gives it no device capability, and its network is the cluster's, not a device's.
 */
async function buildDelegates(call: MultusCall, kube: Kube | undefined, networks: Network[], devices: DeviceLookup): Promise<Delegate[]> {
  if (!networks.some(isFetched)) return networks as Delegate[];
  const nads = await import('../k8s/nad');
  const requests: DeviceRequest[] = [];
  networks.forEach((n, index) => {
    const resourceName = isFetched(n) ? n.nad.annotations[nads.RESOURCE_NAME_ANNOTATION] : undefined;
    if (index > 0 && resourceName && isFetched(n)) requests.push({ index, resourceName, network: `${n.nad.namespace}/${n.nad.name}` });
  });
  let deviceIds = new Map<number, string>();
  if (requests.length > 0 && devices !== 'none') {
    const { assignDevices } = await import('./devices');
    // The checkpoint names pods by UID: the API's, when the runtime passed none.
    const pod = { namespace: call.pod.namespace, name: call.pod.name, uid: call.pod.uid || (kube?.pod?.uid ?? '') };
    deviceIds = await assignDevices(call, pod, requests, devices === 'required');
  }
  const options = { confDir: call.conf.confDir, cniVersion: call.conf.cniVersion };
  return networks.map((n, index) => {
    if (!isFetched(n)) return n;
    try {
      const deviceID = deviceIds.get(index);
      const net = nads.nadNetwork(n.nad, n.selection, deviceID ? { ...options, resourceDeviceID: deviceID } : options);
      return selectionDelegate(net, `${n.nad.namespace}/${n.nad.name}`, n.selection, deviceID, n.nad.annotations[nads.RESOURCE_NAME_ANNOTATION]);
    } catch (e) {
      throw e instanceof CniError ? e.withContext(n.context) : e;
    }
  });
}

/** Every network of the pod, the primary first: the configuration's, then what the pod's annotations ask for. */
export async function podDelegates(call: MultusCall, kube: KubeContext | undefined, devices: DeviceLookup = 'required'): Promise<Delegate[]> {
  const configured = await configuredNetworks(call, kube, false);
  return buildDelegates(call, kube, kube?.pod ? await annotatedNetworks(call, kube, configured) : configured, devices);
}

/** The primary network alone, for STATUS and GC. */
export async function primaryDelegate(call: MultusCall, kube: Kube | undefined): Promise<Delegate> {
  return (await buildDelegates(call, kube, await configuredNetworks(call, kube, true), 'none'))[0]!;
}

/** Checks every interface name before anything is attached: two delegates must never fight over one name. */
export function checkInterfaceNames(delegates: Delegate[], runtimeIfName: string): void {
  checkNetworkCount(delegates.length, 'the configuration gives the pod');
  const seen = new Map<string, string>();
  delegates.forEach((d, i) => {
    const name = interfaceName(d, i, runtimeIfName);
    try {
      validateInterfaceName(name);
    } catch (e) {
      throw (e as CniError).withContext(`network "${delegateLabel(d)}": interface name ${JSON.stringify(name)}`);
    }
    const other = seen.get(name);
    if (other !== undefined) {
      throw new CniError(ErrorCode.InvalidNetworkConfig,
        `networks "${other}" and "${delegateLabel(d)}" both want interface ${name}`, 'give each attachment its own interface name');
    }
    seen.set(name, delegateLabel(d));
  });
}

/** Every plugin binary must be there before the first one runs; finding out halfway means a rollback. */
export function checkPluginsInstalled(call: MultusCall, delegates: Delegate[]): void {
  for (const d of delegates) {
    for (const p of d.net.plugins) {
      try {
        locatePlugin(call.invoke.runner, pluginType(p), call.invoke.pluginDirs);
      } catch (e) {
        throw (e as CniError).withContext(`network "${delegateLabel(d)}"`);
      }
    }
  }
}
