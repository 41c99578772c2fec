import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, removeFile } from '../util/atomic-file';
import type { ArgPairs } from '../cni/cni-args';
import type { NetworkConfig } from './network-config';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';

/** Which attachment a cache entry belongs to; libcni names the file after these three. */
export interface AttachmentKey {
  networkName: string;
  containerId: string;
  ifName: string;
}

/** libcni's `cniCacheV1` record, so that Go Multus and we can read each other's results after a switch. */
export interface CachedAttachment extends AttachmentKey {
  netns: string;
  cniArgs: ArgPairs;
  capabilityArgs: Record<string, unknown>;
  config: Buffer;
  result: Record<string, unknown>;
}

export function resultCachePath(cacheDir: string, key: AttachmentKey): string {
  return join(cacheDir, 'results', `${key.networkName}-${key.containerId}-${key.ifName}`);
}

export function writeCachedResult(cacheDir: string, net: NetworkConfig, entry: Omit<CachedAttachment, 'networkName' | 'config'>): void {
  const record = {
    kind: 'cniCacheV1',
    containerId: entry.containerId,
    config: net.bytes.toString('base64'),
    ifName: entry.ifName,
    networkName: net.name,
    netns: entry.netns,
    cniArgs: entry.cniArgs,
    capabilityArgs: entry.capabilityArgs,
    result: entry.result,
  };
  // Not fsynced: a result lost in a crash only costs DEL its prevResult, which every plugin must tolerate.
  writeFileAtomic(resultCachePath(cacheDir, { networkName: net.name, ...entry }), JSON.stringify(record), { durable: false });
}

/**
 * The cached result of an attachment, or undefined when there is none or it cannot be read (libcni then goes on
 * without a prevResult). A file that is not a cniCacheV1 record is a legacy bare result.
 */
export function readCachedResult(cacheDir: string, key: AttachmentKey): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = parseJson(readRegularFile(resultCachePath(cacheDir, key)).toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const rec = parsed as Record<string, unknown>;
  if (rec.kind !== 'cniCacheV1') return rec;
  const result = rec.result;
  return result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : undefined;
}

export function removeCachedResult(cacheDir: string, key: AttachmentKey): void {
  removeFile(resultCachePath(cacheDir, key));
}

/** Whether ADD completed for this attachment (the cache is written after the last plugin succeeded). */
export function hasCachedResult(cacheDir: string, key: AttachmentKey): boolean {
  return existsSync(resultCachePath(cacheDir, key));
}
