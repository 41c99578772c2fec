import type { CniPlugin } from '../cni/skel';

/*
 * The plugins this one executable can be. The runtime picks one by the name it runs the executable under
 * (a symlink in /opt/cni/bin), exactly as it would pick a reference binary; delegation picks one the same way.
 * Each is loaded only when asked for, so a process that is `multus` never pays for the others.
 */
const LOADERS: Record<string, () => Promise<CniPlugin>> = {
  multus: async () => (await import('../multus/plugin')).multusPlugin,
  macvlan: async () => (await import('./macvlan/plugin')).macvlanPlugin,
  ipvlan: async () => (await import('./ipvlan/plugin')).ipvlanPlugin,
  'host-local': async () => (await import('./host-local/plugin')).hostLocalPlugin,
};

export function isBuiltinPlugin(name: string): boolean {
  return Object.hasOwn(LOADERS, name);
}

export async function loadBuiltinPlugin(name: string): Promise<CniPlugin> {
  const load = LOADERS[name] ?? LOADERS.multus!;
  return load();
}
