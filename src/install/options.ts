import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { isSupportedVersion, SUPPORTED_VERSIONS } from '../cni/version';
import { validatePluginType } from '../delegation/plugin-path';
import { isBuiltinPlugin } from '../builtins';
import { LOG_LEVELS } from '../log/logger';

/*
 * The installer's settings, checked once. Paths are host paths (what the runtime and the plugin see on the node);
 * the installer itself reaches them under `hostPrefix`, where the DaemonSet mounts the host's directories.
 */


export interface ConfigOptions {
  /** File name of the primary configuration in the autoconfig dir; empty picks the alphabetically first. */
  primaryConfig: string;
  /** When set, the primary's cniVersion must be this one (Multus's --cni-version check). */
  cniVersion: string;
  /** Multus's --force-cni-version: the primary's cniVersion is replaced by cniVersion instead of checked. */
  forceCniVersion: boolean;
  /** Multus's --override-network-name: the multus network takes the primary's name. */
  overrideNetworkName: boolean;
  /** Multus's --rename-conf-file: the primary's file is renamed to <file>.old once 00-multus is written. */
  renamePrimary: boolean;
  namespaceIsolation: boolean;
  globalNamespaces: string;
  multusNamespace: string;
  readinessIndicatorFile: string;
  logLevel: string;
  logFile: string;
  /** Written as `builtinPlugins`: delegate types multus runs in-process, whatever the bin dir holds. */
  builtinPlugins: string[];
  /** false writes "logToStderr": false (Multus's --multus-log-to-stderr=false). */
  logToStderr: boolean;
  /** "binDir" to write (Multus's --additional-bin-dir); empty derives it from the bin dir. */
  binDir: string;
  /** "confDir" to write (Multus's --multus-cni-conf-dir, host path); empty writes none. */
  confDir: string;
}

export interface InstallOptions {
  hostPrefix: string;
  cniBinDir: string;
  cniConfDir: string;
  /** Where the primary network's configuration is looked for (Multus's --multus-autoconfig-dir); host path. */
  autoconfigDir: string;
  installDir: string;
  /** Host path of the plugin's kubeconfig; empty when no kubeconfig is written. */
  kubeconfigPath: string;
  /** Where this process reads its own service-account token (a container path, not under hostPrefix). */
  serviceAccountDir: string;
  /** API server URL written into the kubeconfig; empty derives it from KUBERNETES_SERVICE_HOST/PORT. */
  apiServer: string;
  /** The kubeconfig says insecure-skip-tls-verify instead of carrying the CA (Multus's --skip-tls-verify). */
  skipTlsVerify: boolean;
  installApp: boolean;
  /** Plugin names linked to multus in the bin dir. */
  linkBuiltinPlugins: string[];
  /** The application to install (from --multus-bin-file); undefined installs the running one. */
  appRoot: string | undefined;
  /** Install the executable only: no kubeconfig, no configuration (what Multus's install_multus does). */
  appOnly: boolean;
  /** A configuration file to copy into the conf dir as it is (Multus's --multus-conf-file=<path>); empty generates one. */
  multusConfFile: string;
  force: boolean;
  config: ConfigOptions;
  watch: boolean;
  /** Keep running until SIGTERM even without --watch (Multus's thin_entrypoint always does). */
  stayRunning: boolean;
  intervalMs: number;
  /** How long before the token's `exp` the watch loop makes sure it has looked at the token again. */
  tokenMarginMs: number;
  /** Retired application versions are removed this long after they stopped being linked (a running ADD may use them). */
  pruneAfterMs: number;
  /** On SIGTERM, remove everything the installer put on the host (`multus uninstall`). */
  cleanupOnExit: boolean;
  dryRun: boolean;
}

/** Flags as commander hands them over: absent when not given and without a default. */
export interface RawInstallFlags {
  hostPrefix?: string;
  cniBinDir: string;
  cniConfDir: string;
  installDir?: string;
  kubeconfigPath: string;
  kubeconfig: boolean;
  serviceAccountDir: string;
  apiServer?: string;
  skipAppInstall?: boolean;
  appOnly?: boolean;
  builtinPlugins?: string;
  linkBuiltinPlugins?: string;
  force?: boolean;
  primaryConfig?: string;
  cniVersion?: string;
  namespaceIsolation?: boolean;
  globalNamespaces?: string;
  multusNamespace?: string;
  readinessIndicatorFile?: string;
  logLevel?: string;
  logFile?: string;
  watch?: boolean;
  interval: string;
  tokenMargin: string;
  pruneAfter: string;
  cleanupOnExit?: boolean;
  dryRun?: boolean;
  // Go Multus's thin_entrypoint flags, under their own names.
  multusConfFile?: string;
  multusAutoconfigDir?: string;
  multusBinFile?: string;
  skipMultusBinaryCopy?: boolean;
  multusKubeconfigFileHost?: string;
  multusMasterCniFileName?: string;
  multusCniConfDir?: string;
  multusLogToStderr?: boolean;
  multusLogLevel?: string;
  multusLogFile?: string;
  overrideNetworkName?: boolean;
  cleanupConfigOnExit?: boolean;
  renameConfFile?: boolean;
  additionalBinDir?: string;
  skipConfigWatch?: boolean;
  skipTlsVerify?: boolean;
  forceCniVersion?: boolean;
  stayRunning?: boolean;
}

/** Where every Multus DaemonSet mounts the host's directories; its flags name paths under it. */
export const MULTUS_HOST_MOUNT = '/host';

function bad(flag: string, msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `--${flag}: ${msg}`);
}

function absolute(flag: string, value: string): string {
  if (!isAbsolute(value)) throw bad(flag, `must be an absolute path, got ${JSON.stringify(value)}`);
  return value;
}

function seconds(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw bad(flag, `must be a number of seconds of at least ${min}, got ${JSON.stringify(value)}`);
  return n * 1000;
}

function apiServerUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'https:' || url.protocol === 'http:') return value.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  throw bad('api-server', `must be an http(s) URL such as https://10.96.0.1:443, got ${JSON.stringify(value)}`);
}

/** A comma-separated list of plugins built into this executable (never multus itself, which is always installed). */
function pluginNames(flag: string, value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const name of names) validatePluginType(name, `--${flag}`);
  if (names.includes('multus')) throw bad(flag, '"multus" is always installed; list only the other plugin names');
  // Under a name it does not know, the executable would act as multus: a runtime asking for that plugin must not get it.
  const unknown = names.filter((name) => !isBuiltinPlugin(name));
  if (unknown.length > 0) throw bad(flag, `${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not built into this multus-ts`);
  return names;
}

/**
 * The directory under which this process reaches the host: --host-prefix, or /host when a directory flag names a
 * path under /host as Multus's flags do (--cni-conf-dir=/host/etc/cni/net.d), so Multus's arguments work unchanged.
 */
function hostPrefixOf(raw: RawInstallFlags): string {
  if (raw.hostPrefix !== undefined && raw.hostPrefix !== '') return absolute('host-prefix', raw.hostPrefix);
  const dirs = [raw.cniBinDir, raw.cniConfDir, raw.multusAutoconfigDir, raw.installDir, raw.multusCniConfDir];
  return dirs.some((d) => d !== undefined && (d === MULTUS_HOST_MOUNT || d.startsWith(`${MULTUS_HOST_MOUNT}/`))) ? MULTUS_HOST_MOUNT : '';
}

/** A directory flag's host path: a path under the host prefix is the container's view of that host path. */
function hostDir(flag: string, value: string, prefix: string): string {
  absolute(flag, value);
  if (prefix === '' || !(value === prefix || value.startsWith(`${prefix}/`))) return value;
  return value.slice(prefix.length) || '/';
}

export function parseInstallFlags(raw: RawInstallFlags): InstallOptions {
  const hostPrefix = hostPrefixOf(raw);
  // Where a flag exists under Multus's name and ours, either works; Multus's wins when both are given.
  const f = {
    ...raw,
    builtinPlugins: raw.builtinPlugins ?? '',
    linkBuiltinPlugins: raw.linkBuiltinPlugins ?? '',
    primaryConfig: raw.multusMasterCniFileName ?? raw.primaryConfig ?? '',
    cniVersion: raw.cniVersion ?? '',
    globalNamespaces: raw.globalNamespaces ?? '',
    multusNamespace: raw.multusNamespace ?? '',
    readinessIndicatorFile: raw.readinessIndicatorFile ?? '',
    // Multus lower-cases the level.
    logLevel: (raw.multusLogLevel ?? raw.logLevel ?? '').toLowerCase(),
    logFile: raw.multusLogFile ?? raw.logFile ?? '',
    kubeconfigPath: raw.multusKubeconfigFileHost ?? raw.kubeconfigPath,
    multusConfFile: raw.multusConfFile ?? 'auto',
  };
  if (f.primaryConfig.includes('/')) {
    throw bad('primary-config', `give the file name inside --cni-conf-dir, not a path: ${JSON.stringify(f.primaryConfig)}`);
  }
  if (f.cniVersion !== '' && !isSupportedVersion(f.cniVersion)) {
    throw bad('cni-version', `${JSON.stringify(f.cniVersion)} is not a CNI version multus supports (${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (raw.forceCniVersion && f.cniVersion === '') throw bad('force-cni-version', 'needs --cni-version, the version to force');
  if (f.logLevel !== '' && !(LOG_LEVELS as readonly string[]).includes(f.logLevel)) {
    throw bad('log-level', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(f.logLevel)}`);
  }
  if (f.logFile !== '') absolute('log-file', f.logFile);
  if (f.readinessIndicatorFile !== '') absolute('readiness-indicator-file', f.readinessIndicatorFile);
  const builtinPlugins = pluginNames('builtin-plugins', f.builtinPlugins);
  const linkBuiltinPlugins = pluginNames('link-builtin-plugins', f.linkBuiltinPlugins);
  if (raw.additionalBinDir !== undefined && raw.additionalBinDir !== '') absolute('additional-bin-dir', raw.additionalBinDir);
  if (f.multusConfFile !== 'auto') absolute('multus-conf-file', f.multusConfFile);
  const cniBinDir = hostDir('cni-bin-dir', f.cniBinDir, hostPrefix);
  const cniConfDir = hostDir('cni-conf-dir', f.cniConfDir, hostPrefix);
  const cleanupOnExit = f.cleanupOnExit === true || f.cleanupConfigOnExit === true;
  return {
    hostPrefix,
    cniBinDir,
    cniConfDir,
    autoconfigDir: f.multusAutoconfigDir !== undefined ? hostDir('multus-autoconfig-dir', f.multusAutoconfigDir, hostPrefix) : cniConfDir,
    // Inside the bin dir by default: the one host directory every CNI DaemonSet (Multus's included) mounts.
    installDir: f.installDir !== undefined ? hostDir('install-dir', f.installDir, hostPrefix) : join(cniBinDir, '.multus-ts'),
    kubeconfigPath: f.kubeconfig && !f.appOnly ? absolute('kubeconfig-path', f.kubeconfigPath) : '',
    serviceAccountDir: f.serviceAccountDir,
    apiServer: f.apiServer ? apiServerUrl(f.apiServer) : '',
    skipTlsVerify: f.skipTlsVerify === true,
    installApp: f.skipAppInstall !== true && f.skipMultusBinaryCopy !== true,
    appRoot: f.multusBinFile !== undefined ? appRootOf(f.multusBinFile) : undefined,
    appOnly: f.appOnly === true,
    multusConfFile: f.multusConfFile === 'auto' ? '' : f.multusConfFile,
    linkBuiltinPlugins,
    force: f.force === true,
    config: {
      primaryConfig: f.primaryConfig,
      cniVersion: f.cniVersion,
      forceCniVersion: f.forceCniVersion === true,
      overrideNetworkName: f.overrideNetworkName === true,
      renamePrimary: f.renameConfFile === true,
      namespaceIsolation: f.namespaceIsolation === true,
      globalNamespaces: f.globalNamespaces,
      multusNamespace: f.multusNamespace,
      readinessIndicatorFile: f.readinessIndicatorFile,
      logLevel: f.logLevel,
      logFile: f.logFile,
      builtinPlugins,
      logToStderr: f.multusLogToStderr !== false,
      binDir: f.additionalBinDir ?? '',
      confDir: f.multusCniConfDir !== undefined ? hostDir('multus-cni-conf-dir', f.multusCniConfDir, hostPrefix) : '',
    },
    // --skip-config-watch is Multus's way to say: write once, then only wait for SIGTERM.
    watch: f.watch === true && f.skipConfigWatch !== true,
    stayRunning: f.stayRunning === true || (f.watch === true && f.skipConfigWatch === true),
    intervalMs: seconds('interval', f.interval, 1),
    tokenMarginMs: seconds('token-margin', f.tokenMargin, 0),
    pruneAfterMs: seconds('prune-after', f.pruneAfter, 0),
    cleanupOnExit,
    dryRun: f.dryRun === true,
  };
}

/**
 * The application a --multus-bin-file names: Multus's images keep the binary at /usr/src/multus-cni/bin/multus, ours
 * keep a link there to bin/multus of the application, which is installed as a whole.
 */
function appRootOf(file: string): string {
  absolute('multus-bin-file', file);
  let real: string;
  try {
    real = realpathSync(file);
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `--multus-bin-file: ${file} is not found: ${(e as Error).message}`);
  }
  const root = dirname(dirname(real));
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    name = undefined;
  }
  if (basename(real) !== 'multus' || name !== 'multus-ts') {
    throw bad('multus-bin-file', `${file} is not the bin/multus of a multus-ts application (to go back to Go Multus, run its own image)`);
  }
  return root;
}

/** Where the installer reaches a host path: under the DaemonSet's mount of the host, or the path itself on the host. */
export function onHost(o: Pick<InstallOptions, 'hostPrefix'>, hostPath: string): string {
  return o.hostPrefix === '' ? hostPath : join(o.hostPrefix, hostPath);
}
