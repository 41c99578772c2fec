import { CniError, ErrorCode } from '../cni/errors';
import { parseResult } from '../cni/result';
import type { CniVersion } from '../cni/version';
import { parseNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import type { LogOptions } from '../log/logger';
import { goField } from '../util/go-json';

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
}

// Canonical spellings of the keys we read.
export const MULTUS_KEYS = [
  'name', 'cniVersion', 'confDir', 'cniDir', 'binDir', 'kubeconfig', 'delegates', 'clusterNetwork', 'defaultNetworks',
  'logFile', 'logLevel', 'logToStderr', 'logOptions', 'runtimeConfig', 'prevResult', 'readinessindicatorfile',
  'namespaceIsolation', 'globalNamespaces', 'systemNamespaces', 'multusNamespace', 'retryDeleteOnError',
  'delegateTimeoutSeconds', 'readinessTimeoutSeconds',
] as const;
type Key = (typeof MULTUS_KEYS)[number];

/** Keeps the keys we know under their canonical name, found as Go's decoder finds them. */
function foldKeys(raw: Record<string, unknown>): Partial<Record<Key, unknown>> {
  const out: Partial<Record<Key, unknown>> = {};
  for (const k of MULTUS_KEYS) {
    const v = goField(raw, k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function invalid(key: string, expected: string, got: unknown): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `multus configuration: "${key}" must be ${expected}, got ${JSON.stringify(got)}`);
}

class Reader {
  constructor(private readonly conf: Partial<Record<Key, unknown>>) {}

  string(key: Key, dflt: string): string {
    const v = this.conf[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') throw invalid(key, 'a string', v);
    return v;
  }

  bool(key: Key, dflt: boolean): boolean {
    const v = this.conf[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw invalid(key, 'true or false', v);
    return v;
  }

  strings(key: Key, dflt: string[]): string[] {
    const v = this.conf[key];
    if (v === undefined || v === null) return dflt;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalid(key, 'a list of strings', v);
    return v as string[];
  }

  object(key: Key): Record<string, unknown> {
    const v = this.conf[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw invalid(key, 'a JSON object', v);
    return v as Record<string, unknown>;
  }

  positiveNumber(key: Key, dflt: number): number {
    const v = this.conf[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !(v > 0)) throw invalid(key, 'a positive number', v);
    return v;
  }
}

function logOptions(raw: Record<string, unknown>): LogOptions {
  const out: LogOptions = {};
  for (const k of ['maxAge', 'maxSize', 'maxBackups'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || v < 0) throw invalid(`logOptions.${k}`, 'a number of 0 or more', v);
    out[k] = v;
  }
  if (raw.compress !== undefined) {
    if (typeof raw.compress !== 'boolean') throw invalid('logOptions.compress', 'true or false', raw.compress);
    out.compress = raw.compress;
  }
  return out;
}

function delegates(raw: unknown, cniVersion: string): NetworkConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid('delegates', 'a list of CNI configurations', raw);
  return raw.map((d, i) => parseNetworkConfig(d, `delegates[${i}]`, cniVersion));
}

/** Parses stdin's configuration (already known to be a JSON object with a valid name and version). */
export function parseMultusConfig(raw: Record<string, unknown>, cniVersion: CniVersion): MultusConfig {
  const folded = foldKeys(raw);
  const r = new Reader(folded);
  if (folded.prevResult !== undefined && folded.prevResult !== null) {
    // Multus inside a chain: an unreadable prevResult means the chain is broken, so say so now.
    try {
      parseResult(folded.prevResult, cniVersion);
    } catch (e) {
      throw new CniError(ErrorCode.DecodingFailure, `multus configuration: could not parse "prevResult": ${(e as Error).message}`);
    }
  }
  const conf: MultusConfig = {
    name: folded.name as string,
    cniVersion,
    confDir: r.string('confDir', '/etc/cni/multus/net.d'),
    cniDir: r.string('cniDir', '/var/lib/cni/multus'),
    binDir: r.string('binDir', '/opt/cni/bin'),
    kubeconfig: r.string('kubeconfig', ''),
    delegates: delegates(folded.delegates, cniVersion),
    clusterNetwork: r.string('clusterNetwork', ''),
    defaultNetworks: r.strings('defaultNetworks', []),
    logFile: r.string('logFile', ''),
    logLevel: r.string('logLevel', ''),
    logToStderr: r.bool('logToStderr', true),
    logOptions: logOptions(r.object('logOptions')),
    runtimeConfig: r.object('runtimeConfig'),
    readinessIndicatorFile: r.string('readinessindicatorfile', ''),
    readinessTimeoutMs: r.positiveNumber('readinessTimeoutSeconds', 45) * 1000,
    namespaceIsolation: r.bool('namespaceIsolation', false),
    globalNamespaces: (r.string('globalNamespaces', '') || 'default').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    systemNamespaces: r.strings('systemNamespaces', ['kube-system']),
    multusNamespace: r.string('multusNamespace', 'kube-system'),
    retryDeleteOnError: r.bool('retryDeleteOnError', false),
    delegateTimeoutMs: r.positiveNumber('delegateTimeoutSeconds', 60) * 1000,
  };
  if (conf.cniDir === '') throw invalid('cniDir', 'a directory path', conf.cniDir);
  if (conf.clusterNetwork === '' && conf.delegates.length === 0) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'multus configuration: at least one delegate/clusterNetwork must be specified',
      'add a "delegates" list whose first element is the primary network, or set "clusterNetwork"');
  }
  return conf;
}
