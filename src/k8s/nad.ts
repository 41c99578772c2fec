import { CniError, ErrorCode } from '../cni/errors';
import { checkNetworkConfig, type NetworkConfig } from '../delegation/network-config';
import { goField, isJsonObject, Problems, shown } from '../cni/config-reader';
import { checkObjectMeta, type Malformed, objectPart } from './object-meta';
import { findNetworkByName } from '../delegation/network-files';
import type { NetworkSelection } from './network-selection';
import { parseJson } from '../cni/json-text';

/*
 * A NetworkAttachmentDefinition (k8s.cni.cncf.io/v1) turned into the delegate that attaches one selection element.
 * The configuration's bytes are rewritten here, once, with everything Multus injects (the NAD name, cni-args, a
 * device ID), so that the scratch cache, and with it DEL, holds exactly what ADD ran.
 */

export const RESOURCE_NAME_ANNOTATION = 'k8s.v1.cni.cncf.io/resourceName';

/** The parts of a NetworkAttachmentDefinition that multus uses, as the API client hands them over. */
export interface NetworkAttachmentDefinition {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
  /** spec.config: a CNI configuration or conflist as JSON text; '' means the file of that name in confDir. */
  config: string;
}

export interface NadOptions {
  /** Where a NAD with an empty spec.config finds its configuration (the multus `confDir`). */
  confDir: string;
  /** Fills a missing cniVersion: the multus configuration's, as for every other delegate, so DEL reads it alike. */
  cniVersion: string;
  /** The device the kubelet (device plugin or DRA) assigned to this attachment for the NAD's resourceName. */
  resourceDeviceID?: string;
}

type Json = Record<string, unknown>;

export function nadLabel(nad: Pick<NetworkAttachmentDefinition, 'namespace' | 'name'>): string {
  return `NetworkAttachmentDefinition ${nad.namespace}/${nad.name}`;
}


/**
 * A NetworkAttachmentDefinition object (the API server's answer, or a manifest `multus validate` reads), every problem
 * of the parts multus uses collected; `bad` words the runtime's error. `fallback` names it when its metadata does not.
 */
export function checkNadObject(raw: unknown, fallback: { namespace: string; name: string }, problems: Problems, bad: Malformed): NetworkAttachmentDefinition | undefined {
  const before = problems.count;
  const read = checkObjectMeta(raw, problems, bad);
  const spec = read && objectPart(read.object, 'spec', problems, bad, true);
  const config = spec?.config;
  if (config !== undefined && config !== null && typeof config !== 'string') {
    problems.add({
      where: 'spec.config', problem: `${isJsonObject(config) ? 'is a YAML/JSON object' : `${shown(config)} is not a string`}, but it must be a string holding the JSON configuration`,
      fix: 'write "config: |" followed by the JSON on the next lines (indented), or config: \'{...}\' on one line',
      error: bad('spec.config is not a string'),
    });
  }
  if (!read || problems.count > before) return undefined;
  return {
    namespace: read.meta.namespace ?? fallback.namespace,
    name: read.meta.name ?? fallback.name,
    annotations: read.meta.annotations,
    config: typeof config === 'string' ? config : '',
  };
}

/**
 * spec.config as a JSON object, or its problem at '' (the place is spec.config itself); `where` names the NAD in the
 * runtime's error (nadLabel).
 */
export function nadConfigObject(nad: NetworkAttachmentDefinition, where: string, problems: Problems): Json | undefined {
  let raw: unknown;
  try {
    raw = parseJson(nad.config);
  } catch (e) {
    problems.add({
      where: '', problem: `is not valid JSON: ${(e as Error).message}`,
      fix: 'correct the JSON there (double quotes around keys and strings, no trailing commas, no comments)',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: spec.config is not valid JSON: ${(e as Error).message}`,
        'spec.config holds a CNI configuration or conflist as a JSON string; "multus validate" shows where it breaks'),
    });
    return undefined;
  }
  if (!isJsonObject(raw)) {
    problems.add({
      where: '', problem: `${shown(raw)} is not a JSON object`,
      fix: 'spec.config holds one CNI configuration ({"type": ...}) or a conflist ({"plugins": [...]})',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: spec.config is not a JSON object`,
        'spec.config holds one CNI configuration ({"type": ...}) or a conflist ({"plugins": [...]})'),
    });
    return undefined;
  }
  return raw;
}

/**
 * `args.cni` of one plugin with the element's cni-args on top (the element's values win). Exactly `args` and `cni`, as
 * Go Multus looks them up in a map.
 */
function mergeCniArgs(plugin: Json, cniArgs: Json, field: string, where: string, problems: Problems): void {
  const args = plugin.args ?? {};
  if (!isJsonObject(args)) {
    problems.add({
      where: `${field}args`, problem: `${shown(args)} is not an object, so the pod's cni-args cannot be added to it`,
      fix: 'make "args" an object, e.g. {"cni": {...}}, or drop cni-args from the pod annotation',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "args" is not an object, so the pod's cni-args cannot be added to it`,
        'make "args" an object, e.g. {"cni": {...}}, or drop cni-args from the pod annotation'),
    });
    return;
  }
  const cni = args.cni ?? {};
  if (!isJsonObject(cni)) {
    problems.add({
      where: `${field}args.cni`, problem: `${shown(cni)} is not an object, so the pod's cni-args cannot be added to it`,
      fix: 'make "args.cni" an object, or drop cni-args from the pod annotation',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "args.cni" is not an object, so the pod's cni-args cannot be added to it`,
        'make "args.cni" an object, or drop cni-args from the pod annotation'),
    });
    return;
  }
  plugin.args = { ...args, cni: { ...cni, ...cniArgs } };
}

/** The plugin objects of a configuration, each with its field path and its name in messages. */
function pluginObjects(conf: Json, where: string): Array<{ plugin: Json; field: string; where: string }> {
  const plugins = goField(conf, 'plugins');
  if (plugins === undefined) return [{ plugin: conf, field: '', where }];
  if (!Array.isArray(plugins)) return []; // checkNetworkConfig says what is wrong with it
  return plugins
    .map((p, i) => ({ plugin: p as Json, field: `plugins[${i}].`, where: `${where} plugins[${i}]` }))
    .filter(({ plugin }) => isJsonObject(plugin));
}

/** The configuration to run as a JSON object to edit, the bytes it was read from, and how to name it in messages. */
function sourceConfig(nad: NetworkAttachmentDefinition, options: NadOptions, where: string, problems: Problems, parsed?: Json): { conf: Json; bytes: Buffer; where: string } | undefined {
  if (nad.config.trim() !== '') {
    const conf = parsed ?? nadConfigObject(nad, where, problems);
    return conf && { conf, bytes: Buffer.from(nad.config), where: `${where}: spec.config` };
  }
  let net: NetworkConfig | undefined;
  try {
    net = findNetworkByName(options.confDir, nad.name, options.cniVersion);
  } catch (e) {
    throw e instanceof CniError ? e.withContext(`${where} (empty spec.config)`) : e;
  }
  if (!net) {
    throw new CniError(ErrorCode.InvalidNetworkConfig,
      `${where}: spec.config is empty and confDir ${options.confDir} has no CNI configuration named "${nad.name}"`,
      `put the configuration in spec.config, or install a .conf/.conflist file with "name": "${nad.name}" in ${options.confDir} on every node`);
  }
  return { conf: parseJson(net.bytes.toString('utf8')) as Json, bytes: net.bytes, where: `${where} (file in ${options.confDir})` };
}

/**
 * Checks the network configuration for one selection element, collecting every problem of spec.config (each at its
 * field below spec.config); the network when there is none. spec.config may be a single configuration or a conflist;
 * without a `name` it gets the NAD's (spec §3.4.2). The element's cni-args go into `args.cni` of the configuration or
 * of every plugin of a list; a resource device ID into `deviceID`/`pciBusID` likewise. An empty spec.config names a
 * file in confDir: what is wrong with that is thrown, as it is no fault of the NAD's. `parsed` is spec.config as
 * nadConfigObject read it, for a caller that looks at it too (it is changed as described).
 */
export function checkNadNetwork(nad: NetworkAttachmentDefinition, selection: NetworkSelection, options: NadOptions, problems: Problems, parsed?: Json): NetworkConfig | undefined {
  const label = nadLabel(nad);
  const source = sourceConfig(nad, options, label, problems, parsed);
  if (!source) return undefined;
  const { conf, bytes, where } = source;
  let changed = false;
  // Exactly "name", as Go Multus looks it up in a map: another spelling stays, before "name" in the sorted keys, so
  // Go's decoder (the last match wins) reads the NAD's name there too.
  if (conf.name === undefined || conf.name === null || conf.name === '') {
    conf.name = nad.name;
    changed = true;
  }
  const type = goField(conf, 'type');
  if (typeof type === 'string' && type !== '' && goField(conf, 'plugins') !== undefined) {
    // Multus would run "type" alone and ignore the list; which one was meant only the author knows.
    problems.add({
      where: '', problem: 'has both "type" and "plugins"',
      fix: 'keep "type" for a single plugin configuration, or "plugins" for a conflist, not both',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `${where}: has both "type" and "plugins"`,
        'keep "type" for a single plugin configuration, or "plugins" for a conflist, not both'),
    });
    return undefined;
  }
  const plugins = pluginObjects(conf, where);
  if (selection.cniArgs && Object.keys(selection.cniArgs).length > 0) {
    for (const p of plugins) mergeCniArgs(p.plugin, selection.cniArgs, p.field, p.where, problems);
    changed = true;
  }
  if (options.resourceDeviceID) {
    for (const p of plugins) {
      p.plugin.deviceID = options.resourceDeviceID;
      p.plugin.pciBusID = options.resourceDeviceID;
    }
    changed = true;
  }
  return checkNetworkConfig(conf, where, options.cniVersion, problems, changed ? Buffer.from(JSON.stringify(conf)) : bytes);
}

/** The runtime's: the network for one selection element, or a CniError for the first problem. */
export function nadNetwork(nad: NetworkAttachmentDefinition, selection: NetworkSelection, options: NadOptions): NetworkConfig {
  const problems = new Problems();
  const net = checkNadNetwork(nad, selection, options, problems);
  problems.throwFirst();
  return net!;
}
