import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { goField, isJsonObject, Problems } from '../cni/config-reader';
import { CniError, ErrorCode } from '../cni/errors';
import { checkNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';

/** The file names libcni reads as network configurations (ConfFiles), and container runtimes load from the conf dir. */
export const CONFIG_EXTENSIONS = ['.conf', '.conflist', '.json'];

/** Reads one CNI configuration file; a `.conflist` must be a list, anything else a single plugin. */
export function loadNetworkFile(path: string, inheritedVersion: string): NetworkConfig {
  let bytes: Buffer;
  let raw: unknown;
  try {
    bytes = readRegularFile(path, { follow: true });
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `cannot read CNI config file ${path}: ${(e as Error).message}`);
  }
  try {
    raw = parseJson(bytes.toString('utf8'));
  } catch (e) {
    throw new CniError(ErrorCode.DecodingFailure, `error loading CNI config file ${path}: error parsing configuration: ${(e as Error).message}`);
  }
  const problems = new Problems();
  const net = checkNetworkFile(raw, path, inheritedVersion, problems, bytes);
  problems.throwFirst();
  return net!;
}

/**
 * Checks the configuration read from the file at `path` as libcni does by its extension (a `.conflist` must be a
 * list, anything else a single plugin), then as any network; every problem collected.
 */
export function checkNetworkFile(raw: unknown, path: string, inheritedVersion: string, problems: Problems, bytes?: Buffer): NetworkConfig | undefined {
  const isListFile = extname(path) === '.conflist';
  const obj = isJsonObject(raw) ? raw : undefined;
  if (isListFile && (obj === undefined || goField(obj, 'plugins') === undefined)) {
    problems.add({
      where: 'plugins', problem: 'is missing, and a .conflist file holds a list', fix: 'list the plugins in "plugins": [...], or name the file .conf',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `CNI config file ${path}: a .conflist needs a "plugins" list`),
    });
    return undefined;
  }
  if (!isListFile && obj !== undefined && goField(obj, 'type') === undefined && goField(obj, 'plugins') !== undefined) {
    problems.add({
      where: '', problem: 'has "plugins" but no "type", and a file not named .conflist holds a single plugin', fix: 'name the file .conflist',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `CNI config file ${path}: no "type"; perhaps this is supposed to be a .conflist?`),
    });
    return undefined;
  }
  return checkNetworkConfig(raw, `CNI config file ${path}`, inheritedVersion, problems, bytes);
}

function configFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => CONFIG_EXTENSIONS.includes(extname(f)))
    .sort()
    .map((f) => join(dir, f));
}

/** The first configuration (in file name order) in `dir` whose network name is `name`. */
export function findNetworkByName(dir: string, name: string, inheritedVersion: string): NetworkConfig | undefined {
  let files: string[];
  try {
    files = configFiles(dir);
  } catch {
    return undefined;
  }
  for (const file of files) {
    let raw: unknown;
    try {
      raw = parseJson(readRegularFile(file, { follow: true }).toString('utf8'));
    } catch {
      continue; // other files' problems are not this network's
    }
        // Go's decoder matches keys ignoring case, so "Name" names the network too.
    if (raw !== null && typeof raw === 'object' && goField(raw as Record<string, unknown>, 'name') === name) return loadNetworkFile(file, inheritedVersion);
  }
  return undefined;
}

/**
 * Resolves a `clusterNetwork`/`defaultNetworks` value that is a path: a directory gives its alphabetically first
 * configuration, a file is read as it is.
 */
export function loadNetworkPath(path: string, inheritedVersion: string): NetworkConfig {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `network path ${path} cannot be read: ${(e as Error).message}`);
  }
  if (!isDir) return loadNetworkFile(path, inheritedVersion);
  const first = configFiles(path).filter((f) => extname(f) !== '.json')[0];
  if (first === undefined) throw new CniError(ErrorCode.InvalidNetworkConfig, `no .conf or .conflist file in directory ${path}`);
  return loadNetworkFile(first, inheritedVersion);
}

/**
 * libcni's NetworkPluginConfsFromFiles: the plugin configurations `<dir>/*.conf`, in file-name order; none when the
 * directory does not exist. Each must be a JSON object naming its plugin `type`.
 */
export function loadPluginFiles(dir: string): Array<Record<string, unknown>> {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.isDirectory() && extname(e.name) === '.conf').map((e) => e.name).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CniError(ErrorCode.IoFailure, `failed to read plugin config files in ${dir}: ${(e as Error).message}`);
  }
  return names.map((name) => {
    const path = join(dir, name);
    let raw: unknown;
    try {
      raw = parseJson(readRegularFile(path, { follow: true }).toString('utf8'));
    } catch (e) {
      throw new CniError(ErrorCode.DecodingFailure, `error reading plugin config file ${path}: ${(e as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || typeof goField(raw as Record<string, unknown>, 'type') !== 'string') {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `plugin config file ${path}: error parsing configuration: missing 'type'`,
        'each file holds one plugin configuration, e.g. {"type": "tuning", ...}');
    }
    return raw as Record<string, unknown>;
  });
}
