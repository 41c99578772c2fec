import { lstatSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';
import { join } from 'node:path';
import { parseNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import { writeFileAtomic, removeFile } from '../util/atomic-file';
import { goField } from '../cni/config-reader';
import type { Delegate } from './delegate';
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
  if (d.ifnameRequest) out.ifnameRequest = d.ifnameRequest;
  if (d.macRequest) out.macRequest = d.macRequest;
  if (d.infinibandGUIDRequest) out.infinibandGUIDRequest = d.infinibandGUIDRequest;
  if (d.ipRequest?.length) out.ipRequest = d.ipRequest;
  if (d.gatewayRequest) out['default-route'] = d.gatewayRequest;
  out.IsFilterV4Gateway = d.isFilterV4Gateway;
  out.IsFilterV6Gateway = d.isFilterV6Gateway;
  if (d.deviceID) out.deviceID = d.deviceID;
  if (d.resourceName) out.resourceName = d.resourceName;
  out.Bytes = n.bytes.toString('base64');
  return out;
}

export function writeScratchCache(cniDir: string, containerId: string, delegates: Delegate[]): void {
  try {
    writeFileAtomic(scratchCachePath(cniDir, containerId), JSON.stringify(delegates.map(toGo)));
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
  const set = <K extends keyof Delegate>(k: K, v: Delegate[K] | undefined): void => {
    if (v !== undefined) d[k] = v;
  };
  set('ifnameRequest', optString(goField(obj, 'ifnameRequest')));
  set('macRequest', optString(goField(obj, 'macRequest')));
  set('infinibandGUIDRequest', optString(goField(obj, 'infinibandGUIDRequest')));
  set('ipRequest', optStrings(goField(obj, 'ipRequest')));
  set('gatewayRequest', optStrings(goField(obj, 'default-route')));
  set('deviceID', optString(goField(obj, 'deviceID')));
  set('resourceName', optString(goField(obj, 'resourceName')));
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

/** Whether anything (a cache, or whatever took its place) is at the container's delegate cache path. */
export function hasScratchCache(cniDir: string, containerId: string): boolean {
  try {
    lstatSync(scratchCachePath(cniDir, containerId));
    return true;
  } catch {
    return false;
  }
}

export function removeScratchCache(cniDir: string, containerId: string): void {
  removeFile(scratchCachePath(cniDir, containerId));
}
