import { readFileSync, writeFileSync } from 'node:fs';
import { errnoText } from './errors';
import { nativeHelper } from './native';

/*
 * Sysctls under /proc/sys/net belong to the network namespace of the thread that opens them, so a pod's are
 * read and written from inside its namespace. Keys use `/` separators (net/ipv4/conf/eth0/arp_notify), so that
 * interface names with dots need no escaping.
 */

/**
 * Runs `fn` with this thread in the namespace at `netns` (its own when undefined): several sysctls of a pod then
 * cost one entry and exit (six system calls) instead of one each.
 */
export function inNetns<T>(netns: string | undefined, fn: () => T): T {
  return netns === undefined ? fn() : nativeHelper().withNetns(netns, fn);
}

export function readSysctl(key: string, netns?: string): string {
  return inNetns(netns, () => readFileSync(`/proc/sys/${key}`, 'utf8').trim());
}

export function writeSysctl(key: string, value: string, netns?: string): void {
  inNetns(netns, () => writeFileSync(`/proc/sys/${key}`, value));
}

/**
 * Writes `value` to each key inside the namespace of the open fd `netnsFd`, in one visit made by the native helper
 * (no path to open, and no JavaScript file writes); returns the keys that failed with the reason of each.
 * Throws when the namespace cannot be entered.
 */
export function writeSysctlsIn(netnsFd: number, keys: string[], value: string): { key: string; reason: string }[] {
  const errnos = nativeHelper().writeSysctls(netnsFd, keys, value);
  return keys.flatMap((key, i) => (errnos[i] ? [{ key, reason: errnoText(errnos[i]!) }] : []));
}
