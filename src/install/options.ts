import { isAbsolute, join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { isSupportedVersion, SUPPORTED_VERSIONS } from '../cni/version';
import { validatePluginType } from '../delegation/plugin-path';
import { isBuiltinPlugin } from '../builtins';

/*
 * The installer's settings, checked once. Paths are host paths (what the runtime and the plugin see on the node);
 * the installer itself reaches them under `hostPrefix`, where the DaemonSet mounts the host's directories.
 */

export const LOG_LEVELS = ['panic', 'error', 'verbose', 'debug'] as const;

export interface ConfigOptions {
  /** File name of the primary configuration in the conf dir; empty picks the alphabetically first. */
  primaryConfig: string;
  /** When set, the primary's cniVersion must be this one (Multus's --cni-version check). */
  cniVersion: string;
  namespaceIsolation: boolean;
  globalNamespaces: string;
  multusNamespace: string;
  readinessIndicatorFile: string;
  logLevel: string;
  logFile: string;
  /** Written as `builtinPlugins`: delegate types multus runs in-process, whatever the bin dir holds. */
  builtinPlugins: string[];
}

export interface InstallOptions {
  hostPrefix: string;
  cniBinDir: string;
  cniConfDir: string;
  installDir: string;
  /** Host path of the plugin's kubeconfig; empty when no kubeconfig is written. */
  kubeconfigPath: string;
  /** Where this process reads its own service-account token (a container path, not under hostPrefix). */
  serviceAccountDir: string;
  /** API server URL written into the kubeconfig; empty derives it from KUBERNETES_SERVICE_HOST/PORT. */
  apiServer: string;
  installApp: boolean;
  /** Plugin names linked to multus in the bin dir. */
  linkBuiltinPlugins: string[];
  force: boolean;
  config: ConfigOptions;
  watch: boolean;
  intervalMs: number;
  /** How long before the token's `exp` the watch loop makes sure it has looked at the token again. */
  tokenMarginMs: number;
  /** Retired application versions are removed this long after they stopped being linked (a running ADD may use them). */
  pruneAfterMs: number;
  cleanupOnExit: boolean;
  dryRun: boolean;
}

/** Flags as commander hands them over: absent when not given and without a default. */
export interface RawInstallFlags {
  hostPrefix?: string;
  cniBinDir: string;
  cniConfDir: string;
  installDir: string;
  kubeconfigPath: string;
  kubeconfig: boolean;
  serviceAccountDir: string;
  apiServer?: string;
  skipAppInstall?: boolean;
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
}

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

export function parseInstallFlags(raw: RawInstallFlags): InstallOptions {
  const f = {
    ...raw,
    hostPrefix: raw.hostPrefix ?? '',
    builtinPlugins: raw.builtinPlugins ?? '',
    linkBuiltinPlugins: raw.linkBuiltinPlugins ?? '',
    primaryConfig: raw.primaryConfig ?? '',
    cniVersion: raw.cniVersion ?? '',
    globalNamespaces: raw.globalNamespaces ?? '',
    multusNamespace: raw.multusNamespace ?? '',
    readinessIndicatorFile: raw.readinessIndicatorFile ?? '',
    logLevel: raw.logLevel ?? '',
    logFile: raw.logFile ?? '',
  };
  if (f.hostPrefix !== '') absolute('host-prefix', f.hostPrefix);
  if (f.primaryConfig.includes('/')) {
    throw bad('primary-config', `give the file name inside --cni-conf-dir, not a path: ${JSON.stringify(f.primaryConfig)}`);
  }
  if (f.cniVersion !== '' && !isSupportedVersion(f.cniVersion)) {
    throw bad('cni-version', `${JSON.stringify(f.cniVersion)} is not a CNI version multus supports (${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (f.logLevel !== '' && !(LOG_LEVELS as readonly string[]).includes(f.logLevel)) {
    throw bad('log-level', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(f.logLevel)}`);
  }
  if (f.logFile !== '') absolute('log-file', f.logFile);
  if (f.readinessIndicatorFile !== '') absolute('readiness-indicator-file', f.readinessIndicatorFile);
  const builtinPlugins = pluginNames('builtin-plugins', f.builtinPlugins);
  const linkBuiltinPlugins = pluginNames('link-builtin-plugins', f.linkBuiltinPlugins);
  return {
    hostPrefix: f.hostPrefix,
    cniBinDir: absolute('cni-bin-dir', f.cniBinDir),
    cniConfDir: absolute('cni-conf-dir', f.cniConfDir),
    installDir: absolute('install-dir', f.installDir),
    kubeconfigPath: f.kubeconfig ? absolute('kubeconfig-path', f.kubeconfigPath) : '',
    serviceAccountDir: f.serviceAccountDir,
    apiServer: f.apiServer ? apiServerUrl(f.apiServer) : '',
    installApp: f.skipAppInstall !== true,
    linkBuiltinPlugins,
    force: f.force === true,
    config: {
      primaryConfig: f.primaryConfig,
      cniVersion: f.cniVersion,
      namespaceIsolation: f.namespaceIsolation === true,
      globalNamespaces: f.globalNamespaces,
      multusNamespace: f.multusNamespace,
      readinessIndicatorFile: f.readinessIndicatorFile,
      logLevel: f.logLevel,
      logFile: f.logFile,
      builtinPlugins,
    },
    watch: f.watch === true,
    intervalMs: seconds('interval', f.interval, 1),
    tokenMarginMs: seconds('token-margin', f.tokenMargin, 0),
    pruneAfterMs: seconds('prune-after', f.pruneAfter, 0),
    cleanupOnExit: f.cleanupOnExit === true,
    dryRun: f.dryRun === true,
  };
}

/** Where the installer reaches a host path: under the DaemonSet's mount of the host, or the path itself on the host. */
export function onHost(o: Pick<InstallOptions, 'hostPrefix'>, hostPath: string): string {
  return o.hostPrefix === '' ? hostPath : join(o.hostPrefix, hostPath);
}
