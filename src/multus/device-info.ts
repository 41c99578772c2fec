/**
 * The device-info file of each attachment with a device (Multus's flow): copied from the device plugin's file
 * before the delegate's ADD, read back into network-status after it, removed after the delegate's DEL.
 * The primary never has one, as in Multus (it gets no device capabilities).
 */
import { copyDeviceInfoForCni, readDeviceInfo, removeDeviceInfo } from '../k8s/device-info';
import type { DeviceInfo } from '../k8s/network-status';
import { logDebug, logError } from '../log/logger';
import { attachmentDeviceInfoFile, type MultusCall } from './call';
import type { Delegate } from './delegate';

/**
 * Before ADD: the device plugin's file for the kubelet-assigned device, copied for the CNI plugin. A missing or
 * unreadable file is not an error (as in Multus): most device plugins write none, and the plugin can do without.
 */
export function prepareDeviceInfo(call: MultusCall, d: Delegate, index: number): void {
  const path = attachmentDeviceInfoFile(call, d, index);
  if (!path || !d.resourceName) return;
  try {
    if (!copyDeviceInfoForCni(call.conf.deviceInfoDir, d.resourceName, d.deviceID!, path)) {
      logDebug(`no device-info file from the device plugin for ${d.resourceName} device ${d.deviceID}`);
    }
  } catch (e) {
    logError(`device-info of ${d.resourceName} device ${d.deviceID} not copied to ${path}: ${(e as Error).message}`);
  }
}

/** After ADD: what the attachment's file says now, for its network-status entry. */
export function attachmentDeviceInfo(call: MultusCall, d: Delegate, index: number): DeviceInfo | undefined {
  const path = attachmentDeviceInfoFile(call, d, index);
  if (!path) return undefined;
  try {
    return readDeviceInfo(path);
  } catch (e) {
    logError(`device-info ${path} is unreadable, left out of network-status: ${(e as Error).message}`);
    return undefined;
  }
}

/** After DEL (or a rollback): the attachment's file goes; the device plugin's stays. */
export function removeAttachmentDeviceInfo(call: MultusCall, d: Delegate, index: number): void {
  const path = attachmentDeviceInfoFile(call, d, index, false);
  if (!path) return;
  try {
    removeDeviceInfo(path);
  } catch (e) {
    logError(`device-info ${path} not removed: ${(e as Error).message}`);
  }
}
