import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { versionAtLeast } from '../cni/version';
import type { NetworkConfig } from '../delegation/network-config';
import { CONFIG_EXTENSIONS, loadNetworkFile } from '../delegation/network-files';
import type { HostFiles } from './host-files';
import { onHost, type ConfigOptions, type InstallOptions } from './options';
import { parseJson } from '../cni/json-text';

/*
 * Generates the runtime's configuration for multus from the node's primary network, as Multus's thin entrypoint
 * does, minus its known failures: our own configuration is never taken as the primary (Multus issue #1108: multus
 * nested in multus after a restart), and with no primary the last good file stays (#1155: an empty 00-multus.conf).
 */

const OWN_PREFIX = '00-multus';
export const MULTUS_CONF = `${OWN_PREFIX}.conf`;
export const MULTUS_CONFLIST = `${OWN_PREFIX}.conflist`;
const NETWORK_NAME = 'multus-cni-network';
const DEFAULT_BIN_DIR = '/opt/cni/bin';
const MULTUS_TYPES = ['multus', 'multus-shim'];

export interface Primary {
  file: string;
  net: NetworkConfig;
  /** The configuration as written, which becomes the delegate unchanged. */
  raw: Record<string, unknown>;
}

export interface GeneratedConfig {
  fileName: typeof MULTUS_CONF | typeof MULTUS_CONFLIST;
  content: string;
}

function configFileNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => CONFIG_EXTENSIONS.includes(extname(f)) && !f.startsWith('.')).sort();
  } catch {
    return [];
  }
}

function isMultus(net: NetworkConfig): boolean {
  return net.plugins.some((p) => MULTUS_TYPES.includes(p.type as string));
}

function loadPrimary(path: string): Primary {
  // Any supported version passes here; whether the file states one is checked on its own bytes below.
  const net = loadNetworkFile(path, '1.1.0');
  const raw = parseJson(net.bytes.toString('utf8')) as Record<string, unknown>;
  if (typeof raw.cniVersion !== 'string' || raw.cniVersion === '') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `primary CNI configuration ${path} has no "cniVersion"`,
      'multus takes its version from the primary network; a configuration without one is refused by current runtimes too');
  }
  return { file: path, net, raw };
}

/**
 * The primary network: `primaryConfig` or the alphabetically first configuration that is not multus's, as the
 * runtime would pick it without multus. A first file that does not parse is an error rather than a reason to
 * take the next one: it is usually being written right now, and the next one is a different network.
 * `warnings` names the multus configurations passed over.
 */
export function findPrimary(confDir: string, primaryConfig: string, warnings: string[] = []): Primary {
  if (primaryConfig.startsWith(OWN_PREFIX)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `--primary-config: ${primaryConfig} is multus's own configuration, not a primary network`);
  }
  const names = primaryConfig !== '' ? [primaryConfig] : configFileNames(confDir).filter((f) => !f.startsWith(OWN_PREFIX));
  for (const name of names) {
    const primary = loadPrimary(join(confDir, name));
    if (!isMultus(primary.net)) return primary;
    warnings.push(`skipped ${primary.file}: it is a multus configuration, and multus must not delegate to itself`);
  }
  throw new CniError(ErrorCode.IoFailure, primaryConfig !== ''
    ? `primary CNI configuration ${join(confDir, primaryConfig)} is a multus configuration`
    : `no primary CNI configuration in ${confDir} yet`,
  'multus delegates to the cluster network, whose plugin writes a .conf or .conflist there; 00-multus is written once it exists');
}

function capabilities(net: NetworkConfig): Record<string, true> | undefined {
  const caps: Record<string, true> = {};
  for (const p of net.plugins) {
    const c = p.capabilities;
    if (c === null || typeof c !== 'object') continue;
    for (const [k, v] of Object.entries(c)) if (v === true) caps[k] = true;
  }
  return Object.keys(caps).length > 0 ? caps : undefined;
}

/** The multus configuration for `primary`: `.conflist` from cniVersion 1.0.0 on, where single-plugin files are deprecated. */
export function generateConfig(primary: Primary, o: ConfigOptions, kubeconfigPath: string, binDir: string): GeneratedConfig {
  const version = o.forceCniVersion ? o.cniVersion : primary.net.cniVersion;
  if (o.cniVersion !== '' && o.cniVersion !== version) {
    throw new CniError(ErrorCode.IncompatibleVersion, `--cni-version is ${o.cniVersion} while the primary network ${primary.file} has cniVersion ${version}`,
      'multus must speak the primary\'s version; drop --cni-version or make them equal');
  }
  const plugin: Record<string, unknown> = { type: 'multus' };
  const caps = capabilities(primary.net);
  if (caps) plugin.capabilities = caps;
  if (kubeconfigPath !== '') plugin.kubeconfig = kubeconfigPath;
  if (o.binDir !== '') plugin.binDir = o.binDir;
  else if (binDir !== DEFAULT_BIN_DIR) plugin.binDir = binDir;
  if (o.confDir !== '') plugin.confDir = o.confDir;
  if (o.multusNamespace !== '') plugin.multusNamespace = o.multusNamespace;
  if (o.namespaceIsolation) plugin.namespaceIsolation = true;
  if (o.globalNamespaces !== '') plugin.globalNamespaces = o.globalNamespaces;
  if (o.readinessIndicatorFile !== '') plugin.readinessindicatorfile = o.readinessIndicatorFile;
  if (o.logLevel !== '') plugin.logLevel = o.logLevel;
  if (o.logFile !== '') plugin.logFile = o.logFile;
  if (o.builtinPlugins.length > 0) plugin.builtinPlugins = o.builtinPlugins;
  if (!o.logToStderr) plugin.logToStderr = false;
  plugin.delegates = [o.forceCniVersion ? { ...primary.raw, cniVersion: version } : primary.raw];
  const name = o.overrideNetworkName && typeof primary.raw.name === 'string' ? primary.raw.name : NETWORK_NAME;
  const head = { cniVersion: version, name };
  if (versionAtLeast(version, '1.0.0')) {
    return { fileName: MULTUS_CONFLIST, content: `${JSON.stringify({ ...head, plugins: [plugin] }, null, 2)}\n` };
  }
  return { fileName: MULTUS_CONF, content: `${JSON.stringify({ ...head, ...plugin }, null, 2)}\n` };
}

/** What one pass leaves to the next within a run. */
export interface ConfigState {
  /** The primary's file name, once --rename-conf-file renamed it. */
  renamedPrimary?: string;
}

export interface ConfigSync {
  primary: Primary;
  /** Things an operator should fix; the same ones come back on every call while they last. */
  warnings: string[];
}

/**
 * Writes 00-multus.conf or .conflist for the current primary and removes the other one (".conf" sorts before
 * ".conflist", so a stale .conf would win). Throws when there is no usable primary, leaving what is there.
 */
export function syncMultusConfig(o: InstallOptions, files: HostFiles, state: ConfigState = {}): ConfigSync {
  const confDir = onHost(o, o.cniConfDir);
  const warnings: string[] = [];
  if (o.config.confDir !== '') files.mkdir(onHost(o, o.config.confDir));
  const primary = findPrimary(onHost(o, o.autoconfigDir), o.config.primaryConfig || state.renamedPrimary || '', warnings);
  const generated = generateConfig(primary, o.config, o.kubeconfigPath, o.cniBinDir);
  files.writeFile(join(confDir, generated.fileName), generated.content, { mode: 0o644, dirMode: 0o755 });
  files.remove(join(confDir, generated.fileName === MULTUS_CONF ? MULTUS_CONFLIST : MULTUS_CONF));
  // Multus's --rename-conf-file: the runtime can then only find multus's configuration.
  if (o.config.renamePrimary) {
    files.rename(primary.file, `${primary.file}.old`);
    // From now on only that file is the primary, as with Multus: until its plugin writes it again, the next file in
    // the directory (a loopback, another network) must not become the cluster network.
    state.renamedPrimary = basename(primary.file);
  }
  const before = configFileNames(confDir).filter((f) => f < generated.fileName && !f.startsWith(OWN_PREFIX));
  if (before.length > 0) {
    warnings.push(`${before.join(', ')} ${before.length > 1 ? 'sort' : 'sorts'} before ${generated.fileName} in ${confDir}: `
      + 'the runtime uses the alphabetically first configuration, so multus is not used until that is renamed');
  }
  return { primary, warnings };
}

/** Multus's --multus-conf-file=<file>: that file goes into the conf dir under its own name, as it is. */
export function copyMultusConfig(o: InstallOptions, files: HostFiles): string {
  let content: string;
  try {
    content = readFileSync(o.multusConfFile, 'utf8');
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `--multus-conf-file: cannot read ${o.multusConfFile}: ${(e as Error).message}`);
  }
  const target = join(onHost(o, o.cniConfDir), basename(o.multusConfFile));
  files.writeFile(target, content, { mode: 0o644, dirMode: 0o755 });
  return target;
}

/** Removes the configuration the installer wrote: 00-multus.conf/.conflist, or the --multus-conf-file copy. */
export function removeMultusConfig(o: InstallOptions, files: HostFiles): void {
  const confDir = onHost(o, o.cniConfDir);
  if (o.multusConfFile !== '') {
    files.remove(join(confDir, basename(o.multusConfFile)));
    return;
  }
  files.remove(join(confDir, MULTUS_CONF));
  files.remove(join(confDir, MULTUS_CONFLIST));
}
