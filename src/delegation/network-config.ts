import { CniError, ErrorCode } from '../cni/errors';
import { isSafeName } from '../cni/environment';
import { type CniVersion, isSupportedVersion, SUPPORTED_VERSIONS } from '../cni/version';
import { collect, ConfigReader, goField, isJsonObject, Problems, shown } from '../cni/config-reader';
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

function notAnObject(v: unknown, where: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${where}: must be a JSON object, got ${JSON.stringify(v)}`);
}

// libcni accepts the strings too, in any case; configuration generators write them.
function disableCheck(v: unknown, where: string, problems: Problems): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && ['true', 'false'].includes(v.toLowerCase())) return v.toLowerCase() === 'true';
  problems.add({
    where: 'disableCheck', problem: `${shown(v)} is not true or false`, fix: 'write "disableCheck": true or false',
    error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "disableCheck" must be true or false, got ${JSON.stringify(v)}`),
  });
  return false;
}

/**
 * One plugin configuration: the names in it that become programs (its `type`, and the `ipam.type` a plugin will
 * run), checked so that a hostile NetworkAttachmentDefinition is refused before anything runs, whichever plugin would
 * have executed it; and the fields libcni and Go Multus decode into their NetConf (`capabilities` a map of booleans,
 * `dns` libcni's DNS, `ipam` an object), which refuse anything else.
 */
function checkPlugin(plugin: Record<string, unknown>, field: string, where: string, problems: Problems): void {
  const at = (key: string): string => `${field}${key}`;
  const type = goField(plugin, 'type');
  if (type === undefined || type === null || type === '') {
    const top = field === '';
    collect(problems, top ? '' : at('type'), () => validatePluginType(type, where), {
      problem: top ? 'has neither "type" nor "plugins"' : 'is missing',
      fix: top ? 'add "type": the plugin to run (e.g. "macvlan"), or "plugins": [...] for a conflist' : 'add "type": the CNI plugin to run, e.g. "tuning"',
    });
  } else {
    collect(problems, at('type'), () => validatePluginType(type, where), { prefix: where, fix: typeof type === 'string' ? undefined : 'write "type" as the name of the plugin binary, e.g. "macvlan"' });
  }
  const caps = goField(plugin, 'capabilities');
  if (caps !== undefined && caps !== null) {
    const bad = !isJsonObject(caps) ? caps : Object.values(caps).find((b) => typeof b !== 'boolean');
    if (bad !== undefined) {
      const key = isJsonObject(caps) ? Object.keys(caps).find((k) => caps[k] === bad)! : undefined;
      problems.add({
        where: key === undefined ? at('capabilities') : at(`capabilities.${key}`),
        problem: key === undefined ? `${shown(caps)} is not an object` : `${shown(bad)} is not true or false`,
        fix: key === undefined ? 'write "capabilities" as an object, e.g. {"ips": true, "mac": true}' : `write ${JSON.stringify(key)}: true`,
        error: new CniError(ErrorCode.InvalidNetworkConfig,
          `${where}: "capabilities" must be an object of true/false values, got ${JSON.stringify(caps)}`),
      });
    }
  }
  // libcni's DNS type: every plugin that embeds NetConf fails to decode anything else.
  const dns = new ConfigReader(plugin, where, field, problems).object('dns');
  for (const key of ['nameservers', 'search', 'options']) dns.strings(key);
  dns.string('domain');
  const ipam = goField(plugin, 'ipam');
  if (ipam === undefined || ipam === null) return;
  if (!isJsonObject(ipam)) {
    problems.add({
      where: at('ipam'), problem: `${shown(ipam)} is not an object`,
      fix: 'write "ipam" as an object, e.g. {"type": "host-local", "ranges": [[{"subnet": "10.1.1.0/24"}]]}, or {} for no addresses',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "ipam" must be a JSON object, got ${JSON.stringify(ipam)}`),
    });
    return;
  }
  const ipamType = goField(ipam, 'type');
  if (ipamType !== undefined && ipamType !== null && ipamType !== '') {
    collect(problems, at('ipam.type'), () => validatePluginType(ipamType, where, 'ipam.type'),
      { prefix: where, fix: typeof ipamType === 'string' ? undefined : 'write "type" as the name of the IPAM plugin binary, e.g. "host-local"' });
  }
}

/**
 * Checks a network configuration (a single plugin configuration or a conflist), collecting every problem; the parsed
 * network when there is none. `where` names the configuration in the runtime's messages; `inheritedVersion` fills a
 * missing `cniVersion`.
 */
export function checkNetworkConfig(raw: unknown, where: string, inheritedVersion: string, problems: Problems, bytes?: Buffer): NetworkConfig | undefined {
  if (!isJsonObject(raw)) {
    problems.add({
      where: '', problem: `${shown(raw)} is not a JSON object`,
      fix: 'write one CNI configuration {"type": ...} or a conflist {"plugins": [...]}', error: notAnObject(raw, where),
    });
    return undefined;
  }
  const conf = raw;
  const before = problems.count;
  // Go's decoder, which libcni and every plugin use, matches keys ignoring case.
  const name = goField(conf, 'name');
  if (typeof name !== 'string' || name === '') {
    problems.add({
      where: 'name', problem: name === undefined || name === '' || name === null ? 'is missing' : `${shown(name)} is not a string`,
      fix: 'add "name" as a JSON string: every network needs one (it names the result cache and the IPAM store)',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: missing network "name": every network needs one (it names its result cache and IPAM store)`),
    });
  } else if (!isSafeName(name)) {
    problems.addError('name', new CniError(ErrorCode.InvalidNetworkConfig, `${where}: invalid characters found in network name ${JSON.stringify(name)}`,
      'use letters, digits, "_", "." and "-", starting with a letter or digit'), { problem: `${shown(name)} has characters a network name cannot have` });
  }
  const network = typeof name === 'string' && name !== '' ? `${where} (network "${name}")` : where;
  const declared = goField(conf, 'cniVersion');
  const version = declared === undefined || declared === null || declared === '' ? inheritedVersion : declared;
  if (typeof version !== 'string' || !isSupportedVersion(version)) {
    problems.add({
      where: 'cniVersion', problem: `${shown(version)} is not a CNI version multus supports`, fix: `use one of ${SUPPORTED_VERSIONS.join(', ')}`,
      error: new CniError(ErrorCode.IncompatibleVersion, `${network}: unsupported "cniVersion" ${JSON.stringify(version)}`,
        `supported: ${SUPPORTED_VERSIONS.join(', ')}`),
    });
  }
  const list = goField(conf, 'plugins');
  const isList = list !== undefined;
  let plugins: Array<Record<string, unknown>> = [];
  if (isList) {
    if (!Array.isArray(list) || list.length === 0) {
      problems.add({
        where: 'plugins', problem: `${shown(list)} is not a non-empty list`,
        fix: 'list the plugins of the chain, e.g. [{"type": "macvlan", ...}, {"type": "tuning"}]',
        error: new CniError(ErrorCode.InvalidNetworkConfig, `${network}: "plugins" must be a non-empty list of plugin configurations`),
      });
    } else {
      list.forEach((p, i) => {
        const at = `${network} plugins[${i}]`;
        if (!isJsonObject(p)) {
          problems.add({ where: `plugins[${i}]`, problem: `${shown(p)} is not an object`, fix: 'write each plugin as an object with a "type"', error: notAnObject(p, at) });
          return;
        }
        plugins.push(p);
        checkPlugin(p, `plugins[${i}].`, at, problems);
      });
    }
  } else {
    checkPlugin(conf, '', network, problems);
    plugins = [conf];
  }
  const check = disableCheck(goField(conf, 'disableCheck'), where, problems);
  if (problems.count > before) return undefined;
  return {
    name: name as string,
    cniVersion: version as CniVersion,
    isList,
    disableCheck: check,
    plugins,
    bytes: bytes ?? Buffer.from(JSON.stringify(conf)),
  };
}

/** The runtime's parse: the network, or a CniError for its first problem. */
export function parseNetworkConfig(raw: unknown, where: string, inheritedVersion: string, bytes?: Buffer): NetworkConfig {
  const problems = new Problems();
  const net = checkNetworkConfig(raw, where, inheritedVersion, problems, bytes);
  problems.throwFirst();
  return net!;
}

// Both caches of an attachment (multus's delegate list and libcni's result) hold its configuration in base64.
const base64Of = new WeakMap<Buffer, string>();

/** The network's configuration bytes in base64, as the caches hold them; encoded once per network. */
export function configBase64(net: NetworkConfig): string {
  let text = base64Of.get(net.bytes);
  if (text === undefined) base64Of.set(net.bytes, text = net.bytes.toString('base64'));
  return text;
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
