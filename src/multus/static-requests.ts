import type { ArgPairs } from '../cni/cni-args';
import { CniError, ErrorCode } from '../cni/errors';
import { declaresCapability, pluginType } from '../delegation/network-config';
import type { InvokeContext } from '../delegation/network-invoker';
import { findPlugin, locatePlugin } from '../delegation/plugin-path';
import { goField } from '../cni/config-reader';
import { delegateLabel, type Delegate } from './delegate';

/*
 * A pod's static `ips` and `mac` requests reach a delegate two ways, as in Multus: as runtimeConfig (libcni passes it
 * only to a plugin declaring the `ips`/`mac` capability, and only to a secondary network) and as the legacy
 * CNI_ARGS `IP=<list>` and `MAC=<mac>`, which the reference plugins read without any capability. Unlike Multus, a
 * request that neither way can deliver fails the ADD instead of giving the pod another address or MAC.
 */

/** Plugins that set the interface's MAC from CNI_ARGS `MAC` (reference plugins 1.1–1.9, and our macvlan). */
const MAC_FROM_ARGS = ['macvlan', 'tuning', 'bridge', 'tap'];
/** IPAM plugins that take addresses from CNI_ARGS `IP`. */
const IP_FROM_ARGS = ['host-local', 'static'];

function ipamType(plugin: Record<string, unknown>): string | undefined {
  const ipam = goField(plugin, 'ipam');
  const t = ipam !== null && typeof ipam === 'object' ? goField(ipam as Record<string, unknown>, 'type') : undefined;
  return typeof t === 'string' ? t : undefined;
}

function byRuntimeConfig(d: Delegate, primary: boolean, capability: 'ips' | 'mac'): boolean {
  // The primary never gets selection-element requests as runtimeConfig (Multus's CreateCNIRuntimeConf).
  return !primary && d.net.plugins.some((p) => declaresCapability(p, capability));
}

/**
 * Whether the reference host-local would get a list in `IP=`: it reads one address only and fails on a list. Our
 * own host-local reads the list: it is ours when the plugin calling it runs in-process (its IPAM then goes through
 * the same runner, `builtinPlugins` included), or when the binary on the path is this executable.
 */
function onlyOneIpFromArgs(ctx: InvokeContext, plugin: Record<string, unknown>): boolean {
  const { runner, pluginDirs } = ctx;
  try {
    const inProcess = runner.builtinAt?.(locatePlugin(runner, pluginType(plugin), pluginDirs)) !== undefined;
    const hostLocal = inProcess ? locatePlugin(runner, 'host-local', pluginDirs) : findPlugin('host-local', pluginDirs);
    return runner.builtinAt?.(hostLocal) !== 'host-local';
  } catch {
    return true;
  }
}

/**
 * The CNI_ARGS of one delegate on ADD: the common ones, with `MAC` and `IP` set from the pod's requests. A request
 * replaces a key of the same name the runtime passed, so no key appears twice. A list of several addresses is
 * left out of `IP` when runtimeConfig already carries it, since the reference host-local refuses a list there
 * (Multus appends it anyway and such a pod never starts).
 */
export function requestArgs(common: ArgPairs, d: Delegate, primary: boolean): ArgPairs {
  const extra: ArgPairs = [];
  if (d.macRequest) extra.push(['MAC', d.macRequest]);
  if (d.ipRequest?.length && !(d.ipRequest.length > 1 && byRuntimeConfig(d, primary, 'ips'))) extra.push(['IP', d.ipRequest.join(',')]);
  if (extra.length === 0) return common;
  const replaced = new Set(extra.map(([k]) => k));
  return [...common.filter(([k]) => !replaced.has(k)), ...extra];
}

/**
 * Fails, before anything is attached, when a delegate cannot receive the pod's `ips` or `mac` request through
 * either path: the pod would otherwise silently get another address or a random MAC.
 */
export function checkRequestsCarried(delegates: Delegate[], ctx: InvokeContext): void {
  delegates.forEach((d, i) => {
    const primary = i === 0;
    const types = d.net.plugins.map(pluginType);
    if (d.macRequest && !byRuntimeConfig(d, primary, 'mac') && !types.some((t) => MAC_FROM_ARGS.includes(t))) {
      throw new CniError(ErrorCode.InvalidNetworkConfig,
        `network "${delegateLabel(d)}": the pod asks for MAC ${d.macRequest}, but none of its plugins (${types.join(', ')}) can receive it`,
        primary ? `the cluster network gets requests only through CNI_ARGS MAC, which ${MAC_FROM_ARGS.join(', ')} read`
          : `declare "capabilities": {"mac": true} on a plugin that sets runtimeConfig.mac, or use one that reads CNI_ARGS MAC (${MAC_FROM_ARGS.join(', ')})`);
    }
    if (d.ipRequest?.length && !byRuntimeConfig(d, primary, 'ips')) {
      const ipams = d.net.plugins.map(ipamType).filter((t): t is string => t !== undefined);
      const readers = d.net.plugins.filter((p) => IP_FROM_ARGS.includes(ipamType(p) ?? ''));
      const listRefused = d.ipRequest.length > 1 && readers.length > 0
        && readers.every((p) => ipamType(p) === 'host-local' && onlyOneIpFromArgs(ctx, p));
      if (readers.length === 0 || listRefused) {
        throw new CniError(ErrorCode.InvalidNetworkConfig,
          `network "${delegateLabel(d)}": the pod asks for IPs ${d.ipRequest.join(', ')}, but ${readers.length === 0
            ? `none of its plugins can receive them (IPAM: ${ipams.join(', ') || 'none'})`
            : 'the host-local plugin installed reads only one address from CNI_ARGS IP'}`,
          primary ? 'the cluster network gets requests only through CNI_ARGS IP, which host-local and static read'
            : 'declare "capabilities": {"ips": true} on the plugin whose IPAM honours runtimeConfig.ips (host-local, static, whereabouts)');
      }
    }
  });
}
