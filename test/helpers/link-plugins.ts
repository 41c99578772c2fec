import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBuiltinPlugin } from '../../src/builtins';
import { execPluginSync, MULTUS, REFERENCE_PLUGINS, type RunOutcome } from './plugin-exec';

/**
 * A plugin directory where our executable is macvlan and ipvlan (and host-local when `ourIpam`), by symlink as
 * on a node, placed before the reference plugins (`referenceDir`, Debian's by default) on CNI_PATH.
 */
export class PluginDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'link-plugins-'));

  constructor(ourIpam = false, readonly referenceDir = REFERENCE_PLUGINS) {
    const names = ['macvlan', 'ipvlan', ...(ourIpam && isBuiltinPlugin('host-local') ? ['host-local'] : [])];
    for (const name of names) symlinkSync(MULTUS, join(this.dir, name));
  }

  get cniPath(): string {
    return `${this.dir}:${this.referenceDir}`;
  }

  ours(name: 'macvlan' | 'ipvlan'): string {
    return join(this.dir, name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface LinkCall {
  command: string;
  conf: unknown;
  netns: string;
  ifName?: string;
  containerId?: string;
  args?: string;
  cniPath?: string;
}

/** Runs a plugin binary inside the node namespace `nodeNs`, as the node's container runtime would. */
export function runPluginIn(nodeNs: string, binary: string, c: LinkCall): RunOutcome {
  const { cniPath, containerId, ...rest } = c;
  return execPluginSync(binary, { ...rest, containerId: containerId ?? 'ctr1', path: cniPath ?? REFERENCE_PLUGINS, inNetns: nodeNs });
}

/** `ip` in a namespace (or `sysctl` and the like through `ip netns exec`). */
export function ipIn(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

export function sysctlIn(ns: string, key: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], { encoding: 'utf8' }).trim();
}

export interface DetailedLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  address: string;
  flags: string[];
  /** The parent's index when it is in another namespace, its name (`link`) when in the same. */
  link_index?: number;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
}

export function linksIn(ns: string): DetailedLink[] {
  return JSON.parse(ipIn(ns, '-d', '-j', 'link', 'show')) as DetailedLink[];
}

export function linkIn(ns: string, name: string): DetailedLink | undefined {
  return linksIn(ns).find((l) => l.ifname === name);
}
