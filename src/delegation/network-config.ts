import { CniError, ErrorCode } from '../cni/errors';
import { isSafeName } from '../cni/environment';
import { isSupportedVersion, SUPPORTED_VERSIONS } from '../cni/version';
import { goField } from '../cni/config-reader';
import { validatePluginType } from './plugin-path';

/**
 * One network as libcni sees it: a single plugin configuration or a conflist, with the bytes it was
 * read from (they go into caches verbatim so that a later DEL runs exactly what ADD ran).
 */
export interface NetworkConfig {
  name: string;
  cniVersion: string;
  isList: boolean;
  disableCheck: boolean;
  plugins: Array<Record<string, unknown>>;
  bytes: Buffer;
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: must be a JSON object, got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

function asBool(v: unknown, key: string, where: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  // libcni accepts the strings too, in any case; configuration generators write them.
  if (typeof v === 'string' && ['true', 'false'].includes(v.toLowerCase())) return v.toLowerCase() === 'true';
  throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
}

/**
 * The names in one plugin configuration that become programs: its `type`, and the `ipam.type` a plugin will run.
 * Checked here so that a hostile NetworkAttachmentDefinition is refused before anything runs, whichever plugin would
 * have executed it.
 */
function validatePluginNames(plugin: Record<string, unknown>, where: string): void {
  validatePluginType(goField(plugin, 'type'), where);
  const ipam = goField(plugin, 'ipam');
  if (ipam === null || typeof ipam !== 'object' || Array.isArray(ipam)) return;
  const ipamType = goField(ipam as Record<string, unknown>, 'type');
  if (ipamType !== undefined && ipamType !== null && ipamType !== '') validatePluginType(ipamType, where, 'ipam.type');
}

/**
 * Parses and checks a network configuration up front, so that a typo is reported before anything is attached.
 * `where` names the configuration in messages; `inheritedVersion` fills a missing `cniVersion`.
 */
export function parseNetworkConfig(raw: unknown, where: string, inheritedVersion: string, bytes?: Buffer): NetworkConfig {
  const conf = asObject(raw, where);
  // Go's decoder, which libcni and every plugin use, matches keys ignoring case.
  const name = goField(conf, 'name');
  if (typeof name !== 'string' || name === '') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: missing network "name": every network needs one (it names its result cache and IPAM store)`);
  }
  if (!isSafeName(name)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: invalid characters found in network name ${JSON.stringify(name)}`,
      'use letters, digits, "_", "." and "-", starting with a letter or digit');
  }
  const declared = goField(conf, 'cniVersion');
  const version = declared === undefined || declared === null || declared === '' ? inheritedVersion : declared;
  if (typeof version !== 'string' || !isSupportedVersion(version)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `${where} (network "${name}"): unsupported "cniVersion" ${JSON.stringify(version)}`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const list = goField(conf, 'plugins');
  const isList = list !== undefined;
  let plugins: Array<Record<string, unknown>>;
  if (isList) {
    if (!Array.isArray(list) || list.length === 0) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `${where} (network "${name}"): "plugins" must be a non-empty list of plugin configurations`);
    }
    plugins = list.map((p, i) => asObject(p, `${where} (network "${name}") plugins[${i}]`));
    plugins.forEach((p, i) => validatePluginNames(p, `${where} (network "${name}") plugins[${i}]`));
  } else {
    validatePluginNames(conf, `${where} (network "${name}")`);
    plugins = [conf];
  }
  return {
    name,
    cniVersion: version,
    isList,
    disableCheck: asBool(goField(conf, 'disableCheck'), 'disableCheck', where),
    plugins,
    bytes: bytes ?? Buffer.from(JSON.stringify(conf)),
  };
}

/** The `type` of a plugin of a parsed network (checked by parseNetworkConfig), however its key is spelled. */
export function pluginType(plugin: Record<string, unknown>): string {
  return goField(plugin, 'type') as string;
}

/** The capabilities a plugin declares as true: libcni passes it those runtimeConfig keys and no others. */
export function declaredCapabilities(plugin: Record<string, unknown>): string[] {
  const caps = goField(plugin, 'capabilities');
  if (caps === null || typeof caps !== 'object') return [];
  return Object.entries(caps).filter(([, enabled]) => enabled === true).map(([cap]) => cap);
}

export function declaresCapability(plugin: Record<string, unknown>, capability: string): boolean {
  return declaredCapabilities(plugin).includes(capability);
}

/** JSON with object keys sorted at every level, which is how libcni re-marshals a plugin's configuration. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * The bytes one plugin receives on stdin (libcni buildOneConfig): its configuration plus the network's name and
 * version, the previous result, and `runtimeConfig` with only the capabilities it declares.
 */
export function buildPluginStdin(
  net: NetworkConfig,
  plugin: Record<string, unknown>,
  prevResult: Record<string, unknown> | undefined,
  capabilityArgs: Record<string, unknown>,
): Buffer {
  const conf: Record<string, unknown> = { ...plugin, name: net.name, cniVersion: net.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const rc: Record<string, unknown> = {};
  for (const cap of declaredCapabilities(plugin)) {
    if (capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
  }
  if (Object.keys(rc).length > 0) conf.runtimeConfig = rc;
  return Buffer.from(canonicalJson(conf));
}
