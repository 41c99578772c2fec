import { CniError, ErrorCode } from '../cni/errors';
import { validateInterfaceName } from '../cni/environment';
import { findPlugin } from '../delegation/plugin-path';
import type { NetworkSelection } from '../k8s/network-selection';
import type { MultusCall } from './call';
import { delegateFrom, delegateLabel, interfaceName, type Delegate } from './delegate';
import type { KubeContext } from './kube-context';
import { findNetworkByName, loadNetworkPath } from './network-files';

type Kube = Omit<KubeContext, 'pod'> & { pod?: KubeContext['pod'] };

async function nadDelegate(call: MultusCall, kube: Kube, selection: NetworkSelection): Promise<Delegate> {
  const { nadDelegate: build } = await import('../k8s/nad');
  const nad = await kube.api.getNetworkAttachmentDefinition(selection.namespace, selection.name);
  return build(nad, selection, { confDir: call.conf.confDir, cniVersion: call.conf.cniVersion });
}

/**
 * A `clusterNetwork`/`defaultNetworks` value: a path (it contains `/`) to a file or directory; otherwise a
 * NetworkAttachmentDefinition in multusNamespace when Kubernetes is configured, else (or when there is no such
 * NAD) the configuration with that name in `confDir`.
 */
async function configuredNetwork(call: MultusCall, kube: Kube | undefined, key: string, value: string): Promise<Delegate> {
  const { conf } = call;
  try {
    if (value.includes('/')) return delegateFrom(loadNetworkPath(value, conf.cniVersion));
    if (kube) {
      try {
        return await nadDelegate(call, kube, { name: value, namespace: conf.multusNamespace });
      } catch (e) {
        if (!kube.k8s.isNotFound(e, 'network-attachment-definitions')) throw e;
      }
    }
    const found = findNetworkByName(conf.confDir, value, conf.cniVersion);
    if (found) return delegateFrom(found);
  } catch (e) {
    throw e instanceof CniError ? e.withContext(`${key} "${value}"`) : e;
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig,
    `${key} "${value}": no ${kube ? `NetworkAttachmentDefinition ${conf.multusNamespace}/${value} and no ` : ''}CNI configuration named "${value}" in confDir ${conf.confDir}`,
    'create it, or give an absolute path to a configuration file or directory');
}

/** The networks every pod gets from the configuration: the primary first, then defaultNetworks. */
async function configuredDelegates(call: MultusCall, kube: Kube | undefined, primaryOnly: boolean): Promise<Delegate[]> {
  const { conf, pod } = call;
  if (conf.clusterNetwork === '') return (primaryOnly ? conf.delegates.slice(0, 1) : conf.delegates).map(delegateFrom);
  const out = [await configuredNetwork(call, kube, 'clusterNetwork', conf.clusterNetwork)];
  if (primaryOnly || conf.systemNamespaces.includes(pod.namespace)) return out;
  for (const [i, n] of conf.defaultNetworks.entries()) out.push(await configuredNetwork(call, kube, `defaultNetworks[${i}]`, n));
  return out;
}

/**
 * The pod's own networks from its annotations: the default-network replacement for the primary, and the
 * networks annotation. Everything is parsed and checked before the first NetworkAttachmentDefinition is fetched,
 * and each distinct one is fetched once, all at the same time.
 */
async function annotatedDelegates(call: MultusCall, kube: Kube, delegates: Delegate[]): Promise<Delegate[]> {
  const pod = kube.pod!;
  const sel = await import('../k8s/network-selection');
  const primary = sel.parseDefaultNetworkAnnotation(pod.annotations[sel.DEFAULT_NETWORK_ANNOTATION] ?? '', call.conf.multusNamespace);
  const networks = sel.parseNetworkSelection(pod.annotations[sel.NETWORKS_ANNOTATION] ?? '', pod.namespace);
  if (call.conf.namespaceIsolation) sel.checkNamespaceIsolation(networks, pod.namespace, call.conf.globalNamespaces);
  if (primary) sel.checkDefaultRoutes([primary, ...networks]);
  const selections = primary ? [primary, ...networks] : networks;
  const resolved = await Promise.all(selections.map((s) => nadDelegate(call, kube, s).catch((e: unknown) => {
    throw e instanceof CniError ? e.withContext(`network "${s.namespace}/${s.name}"`) : e;
  })));
  const out = [...delegates];
  if (primary) out[0] = resolved.shift()!;
  return [...out, ...resolved];
}

/** Every network of the pod, the primary first: the configuration's, then what the pod's annotations ask for. */
export async function podDelegates(call: MultusCall, kube: KubeContext | undefined): Promise<Delegate[]> {
  const delegates = await configuredDelegates(call, kube, false);
  return kube?.pod ? annotatedDelegates(call, kube, delegates) : delegates;
}

/** The primary network alone, for STATUS and GC. */
export async function primaryDelegate(call: MultusCall, kube: Kube | undefined): Promise<Delegate> {
  return (await configuredDelegates(call, kube, true))[0]!;
}

/** Checks every interface name before anything is attached: two delegates must never fight over one name. */
export function checkInterfaceNames(delegates: Delegate[], runtimeIfName: string): void {
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
        findPlugin(p.type as string, call.invoke.pluginDirs);
      } catch (e) {
        throw (e as CniError).withContext(`network "${delegateLabel(d)}"`);
      }
    }
  }
}
