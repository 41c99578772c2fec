/*
 * The names the executable answers to, and which bundle a process started under each name loads. Data only, so that
 * main.ts picks a bundle without loading one; builtins.ts (the registry) gives each of these names its code, and
 * scripts/bundle.mjs builds both bundles from it. `builtins` holds every plugin. `plugins` holds all but multus,
 * whose configuration, delegation and Kubernetes client are more than half of the code: a process started as
 * host-local (a Go plugin's IPAM), macvlan or ipvlan (a runtime running a symlink) reads and deserializes less than
 * half as much.
 */
export const BUILTIN_BUNDLES = {
  multus: 'builtins',
  macvlan: 'plugins',
  ipvlan: 'plugins',
  'host-local': 'plugins',
  passthru: 'plugins',
} as const;

export type BuiltinName = keyof typeof BUILTIN_BUNDLES;
export type BundleName = (typeof BUILTIN_BUNDLES)[BuiltinName];

export function isBuiltinName(name: string): name is BuiltinName {
  return Object.hasOwn(BUILTIN_BUNDLES, name);
}

/** The bundle of a process started under `name`; any name that is not a built-in's is multus, the executable's own. */
export function bundleFor(name: string): BundleName {
  return isBuiltinName(name) ? BUILTIN_BUNDLES[name] : 'builtins';
}

/** Whether a process that loaded `bundle` holds the code of the built-in `name` (`builtins` holds every one). */
export function bundleHolds(bundle: BundleName, name: BuiltinName): boolean {
  return bundle === 'builtins' || BUILTIN_BUNDLES[name] === bundle;
}
