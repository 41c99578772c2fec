import { CniError, ErrorCode } from '../cni/errors';
import { join } from 'node:path';
import { configBase64, parseNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import { writeFileAtomic, removeFile } from '../util/atomic-file';
import { goField } from '../cni/config-reader';
import { REQUESTS, requestGiven, type Delegate } from './delegate';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';

/*
 * `<cniDir>/<containerID>` holds the delegate list of an attached pod in Go Multus's own layout (a JSON array of
 * DelegateNetConf: `Conf`, `ConfList`, `Name`, the requests, and `Bytes`, the raw configuration in base64), so
 * that a node switching between the two implementations can still DEL the pods the other one attached.
 */

export function scratchCachePath(cniDir: string, containerId: string): string {
  return join(cniDir, containerId);
}

// Go's types.NetConf as Multus marshals it: the fields it knows, `ipam` and `dns` always present.
function goNetConf(p: Record<string, unknown>, net: NetworkConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: net.cniVersion, name: net.name };
  const type = goField(p, 'type');
  if (typeof type === 'string') out.type = type;
  const capabilities = goField(p, 'capabilities');
  if (capabilities && typeof capabilities === 'object') out.capabilities = capabilities;
  const ipam = goField(p, 'ipam');
  const ipamType = ipam && typeof ipam === 'object' ? goField(ipam as Record<string, unknown>, 'type') : undefined;
  out.ipam = typeof ipamType === 'string' ? { type: ipamType } : {};
  const dns = goField(p, 'dns');
  out.dns = dns && typeof dns === 'object' ? dns : {};
  return out;
}

function toGo(d: Delegate): Record<string, unknown> {
  const n = d.net;
  const out: Record<string, unknown> = {
    Conf: n.isList ? { ipam: {}, dns: {} } : goNetConf(n.plugins[0]!, n),
    ConfList: n.isList ? { cniVersion: n.cniVersion, name: n.name, plugins: n.plugins.map((p) => goNetConf(p, n)) } : {},
    Name: d.name,
  };
  for (const r of REQUESTS) {
    const v = d[r.field];
    if (r.cache !== undefined && requestGiven(r, v)) out[r.cache.key] = v;
    if (r.field === 'gatewayRequest') {
      // Go Multus's field order: the default-route filters come right after the default-route request.
      out.IsFilterV4Gateway = d.isFilterV4Gateway;
      out.IsFilterV6Gateway = d.isFilterV6Gateway;
    }
  }
  out.Bytes = configBase64(n);
  return out;
}

export function writeScratchCache(cniDir: string, containerId: string, delegates: Delegate[]): void {
  try {
    // Atomic (a reader never sees half a list) but not fsynced, as Go Multus writes it: a cache a node crash loses
    // or empties reads as none, and DEL then deletes the configured networks instead (del.ts), while an fsync
    // costs a disk flush on every pod's ADD (0.8 ms on an idle disk here, up to 17 ms on a busy one).
    writeFileAtomic(scratchCachePath(cniDir, containerId), JSON.stringify(delegates.map(toGo)), { durable: false });
  } catch (e) {
    // A directory that cannot be made (a missing or read-only parent, a file in the way, /proc) is the
    // configuration's fault; anything else (a full disk) is an I/O failure.
    const code = ['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '')
      ? ErrorCode.InvalidNetworkConfig : ErrorCode.IoFailure;
    throw new CniError(code, `multus configuration: "cniDir" ${cniDir}: cannot write the delegate cache: ${(e as Error).message}`,
      'set "cniDir" to a writable directory on a real file system (default /var/lib/cni/multus)');
  }
}

function optString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function optStrings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
}

function fromGo(raw: unknown, index: number, cniVersion: string): Delegate {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`entry ${index} is not an object`);
  const obj = raw as Record<string, unknown>;
  const b64 = goField(obj, 'Bytes');
  if (typeof b64 !== 'string' || b64 === '') throw new Error(`entry ${index} has no "Bytes"`);
  const bytes = Buffer.from(b64, 'base64');
  // A conflist cached without cniVersion gets the top-level one, keeping every plugin key (Multus PR #1521).
  const net = parseNetworkConfig(parseJson(bytes.toString('utf8')), `cached delegate ${index}`, cniVersion, bytes);
  const d: Delegate = {
    net,
    name: optString(goField(obj, 'Name')) ?? '',
    isFilterV4Gateway: goField(obj, 'IsFilterV4Gateway') === true,
    isFilterV6Gateway: goField(obj, 'IsFilterV6Gateway') === true,
  };
  const requests = d as unknown as Record<string, unknown>;
  for (const { field, cache } of REQUESTS) {
    if (cache === undefined) continue;
    const raw = goField(obj, cache.key);
    const v = cache.kind === 'string' ? optString(raw) : optStrings(raw);
    if (v !== undefined) requests[field] = v;
  }
  return d;
}

export type ScratchCacheRead =
  | { state: 'found'; delegates: Delegate[] }
  | { state: 'missing' }
  | { state: 'corrupt'; reason: string };

export function readScratchCache(cniDir: string, containerId: string, cniVersion: string): ScratchCacheRead {
  let text: string;
  try {
    text = readRegularFile(scratchCachePath(cniDir, containerId)).toString('utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'corrupt', reason: (e as Error).message };
  }
  try {
    const arr: unknown = parseJson(text);
    if (!Array.isArray(arr) || arr.length === 0) return { state: 'corrupt', reason: 'not a non-empty JSON array' };
    return { state: 'found', delegates: arr.map((x, i) => fromGo(x, i, cniVersion)) };
  } catch (e) {
    return { state: 'corrupt', reason: (e as Error).message };
  }
}

export function removeScratchCache(cniDir: string, containerId: string): void {
  removeFile(scratchCachePath(cniDir, containerId));
}
