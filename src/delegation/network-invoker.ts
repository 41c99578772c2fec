import { CniError, ErrorCode, toCniError } from '../cni/errors';
import { joinCniArgs, type ArgPairs } from '../cni/cni-args';
import type { Command } from '../cni/environment';
import { validAttachmentsKeys, type ValidAttachment } from '../cni/gc';
import type { PendingAdd, PluginRunner, ReleasePrepared } from '../cni/runner';
import { versionAtLeast } from '../cni/version';
import { parseResult, convertResult, type Result } from '../cni/result';
import { logDebug, isLevelEnabled } from '../log/logger';
import { decodeAnswer, pluginAnswer, type PluginAnswer } from './add-answer';
import { locatePlugin } from './plugin-path';
import { buildPluginStdin, pluginType, type NetworkConfig } from './network-config';
import { loadCachedResult, removeCachedResult, writeCachedResult, type AttachmentKey, type CachedResult } from './result-cache';

/** What the runtime says about one attachment (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifName: string;
  args: ArgPairs;
  capabilityArgs: Record<string, unknown>;
}

/** Where plugins and caches live, how long a plugin may take, and what runs it. */
export interface InvokeContext {
  cacheDir: string;
  pluginDirs: string[];
  timeoutMs: number;
  baseEnv: NodeJS.ProcessEnv;
  runner: PluginRunner;
}

export interface AddOutcome {
  /** The final plugin's result as it printed it (in the network's version). */
  raw: Record<string, unknown>;
  result: Result;
}

/** A plugin's environment for `command` on the attachment `rt` (libcni's args.AsEnv). */
function pluginEnv(ctx: InvokeContext, command: Command, rt: RuntimeConf): NodeJS.ProcessEnv {
  return {
    ...ctx.baseEnv,
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_ARGS: joinCniArgs(rt.args),
    CNI_IFNAME: rt.ifName,
    CNI_PATH: ctx.pluginDirs.join(':'),
  };
}

async function callPlugin(ctx: InvokeContext, command: Command, net: NetworkConfig, plugin: Record<string, unknown>,
  rt: RuntimeConf, stdin: Buffer, prepared?: PendingAdd): Promise<PluginAnswer> {
  const type = pluginType(plugin);
  const label = `${type} ${command} (network "${net.name}"${rt.ifName ? `, interface ${rt.ifName}` : ''})`;
  const env = prepared?.env ?? pluginEnv(ctx, command, rt);
  if (isLevelEnabled('debug')) logDebug(`${label}: CNI_ARGS=${env.CNI_ARGS} stdin=${stdin.toString('utf8')}`);
  try {
    const pluginPath = prepared?.pluginPath ?? locatePlugin(ctx.runner, type, ctx.pluginDirs);
    const req = { pluginPath, env, stdin, timeoutMs: ctx.timeoutMs, label };
    return pluginAnswer(req, await ctx.runner.run(req));
  } catch (e) {
    // libcni's wording, so that the failing plugin is named however deep the chain is.
    throw toCniError(e).withContext(`plugin type="${type}" failed (${command.toLowerCase()})`);
  }
}

function attachmentKey(net: NetworkConfig, rt: RuntimeConf): AttachmentKey {
  return { networkName: net.name, containerId: rt.containerId, ifName: rt.ifName };
}

/** The cached result, in the network's version, for use as prevResult; undefined when there is none usable. */
function prevResultFrom(cached: CachedResult, net: NetworkConfig): Record<string, unknown> | undefined {
  if (cached.result === undefined) return undefined;
  try {
    return convertResult(parseResult(cached.result, net.cniVersion), net.cniVersion);
  } catch {
    return undefined;
  }
}

/**
 * The calls prepareAdds made, by the attachment they are for: the caller's own RuntimeConf object, which it hands to
 * addNetwork too (made once, the same object, so that nothing else can match it).
 */
const preparedCalls = new WeakMap<RuntimeConf, { net: NetworkConfig; req: PendingAdd }>();

/** ADD through every plugin of the network in order, chaining results; the final one is cached. */
export async function addNetwork(ctx: InvokeContext, net: NetworkConfig, rt: RuntimeConf): Promise<AddOutcome> {
  let prev: Record<string, unknown> | undefined;
  // The first plugin's call as prepareAdds made it for this network and attachment, if it did: sent as it is.
  const early = preparedCalls.get(rt);
  for (const plugin of net.plugins) {
    const prepared = prev === undefined && early?.net === net ? early.req : undefined;
    const stdin = prepared?.stdin ?? buildPluginStdin(net, plugin, prev, rt.capabilityArgs);
    prev = decodeAnswer(await callPlugin(ctx, 'ADD', net, plugin, rt, stdin, prepared), net.cniVersion,
      `plugin "${pluginType(plugin)}" of network "${net.name}"`);
  }
  const raw = prev as Record<string, unknown>;
  const result = parseResult(raw, net.cniVersion);
  writeCachedResult(ctx.cacheDir, net, { ...rt, cniArgs: rt.args, result: raw });
  return { raw, result };
}

/**
 * Tells the runner, while the call waits for a plugin (`until` settles), which networks it ADDs next and how (the first plugin of each,
 * whose environment and stdin are known before any result), so that it may prepare what it can for them without
 * touching anything outside this process (see PluginRunner.prepareAdds). Returns what lets go of that preparation,
 * to be called once those ADDs are done. A plugin that cannot be found is left to its ADD to report.
 */
export function prepareAdds(ctx: InvokeContext, adds: Array<{ net: NetworkConfig; rt: RuntimeConf }>, until: Promise<unknown>): ReleasePrepared {
  if (!ctx.runner.prepareAdds) return () => undefined;
  const pending: PendingAdd[] = [];
  for (const { net, rt } of adds) {
    const plugin = net.plugins[0]!;
    try {
      const req = {
        pluginPath: locatePlugin(ctx.runner, pluginType(plugin), ctx.pluginDirs),
        env: pluginEnv(ctx, 'ADD', rt),
        stdin: buildPluginStdin(net, plugin, undefined, rt.capabilityArgs),
      };
      pending.push(req);
      preparedCalls.set(rt, { net, req });
    } catch {
      // not installed, or a type that names no plugin
    }
  }
  const release = ctx.runner.prepareAdds(pending, until);
  return () => {
    for (const { rt } of adds) preparedCalls.delete(rt);
    release();
  };
}

/**
 * Tells the runner which single-plugin networks are about to get a DEL in `netns`, so that it may do their common
 * work at once (see PluginRunner.beforeDels). A plugin that cannot be found is left to its own DEL to report.
 */
export async function announceDels(ctx: InvokeContext, netns: string, dels: Array<{ net: NetworkConfig; ifName: string }>): Promise<void> {
  if (!ctx.runner.beforeDels || netns === '') return;
  const pending = [];
  for (const { net, ifName } of dels) {
    if (net.plugins.length !== 1) continue;
    try {
      pending.push({ pluginPath: locatePlugin(ctx.runner, pluginType(net.plugins[0]!), ctx.pluginDirs), netns, ifName });
    } catch {
      // not installed
    }
  }
  if (pending.length > 0) await ctx.runner.beforeDels(pending);
}

/**
 * DEL through every plugin in reverse order. Every plugin is called even when one fails, so that one broken
 * plugin does not leak what the others hold; the cached result goes only when all succeeded. `cached` is the
 * attachment's cache when the caller has read it already.
 */
export async function delNetwork(ctx: InvokeContext, net: NetworkConfig, rt: RuntimeConf, cached?: CachedResult): Promise<void> {
  const prev = versionAtLeast(net.cniVersion, '0.4.0')
    ? prevResultFrom(cached ?? loadCachedResult(ctx.cacheDir, attachmentKey(net, rt)), net) : undefined;
  const errors: string[] = [];
  for (const plugin of [...net.plugins].reverse()) {
    try {
      await callPlugin(ctx, 'DEL', net, plugin, rt, buildPluginStdin(net, plugin, prev, rt.capabilityArgs));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) throw new CniError(ErrorCode.Internal, errors.join('; '));
  removeCachedResult(ctx.cacheDir, attachmentKey(net, rt));
}

export async function checkNetwork(ctx: InvokeContext, net: NetworkConfig, rt: RuntimeConf): Promise<void> {
  if (!versionAtLeast(net.cniVersion, '0.4.0')) {
    throw new CniError(ErrorCode.IncompatibleVersion, `configuration version "${net.cniVersion}" does not support the CHECK command`,
      `network "${net.name}": CHECK needs cniVersion 0.4.0 or later`);
  }
  if (net.disableCheck) return;
  const prev = prevResultFrom(loadCachedResult(ctx.cacheDir, attachmentKey(net, rt)), net);
  if (prev === undefined) {
    throw new CniError(ErrorCode.UnknownContainer,
      `network "${net.name}": no cached result for container ${rt.containerId} interface ${rt.ifName}; was it added?`);
  }
  for (const plugin of net.plugins) {
    await callPlugin(ctx, 'CHECK', net, plugin, rt, buildPluginStdin(net, plugin, prev, rt.capabilityArgs));
  }
}

const NO_ATTACHMENT: RuntimeConf = { containerId: '', netns: '', ifName: '', args: [], capabilityArgs: {} };

/** STATUS exists from 1.1.0 on; an older network is ready as far as the spec can tell. */
export async function statusNetwork(ctx: InvokeContext, net: NetworkConfig): Promise<void> {
  if (!versionAtLeast(net.cniVersion, '1.1.0')) return;
  for (const plugin of net.plugins) {
    await callPlugin(ctx, 'STATUS', net, plugin, NO_ATTACHMENT, buildPluginStdin(net, plugin, undefined, {}));
  }
}

/** GC to every plugin with the attachments to keep (both key spellings, as libcni sends them). */
export async function gcNetwork(ctx: InvokeContext, net: NetworkConfig, valid: ValidAttachment[]): Promise<void> {
  if (!versionAtLeast(net.cniVersion, '1.1.0')) return;
  const errors: string[] = [];
  for (const plugin of net.plugins) {
    const withValid = { ...plugin, ...validAttachmentsKeys(valid) };
    try {
      await callPlugin(ctx, 'GC', net, plugin, NO_ATTACHMENT, buildPluginStdin(net, withValid, undefined, {}));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) throw new CniError(ErrorCode.Internal, `GC of network "${net.name}": ${errors.join('; ')}`);
}
