/**
 * Device-info files (multi-net-spec "Device Information Specification", NAD-client's naming): a device plugin
 * writes `<base>/dp/<resource>-<device>-device.json` for each device it allocates; the meta-plugin copies it to
 * `<base>/cni/<network>-<container>_<ifname>` for the CNI plugin of that attachment, reads that copy back after
 * ADD (the plugin may have filled it in) and removes it on DEL. `/` in names becomes `-`. Nothing here ever
 * writes or removes a file under `dp/`: those belong to the device plugin.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { removeFile, writeFileAtomic } from '../util/atomic-file';
import type { DeviceInfo } from './network-status';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';

export const DEFAULT_DEVICE_INFO_DIR = '/var/run/k8s.cni.cncf.io/devinfo';

const slashless = (s: string): string => s.replaceAll('/', '-');

export function dpDeviceInfoPath(baseDir: string, resourceName: string, deviceID: string): string {
  return join(baseDir, 'dp', `${slashless(resourceName)}-${slashless(deviceID)}-device.json`);
}

/** The attachment's file; `network` is the delegate's name (`namespace/nad` for a NetworkAttachmentDefinition). */
export function cniDeviceInfoPath(baseDir: string, network: string, containerId: string, ifName: string): string {
  return join(baseDir, 'cni', slashless(`${network}-${containerId}_${ifName}`));
}

/** The file's content, which must be a JSON object; undefined when there is no file. Throws when it is unreadable. */
export function readDeviceInfo(path: string): DeviceInfo | undefined {
  if (!existsSync(path)) return undefined;
  const info: unknown = parseJson(readRegularFile(path, { follow: true }).toString('utf8'));
  if (info === null || typeof info !== 'object' || Array.isArray(info)) throw new Error(`${path} does not hold a JSON object`);
  return info as DeviceInfo;
}

/**
 * Copies the device plugin's file for `deviceID` to the attachment's path. Returns false when the device plugin
 * wrote none (most do not; the CNI plugin may then write the attachment's file itself).
 */
export function copyDeviceInfoForCni(baseDir: string, resourceName: string, deviceID: string, cniPath: string): boolean {
  const info = readDeviceInfo(dpDeviceInfoPath(baseDir, resourceName, deviceID));
  if (!info) return false;
  // Read-only, as NAD-client writes it: the CNI plugin reads it, only the meta-plugin replaces or removes it.
  writeFileAtomic(cniPath, JSON.stringify(info), { mode: 0o444, dirMode: 0o755, durable: false });
  return true;
}

export function removeDeviceInfo(cniPath: string): void {
  removeFile(cniPath);
}
