import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * What a pod's network namespace holds, in a form two runs can be compared by: links (kind, MTU, up, MAC), global
 * addresses, and routes of every table except the kernel's `local` one. MACs are kept: a caller that did not ask for
 * a fixed MAC masks them (`withoutMacs`).
 */
export interface PodState {
  links: Record<string, { kind: string; mtu: number; up: boolean; mac: string }>;
  addresses: Record<string, string[]>;
  routes: string[];
}

interface IpLink {
  ifname: string;
  mtu: number;
  address: string;
  flags: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family: string; local: string; prefixlen: number; scope: string }>;
}

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
  scope?: string;
  protocol?: string;
}

function ipJson<T>(ns: string, ...args: string[]): T {
  return JSON.parse(execFileSync('ip', ['-n', ns, '-j', ...args], { encoding: 'utf8' }) || '[]') as T;
}

export function podState(ns: string): PodState {
  const links = ipJson<IpLink[]>(ns, '-d', 'addr', 'show').filter((l) => l.ifname !== 'lo');
  const routes: string[] = [];
  for (const family of ['-4', '-6']) {
    for (const r of ipJson<IpRoute[]>(ns, family, 'route', 'show', 'table', 'all')) {
      if (r.table === 'local' || r.dst.startsWith('fe80') || r.dst.startsWith('ff00') || r.type === 'multicast') continue;
      routes.push([r.dst, r.gateway && `via ${r.gateway}`, r.dev && `dev ${r.dev}`, r.table && `table ${r.table}`,
        r.metric !== undefined && `metric ${r.metric}`, r.scope && r.scope !== 'global' && `scope ${r.scope}`].filter(Boolean).join(' '));
    }
  }
  return {
    links: Object.fromEntries(links.map((l) => [l.ifname, { kind: l.linkinfo?.info_kind ?? '', mtu: l.mtu, up: l.flags.includes('UP'), mac: l.address }])),
    addresses: Object.fromEntries(links.map((l) => [l.ifname,
      (l.addr_info ?? []).filter((a) => a.scope !== 'link').map((a) => `${a.local}/${a.prefixlen}`).sort()])),
    routes: routes.sort(),
  };
}

/** The state with every MAC replaced by a placeholder (random MACs differ between any two runs). */
export function withoutMacs(state: PodState, keep: string[] = []): PodState {
  return {
    ...state,
    links: Object.fromEntries(Object.entries(state.links).map(([n, l]) => [n, { ...l, mac: keep.includes(n) ? l.mac : 'MAC' }])),
  };
}

/** Every file under `dir` (relative path → content), e.g. a host-local store; an absent directory is empty. */
export function filesUnder(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, entry);
    if (statSync(path).isFile()) out[relative(dir, path)] = readFileSync(path, 'utf8');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The host-local reservations in a store directory (files named by an address), as `network/address`. */
export function reservations(dir: string): string[] {
  return Object.keys(filesUnder(dir)).filter((f) => /\/(\d+\.\d+\.\d+\.\d+|[0-9a-f:]*:[0-9a-f:]*)$/.test(f));
}
