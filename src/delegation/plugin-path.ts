import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import type { PluginRunner } from '../cni/runner';

// A plugin type becomes a file name inside binDir/CNI_PATH; anything else would let a NetworkAttachmentDefinition
// run an arbitrary program on the node.
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/**
 * The one rule for every name that becomes a program: a delegate's `type`, a conflist plugin's, `ipam.type` at any
 * level, a built-in's IPAM. `where` names the configuration, `key` the field (`type`, `ipam.type`).
 */
export function validatePluginType(type: unknown, where: string, key = 'type'): string {
  if (type === undefined || type === null || type === '') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: missing "${key}": name the CNI plugin to run, e.g. "${key}": "${key === 'type' ? 'macvlan' : 'host-local'}"`);
  }
  if (typeof type !== 'string') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "${key}" must be a string naming a CNI plugin, got ${JSON.stringify(type)}`);
  }
  // NAME_MAX: a longer name cannot be a file in any directory.
  if (!PLAIN_FILE_NAME.test(type) || type.includes('..') || Buffer.byteLength(type) > 255) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      `${where}: "${key}": ${JSON.stringify(type)} is not a plain plugin name`,
      'a plugin type is a file name found in binDir or CNI_PATH; paths, ".." and special characters are refused',
    );
  }
  return type;
}

/**
 * libcni's FindInPath: the first regular file with that exact name, symlinks followed. Every lookup of a program goes
 * through here, and the name is checked again, so no caller can run anything outside `dirs`.
 */
export function findPlugin(type: string, dirs: readonly string[], where = 'plugin', key = 'type'): string {
  validatePluginType(type, where, key);
  if (dirs.length === 0) throw new CniError(ErrorCode.Internal, `failed to find plugin "${type}": no paths provided (set CNI_PATH)`);
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(ErrorCode.Internal, `failed to find plugin "${type}" in path [${dirs.join(' ')}]`,
    'install the plugin binary in binDir or one of the CNI_PATH directories');
}

/** The plugin for `type` as `runner` will run it: its own built-in when it runs that type itself, else the binary. */
export function locatePlugin(runner: PluginRunner, type: string, dirs: readonly string[], where = 'plugin', key = 'type'): string {
  validatePluginType(type, where, key);
  return runner.pinnedPath?.(type) ?? findPlugin(type, dirs, where, key);
}
