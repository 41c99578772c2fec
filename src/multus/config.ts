import { CniError, ErrorCode } from '../cni/errors';
import { parseResult } from '../cni/result';
import type { CniVersion } from '../cni/version';
import { checkNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import type { LogOptions } from '../log/logger';
import { DEFAULT_DEVICE_INFO_DIR } from '../k8s/device-info';
import { DEFAULT_KUBELET_CHECKPOINT, DEFAULT_KUBELET_SOCKET } from '../kubelet/pod-devices';
import { ConfigReader, Problems } from '../cni/config-reader';

/** The thin plugin's configuration (`00-multus.conf`), typed and with Multus's defaults applied. */
export interface MultusConfig {
  name: string;
  cniVersion: CniVersion;
  confDir: string;
  cniDir: string;
  binDir: string;
  kubeconfig: string;
  delegates: NetworkConfig[];
  clusterNetwork: string;
  defaultNetworks: string[];
  logFile: string;
  logLevel: string;
  logToStderr: boolean;
  logOptions: LogOptions;
  runtimeConfig: Record<string, unknown>;
  readinessIndicatorFile: string;
  readinessTimeoutMs: number;
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  systemNamespaces: string[];
  multusNamespace: string;
  retryDeleteOnError: boolean;
  delegateTimeoutMs: number;
  /** The kubelet's PodResources socket, asked for the devices of NADs that name a resource. */
  kubeletSocket: string;
  /** The device manager's checkpoint, read instead when that socket does not exist. */
  kubeletCheckpointFile: string;
  /** Base directory of device-info files (`dp/` from device plugins, `cni/` for attachments). */
  deviceInfoDir: string;
  /** Delegate types run in-process by our built-ins whatever binDir holds (with host-local: their IPAM too). */
  builtinPlugins: BuiltinPluginChoice[];
  /** Post Kubernetes events about the pod, as Multus does (`"events": false` turns them off). */
  events: boolean;
  /** Name of the auxiliary chain read from `<dir of clusterNetwork>/<name>/*.conf`; '' for none. */
  auxiliaryCNIChainName: string;
}

/** What `builtinPlugins` may name: the plugins this executable implements besides multus. */
export const BUILTIN_PLUGIN_CHOICES = ['macvlan', 'ipvlan', 'host-local'] as const;
export type BuiltinPluginChoice = (typeof BUILTIN_PLUGIN_CHOICES)[number];

// Canonical spellings of the keys we read.
export const MULTUS_KEYS = [
  'name', 'cniVersion', 'confDir', 'cniDir', 'binDir', 'kubeconfig', 'delegates', 'clusterNetwork', 'defaultNetworks',
  'logFile', 'logLevel', 'logToStderr', 'logOptions', 'runtimeConfig', 'prevResult', 'readinessindicatorfile',
  'namespaceIsolation', 'globalNamespaces', 'systemNamespaces', 'multusNamespace', 'retryDeleteOnError',
  'delegateTimeoutSeconds', 'readinessTimeoutSeconds', 'kubeletSocket', 'kubeletCheckpointFile', 'deviceInfoDir',
  'builtinPlugins', 'events', 'auxiliaryCNIChainName',
] as const;
const CONTEXT = 'multus configuration';

/** A duration in seconds (fractions allowed), as milliseconds. */
function positiveSeconds(r: ConfigReader, key: string, dflt: number): number {
  const v = r.raw(key) ?? dflt;
  if (typeof v === 'number' && v > 0) return v * 1000;
  r.fail(key, 'a positive number', v);
  return dflt * 1000;
}

function builtinPlugins(r: ConfigReader): BuiltinPluginChoice[] {
  const names = r.strings('builtinPlugins') ?? [];
  if (names.some((n) => !(BUILTIN_PLUGIN_CHOICES as readonly string[]).includes(n))) {
    r.fail('builtinPlugins', `a list of ${BUILTIN_PLUGIN_CHOICES.join(', ')}`, names);
    return [];
  }
  return names as BuiltinPluginChoice[];
}

// A network name that is also a plain directory name (libcni's rule for sub-directory chains).
const CHAIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function auxiliaryChainName(r: ConfigReader): string {
  const name = r.string('auxiliaryCNIChainName');
  if (name !== '' && !CHAIN_NAME.test(name)) {
    r.fail('auxiliaryCNIChainName', 'a network name: letters, digits, "_", "." and "-", starting with a letter or digit', name);
    return '';
  }
  return name;
}

function logOptions(r: ConfigReader): LogOptions {
  const out: LogOptions = {};
  for (const k of ['maxAge', 'maxSize', 'maxBackups'] as const) {
    if (r.raw(k) !== undefined) out[k] = r.number(k, 0);
  }
  if (r.raw('compress') !== undefined) out.compress = r.bool('compress');
  return out;
}

/** The static delegates, each checked with its problems under `delegates[i].`; the ones without problems. */
function delegates(r: ConfigReader, cniVersion: string, problems: Problems): NetworkConfig[] {
  const raw = r.raw('delegates');
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    r.fail('delegates', 'a list of CNI configurations', raw);
    return [];
  }
  const out: NetworkConfig[] = [];
  raw.forEach((d, i) => {
    const own = new Problems();
    const net = checkNetworkConfig(d, `delegates[${i}]`, cniVersion, own);
    for (const p of own.list) problems.add({ ...p, where: `delegates[${i}]${p.where === '' || p.where.startsWith('[') ? '' : '.'}${p.where}` });
    if (net) out.push(net);
  });
  return out;
}

function prevResult(r: ConfigReader, cniVersion: CniVersion, problems: Problems): void {
  const raw = r.raw('prevResult');
  if (raw === undefined) return;
  // Multus inside a chain: an unreadable prevResult means the chain is broken, so say so now.
  try {
    parseResult(raw, cniVersion);
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    problems.add({
      where: 'prevResult', problem: `is not a CNI ${cniVersion} result: ${e.message}`, fix: 'pass the previous plugin\'s result unchanged',
      error: new CniError(ErrorCode.DecodingFailure, `multus configuration: could not parse "prevResult": ${e.message}`),
    });
  }
}

/**
 * Checks stdin's configuration (already known to be a JSON object with a valid name and version), collecting every
 * problem into `problems`; the configuration with Multus's defaults in place of what was refused.
 */
export function checkMultusConfig(raw: Record<string, unknown>, cniVersion: CniVersion, problems: Problems): MultusConfig {
  const r = new ConfigReader(raw, CONTEXT, '', problems);
  prevResult(r, cniVersion, problems);
  const conf: MultusConfig = {
    name: r.string('name'),
    cniVersion,
    confDir: r.string('confDir', '/etc/cni/multus/net.d'),
    cniDir: r.string('cniDir', '/var/lib/cni/multus'),
    binDir: r.string('binDir', '/opt/cni/bin'),
    kubeconfig: r.string('kubeconfig'),
    delegates: delegates(r, cniVersion, problems),
    clusterNetwork: r.string('clusterNetwork'),
    defaultNetworks: r.strings('defaultNetworks') ?? [],
    logFile: r.string('logFile'),
    logLevel: r.string('logLevel'),
    logToStderr: r.bool('logToStderr', true),
    logOptions: logOptions(r.object('logOptions')),
    runtimeConfig: r.object('runtimeConfig').value,
    readinessIndicatorFile: r.string('readinessindicatorfile'),
    readinessTimeoutMs: positiveSeconds(r, 'readinessTimeoutSeconds', 45),
    namespaceIsolation: r.bool('namespaceIsolation'),
    globalNamespaces: (r.string('globalNamespaces') || 'default').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    systemNamespaces: r.strings('systemNamespaces') ?? ['kube-system'],
    multusNamespace: r.string('multusNamespace', 'kube-system'),
    retryDeleteOnError: r.bool('retryDeleteOnError'),
    delegateTimeoutMs: positiveSeconds(r, 'delegateTimeoutSeconds', 60),
    kubeletSocket: r.string('kubeletSocket') || DEFAULT_KUBELET_SOCKET,
    kubeletCheckpointFile: r.string('kubeletCheckpointFile') || DEFAULT_KUBELET_CHECKPOINT,
    deviceInfoDir: r.string('deviceInfoDir') || DEFAULT_DEVICE_INFO_DIR,
    builtinPlugins: builtinPlugins(r),
    events: r.bool('events', true),
    auxiliaryCNIChainName: auxiliaryChainName(r),
  };
  if (conf.cniDir === '') r.fail('cniDir', 'a directory path', conf.cniDir);
  const rawDelegates = r.raw('delegates');
  const hasDelegates = Array.isArray(rawDelegates) ? rawDelegates.length > 0 : rawDelegates !== undefined;
  if (conf.clusterNetwork === '' && !hasDelegates && typeof (r.raw('clusterNetwork') ?? '') === 'string') {
    problems.add({
      where: '', problem: 'at least one delegate/clusterNetwork must be specified',
      fix: 'add a "delegates" list whose first element is the primary network, or set "clusterNetwork"',
      error: new CniError(ErrorCode.InvalidNetworkConfig, 'multus configuration: at least one delegate/clusterNetwork must be specified',
        'add a "delegates" list whose first element is the primary network, or set "clusterNetwork"'),
    });
  }
  return conf;
}

/** The runtime's parse of stdin's configuration: the first problem, if any, as a CniError. */
export function parseMultusConfig(raw: Record<string, unknown>, cniVersion: CniVersion): MultusConfig {
  const problems = new Problems();
  const conf = checkMultusConfig(raw, cniVersion, problems);
  problems.throwFirst();
  return conf;
}
