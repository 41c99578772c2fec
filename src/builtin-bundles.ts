/*
 * The names the executable answers to, and which bundle a process started under each name loads. Data only, so that
 * main.ts picks a bundle without loading one; builtins.ts (the registry) gives each of these names its code, and
 * scripts/bundle.mjs builds every bundle from it. The bundles nest, largest first (BUNDLES): each holds the plugins
 * listed under it and under every bundle after it. `builtins` holds every plugin; `plugins` all but multus, whose
 * configuration, delegation and Kubernetes client are more than half of the code; `host-local` only host-local, the
 * process a Go plugin starts for its IPAM, which needs neither the link plugins nor rtnetlink. A process reads and
 * deserializes only what the plugin it was started as can run.
 */
export const BUNDLES = ['builtins', 'plugins', 'host-local'] as const;

export const BUILTIN_BUNDLES = {
  multus: 'builtins',
  macvlan: 'plugins',
  ipvlan: 'plugins',
  passthru: 'plugins',
  'host-local': 'host-local',
} as const satisfies Record<string, (typeof BUNDLES)[number]>;

export type BuiltinName = keyof typeof BUILTIN_BUNDLES;
export type BundleName = (typeof BUNDLES)[number];

export function isBuiltinName(name: string): name is BuiltinName {
  return Object.hasOwn(BUILTIN_BUNDLES, name);
}

/** The bundle of a process started under `name`; any name that is not a built-in's is multus, the executable's own. */
export function bundleFor(name: string): BundleName {
  return isBuiltinName(name) ? BUILTIN_BUNDLES[name] : 'builtins';
}

/** Whether a process that loaded `bundle` holds the code of the built-in `name`. */
export function bundleHolds(bundle: BundleName, name: BuiltinName): boolean {
  return BUNDLES.indexOf(BUILTIN_BUNDLES[name]) >= BUNDLES.indexOf(bundle);
}

/**
 * The file a process started under `name` for `command` loads. A multus ADD (and STATUS) loads builtins.js, whose
 * parts (the built-in plugins, the Kubernetes client) come when needed, the plugins while the primary's plugin runs
 * (scripts/bundle.mjs). A DEL, CHECK or GC has no such wait: it runs its built-ins right away, and loading them as a
 * part of their own cost it more (about 1.5 ms of CPU, a second file and its top level) than one bundle holding all,
 * builtins-whole.js. Both hold every plugin.
 */
export function bundleFile(name: string, command: string): string {
  // bundleFor written out: main.ts runs this inline in bin/multus, compiled in every call without a code cache.
  const bundle = Object.hasOwn(BUILTIN_BUNDLES, name) ? BUILTIN_BUNDLES[name as BuiltinName] : 'builtins';
  return bundle === 'builtins' && (command === 'DEL' || command === 'CHECK' || command === 'GC') ? 'builtins-whole' : bundle;
}
