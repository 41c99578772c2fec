import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';

// A plugin type becomes a file name inside binDir/CNI_PATH; anything else would let a NetworkAttachmentDefinition
// run an arbitrary program on the node.
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/** Checks a configuration's `type` before it is used to look up a binary. `where` names the configuration. */
export function validatePluginType(type: unknown, where: string): string {
  if (typeof type !== 'string' || type === '') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: missing "type": name the CNI plugin to run, e.g. "type": "macvlan"`);
  }
  if (!PLAIN_FILE_NAME.test(type) || type.includes('..')) {
    throw new CniError(
      ErrorCode.UnsupportedField,
      `${where}: "type": ${JSON.stringify(type)} is not a plain plugin name`,
      'a plugin type is a file name found in binDir or CNI_PATH; paths, ".." and special characters are refused',
    );
  }
  return type;
}

/** libcni's FindInPath: the first regular file with that exact name, symlinks followed. */
export function findPlugin(type: string, dirs: readonly string[]): string {
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
