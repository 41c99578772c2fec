import { dirname, join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { parseNetworkConfig } from '../delegation/network-config';
import { loadPluginFiles } from '../delegation/network-files';
import { logVerbose } from '../log/logger';
import type { MultusConfig } from './config';
import { delegateFrom, type Delegate } from './delegate';

/** The head of every auxiliary chain: Go Multus's plugin, built into this executable too. */
export const AUX_CHAIN_HEAD = 'passthru';

/**
 * Go Multus 4.2.2's `auxiliaryCNIChainName`: one more attachment after all the others (the next netN), a conflist of
 * that name whose first plugin is `passthru` and whose others are the plugin configurations `*.conf` in the
 * sub-directory of that name beside the `clusterNetwork` file. No such files, no attachment. Unlike Go Multus, which
 * logs and leaves the chain out, an unreadable file fails the ADD: the pod asked for that chain.
 */
export function auxiliaryChain(conf: MultusConfig): Delegate | undefined {
  const name = conf.auxiliaryCNIChainName;
  if (name === '') return undefined;
  if (!conf.clusterNetwork.includes('/')) {
    throw new CniError(ErrorCode.InvalidNetworkConfig,
      `auxiliary chain used but ClusterNetwork must be a path, and it is not a path: ${conf.clusterNetwork}`,
      `set "clusterNetwork" to the path of the primary network's configuration file; the chain is read from <its directory>/${name}/*.conf`);
  }
  const dir = join(dirname(conf.clusterNetwork), name);
  const plugins = loadPluginFiles(dir);
  if (plugins.length === 0) {
    logVerbose(`auxiliaryCNIChainName "${name}": no plugin configuration in ${dir}; no auxiliary chain`);
    return undefined;
  }
  const raw = { cniVersion: conf.cniVersion, name, plugins: [{ type: AUX_CHAIN_HEAD, name: 'passthru-cni' }, ...plugins] };
  return { ...delegateFrom(parseNetworkConfig(raw, `auxiliaryCNIChainName "${name}"`, conf.cniVersion)), auxiliary: true };
}
