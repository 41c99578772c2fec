import { CniError, ErrorCode } from '../cni/errors';
import { parseNetworkConfig, type NetworkConfig } from '../delegation/network-config';
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


function configObject(nad: NetworkAttachmentDefinition, where: string): Json {
  let raw: unknown;
  try {
    raw = parseJson(nad.config);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: spec.config is not valid JSON: ${(e as Error).message}`,
      'spec.config holds a CNI configuration or conflist as a JSON string; "multus validate" shows where it breaks');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: spec.config is not a JSON object`,
      'spec.config holds one CNI configuration ({"type": ...}) or a conflist ({"plugins": [...]})');
  }
  return raw as Json;
}

/** `args.cni` of one plugin with the element's cni-args on top (the element's values win). */
function mergeCniArgs(plugin: Json, cniArgs: Json, where: string): void {
  const args = plugin.args ?? {};
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "args" is not an object, so the pod's cni-args cannot be added to it`,
      'make "args" an object, e.g. {"cni": {...}}, or drop cni-args from the pod annotation');
  }
  const cni = (args as Json).cni ?? {};
  if (cni === null || typeof cni !== 'object' || Array.isArray(cni)) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: "args.cni" is not an object, so the pod's cni-args cannot be added to it`,
      'make "args.cni" an object, or drop cni-args from the pod annotation');
  }
  plugin.args = { ...(args as Json), cni: { ...(cni as Json), ...cniArgs } };
}

function pluginObjects(conf: Json, where: string): Array<{ plugin: Json; where: string }> {
  if (conf.plugins === undefined) return [{ plugin: conf, where }];
  if (!Array.isArray(conf.plugins)) return []; // parseNetworkConfig says what is wrong with it
  return conf.plugins
    .map((p, i) => ({ plugin: p as Json, where: `${where} plugins[${i}]` }))
    .filter(({ plugin }) => plugin !== null && typeof plugin === 'object' && !Array.isArray(plugin));
}

/** The configuration to run as a JSON object to edit, the bytes it was read from, and how to name it in messages. */
function sourceConfig(nad: NetworkAttachmentDefinition, options: NadOptions, where: string): { conf: Json; bytes: Buffer; where: string } {
  if (nad.config.trim() !== '') {
    const conf = configObject(nad, where);
    return { conf, bytes: Buffer.from(nad.config), where: `${where}: spec.config` };
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
 * The network configuration for one selection element. spec.config may be a single configuration or a conflist;
 * without a `name` it gets the NAD's (spec §3.4.2). The element's cni-args go into `args.cni` of the configuration or
 * of every plugin of a list; a resource device ID into `deviceID`/`pciBusID` likewise.
 */
export function nadNetwork(nad: NetworkAttachmentDefinition, selection: NetworkSelection, options: NadOptions): NetworkConfig {
  const label = nadLabel(nad);
  const { conf, bytes, where } = sourceConfig(nad, options, label);
  let changed = false;
  if (conf.name === undefined || conf.name === null || conf.name === '') {
    conf.name = nad.name;
    changed = true;
  }
  if (typeof conf.type === 'string' && conf.type !== '' && conf.plugins !== undefined) {
    // Multus would run "type" alone and ignore the list; which one was meant only the author knows.
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: has both "type" and "plugins"`,
      'keep "type" for a single plugin configuration, or "plugins" for a conflist, not both');
  }
  const plugins = pluginObjects(conf, where);
  if (selection.cniArgs && Object.keys(selection.cniArgs).length > 0) {
    for (const p of plugins) mergeCniArgs(p.plugin, selection.cniArgs, p.where);
    changed = true;
  }
  if (options.resourceDeviceID) {
    for (const p of plugins) {
      p.plugin.deviceID = options.resourceDeviceID;
      p.plugin.pciBusID = options.resourceDeviceID;
    }
    changed = true;
  }
  return parseNetworkConfig(conf, where, options.cniVersion, changed ? Buffer.from(JSON.stringify(conf)) : bytes);
}
