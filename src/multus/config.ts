import { CniError, ErrorCode } from '../cni/errors';
import { parseResult } from '../cni/result';
import type { CniVersion } from '../cni/version';
import { parseNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import type { LogOptions } from '../log/logger';
import { DEFAULT_DEVICE_INFO_DIR } from '../k8s/device-info';
import { DEFAULT_KUBELET_CHECKPOINT, DEFAULT_KUBELET_SOCKET } from '../kubelet/pod-devices';
import { ConfigReader } from '../cni/config-reader';

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
  if (typeof v !== 'number' || !(v > 0)) throw r.invalid(key, 'a positive number', v);
  return v * 1000;
}

function builtinPlugins(r: ConfigReader): BuiltinPluginChoice[] {
  const names = r.strings('builtinPlugins') ?? [];
  for (const n of names) {
    if (!(BUILTIN_PLUGIN_CHOICES as readonly string[]).includes(n)) throw r.invalid('builtinPlugins', `a list of ${BUILTIN_PLUGIN_CHOICES.join(', ')}`, names);
  }
  return names as BuiltinPluginChoice[];
}

// A network name that is also a plain directory name (libcni's rule for sub-directory chains).
const CHAIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function auxiliaryChainName(r: ConfigReader): string {
  const name = r.string('auxiliaryCNIChainName');
  if (name !== '' && !CHAIN_NAME.test(name)) {
    throw r.invalid('auxiliaryCNIChainName', 'a network name: letters, digits, "_", "." and "-", starting with a letter or digit', name);
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

function delegates(r: ConfigReader, cniVersion: string): NetworkConfig[] {
  const raw = r.raw('delegates');
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw r.invalid('delegates', 'a list of CNI configurations', raw);
  return raw.map((d, i) => parseNetworkConfig(d, `delegates[${i}]`, cniVersion));
}

/** Parses stdin's configuration (already known to be a JSON object with a valid name and version). */
export function parseMultusConfig(raw: Record<string, unknown>, cniVersion: CniVersion): MultusConfig {
  const r = new ConfigReader(raw, CONTEXT);
  const prevResult = r.raw('prevResult');
  if (prevResult !== undefined) {
    // Multus inside a chain: an unreadable prevResult means the chain is broken, so say so now.
    try {
      parseResult(prevResult, cniVersion);
    } catch (e) {
      throw new CniError(ErrorCode.DecodingFailure, `multus configuration: could not parse "prevResult": ${(e as Error).message}`);
    }
  }
  const conf: MultusConfig = {
    name: r.string('name'),
    cniVersion,
    confDir: r.string('confDir', '/etc/cni/multus/net.d'),
    cniDir: r.string('cniDir', '/var/lib/cni/multus'),
    binDir: r.string('binDir', '/opt/cni/bin'),
    kubeconfig: r.string('kubeconfig'),
    delegates: delegates(r, cniVersion),
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
  if (conf.cniDir === '') throw r.invalid('cniDir', 'a directory path', conf.cniDir);
  if (conf.clusterNetwork === '' && conf.delegates.length === 0) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'multus configuration: at least one delegate/clusterNetwork must be specified',
      'add a "delegates" list whose first element is the primary network, or set "clusterNetwork"');
  }
  return conf;
}
