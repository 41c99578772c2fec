import { constants } from 'node:fs';
import { join } from 'node:path';
import { childPath } from '../util/child-path';
import { writeFileAtomic, removeFile } from '../util/atomic-file';
import type { ArgPairs } from '../cni/cni-args';
import { configBase64, type NetworkConfig } from './network-config';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';
import { nativeHelper } from '../netlink/native';

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

// The results directory of the cache directories of this process (one in practice), normalised once.
const resultsDirs = new Map<string, string>();

export function resultCachePath(cacheDir: string, key: AttachmentKey): string {
  let dir = resultsDirs.get(cacheDir);
  if (dir === undefined) resultsDirs.set(cacheDir, dir = join(cacheDir, 'results'));
  return childPath(dir, `${key.networkName}-${key.containerId}-${key.ifName}`);
}

const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Writes the file of a new attachment in place: created exclusively (so nothing planted at the name is followed or
 * overwritten), written, closed; the temporary file and rename of the atomic path cost a file creation more, and
 * file creations are what an attachment's cache costs. Through the native helper's calls, which multus has loaded
 * already (Node's openSync, writeSync and closeSync checked their arguments and converted the text in JavaScript:
 * about 0.02 ms of every attachment). False when the name is taken or the directory is missing.
 */
function createFile(path: string, data: string): boolean {
  const { fsOpen, fsWrite, fsClose, fsErrorText } = nativeHelper();
  const fd = fsOpen(path, CREATE_NEW, 0o600, false);
  if (fd < 0) return false;
  const written = fsWrite(fd, data, -1);
  fsClose(fd);
  if (written < 0) {
    removeFile(path);
    throw new Error(`write ${path}: ${fsErrorText(written)}`);
  }
  return true;
}

export function writeCachedResult(cacheDir: string, net: NetworkConfig, entry: Omit<CachedAttachment, 'networkName' | 'config'>): void {
  const record = {
    kind: 'cniCacheV1',
    containerId: entry.containerId,
    config: configBase64(net),
    ifName: entry.ifName,
    networkName: net.name,
    netns: entry.netns,
    cniArgs: entry.cniArgs,
    capabilityArgs: entry.capabilityArgs,
    result: entry.result,
  };
  const path = resultCachePath(cacheDir, { networkName: net.name, ...entry });
  const data = JSON.stringify(record);
  // Neither fsynced nor atomic for a new file: a result lost or torn in a crash only costs DEL its prevResult, which
  // every plugin must tolerate (an unparsable file reads as no result). A file already there (a repeated ADD, the
  // default-route rewrite) is replaced atomically, a missing directory made on that path.
  if (!createFile(path, data)) writeFileAtomic(path, data, { durable: false });
}

/** What an attachment's cache file says: whether there is one at all, and its result when it can be read. */
export interface CachedResult {
  /** A file is there (ADD completed for the attachment), whatever it holds. */
  present: boolean;
  result?: Record<string, unknown>;
}

/**
 * The cached result of an attachment, read once. An unreadable or unparsable file is present without a result
 * (libcni then goes on without a prevResult). A file that is not a cniCacheV1 record is a legacy bare result.
 */
export function loadCachedResult(cacheDir: string, key: AttachmentKey): CachedResult {
  let parsed: unknown;
  try {
    parsed = parseJson(readRegularFile(resultCachePath(cacheDir, key)).toString('utf8'));
  } catch (e) {
    return { present: !['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '') };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { present: true };
  const rec = parsed as Record<string, unknown>;
  if (rec.kind !== 'cniCacheV1') return { present: true, result: rec };
  const result = rec.result;
  return { present: true, result: result !== null && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, unknown>) : undefined };
}

export function removeCachedResult(cacheDir: string, key: AttachmentKey): void {
  removeFile(resultCachePath(cacheDir, key));
}
