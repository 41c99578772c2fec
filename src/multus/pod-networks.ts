import { CniError, ErrorCode } from '../cni/errors';
import { validateInterfaceName } from '../cni/environment';
import type { NetworkConfig } from '../delegation/network-config';
import { findPlugin } from '../delegation/plugin-path';
import type { MultusCall } from './call';
import { delegateFrom, delegateLabel, interfaceName, type Delegate } from './delegate';
import { findNetworkByName, loadNetworkPath } from './network-files';

/**
 * A `clusterNetwork`/`defaultNetworks` value: a path (it contains `/`) to a file or directory, or the name of a
 * configuration in `confDir`.
 */
function loadConfiguredNetwork(call: MultusCall, key: string, value: string): NetworkConfig {
  const { conf } = call;
  try {
    if (value.includes('/')) return loadNetworkPath(value, conf.cniVersion);
    const found = findNetworkByName(conf.confDir, value, conf.cniVersion);
    if (found) return found;
  } catch (e) {
    throw e instanceof CniError ? e.withContext(`${key} "${value}"`) : e;
  }
  throw new CniError(ErrorCode.InvalidNetworkConfig, `${key} "${value}": no CNI configuration named "${value}" in confDir ${conf.confDir}`,
    'put a configuration with that "name" in confDir, or give an absolute path to a file or directory');
}

/** The networks every pod gets from the local configuration: the primary first. */
export function configuredDelegates(call: MultusCall): Delegate[] {
  const { conf, pod } = call;
  if (conf.clusterNetwork === '') return conf.delegates.map(delegateFrom);
  const nets = [loadConfiguredNetwork(call, 'clusterNetwork', conf.clusterNetwork)];
  if (!conf.systemNamespaces.includes(pod.namespace)) {
    conf.defaultNetworks.forEach((n, i) => nets.push(loadConfiguredNetwork(call, `defaultNetworks[${i}]`, n)));
  }
  return nets.map(delegateFrom);
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
