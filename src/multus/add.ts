import { existsSync } from 'node:fs';
import { CniError, ErrorCode, toCniError } from '../cni/errors';
import { convertResult, type Result } from '../cni/result';
import type { ReleasePrepared } from '../cni/runner';
import type { Invocation } from '../cni/skel';
import { addNetwork, prepareAdds, type RuntimeConf } from '../delegation/network-invoker';
import { writeCachedResult } from '../delegation/result-cache';
import { isLevelEnabled, logVerbose } from '../log/logger';
import { prepareCall, podPrefix, runtimeConfFor, type MultusCall } from './call';
import { delegateLabel, type Delegate } from './delegate';
import { applyDefaultRoutes, planDefaultRoutes, rewriteRoutes } from './default-route';
import { delDelegates } from './del';
import { clearDeletedMark } from './deleted-marks';
import { prepareDeviceInfo } from './device-info';
import { checkInterfaceNames, checkPluginsInstalled, podDelegates } from './pod-networks';
import { podContext, type KubeContext } from './kube-context';
import { addedInterfaceMessage, podEvents } from './events';
import { auxiliaryChain } from './aux-chain';
import { writeNetworkStatus } from './network-status';
import { waitForReadiness } from './readiness';
import { checkRequestsCarried, requestArgs } from './static-requests';
import { removeScratchCache, writeScratchCache } from './scratch-cache';
import { lockContainer } from './container-lock';

/**
 * Undoes a failed ADD: DEL for every delegate up to and including the one that failed (it may have done half its
 * work). When the delegates that were attached are all gone, nothing is left, not even the scratch cache; otherwise
 * the cache stays so that the runtime's DEL can try again. The failed delegate's own DEL is a courtesy: a plugin
 * whose ADD fails must leave nothing (spec), and some reference plugins cannot DEL what they refused to ADD.
 */
async function rollback(call: MultusCall, attempted: Delegate[], failedIndex: number | undefined): Promise<string[]> {
  const failures = await delDelegates(call, attempted);
  if (failures.every((f) => f.index === failedIndex)) removeScratchCache(call.conf.cniDir, call.inv.cmd.containerId);
  return failures.map((f) => f.message);
}

/**
 * Rolls back the delegates ADD attempted (up to `failedIndex`, the one that failed, or all of them when a later
 * step failed) and throws `err` with where it happened (if `where` is given) and what the rollback left.
 */
async function undo(call: MultusCall, attempted: Delegate[], failedIndex: number | undefined, err: CniError, where?: string): Promise<never> {
  const rollbackErrors = await rollback(call, attempted, failedIndex);
  const details = [err.details, ...rollbackErrors.map((r) => `rollback: ${r}`)].filter((s) => s).join('; ');
  throw new CniError(err.code, where ? `${where}: ${err.message}` : err.message, details);
}

/** Writes the delegate cache; what went wrong, as the error the ADD fails with, instead of throwing it. */
function saveDelegates(call: MultusCall, delegates: Delegate[]): CniError | undefined {
  try {
    writeScratchCache(call.conf.cniDir, call.inv.cmd.containerId, delegates);
    return undefined;
  } catch (e) {
    return toCniError(e);
  }
}

/** What the runtime says about the attachment of delegate `i`, with the pod's requests for it. */
function delegateRuntime(call: MultusCall, d: Delegate, i: number): RuntimeConf {
  const rt = runtimeConfFor(call, d, i);
  rt.args = requestArgs(rt.args, d, i === 0);
  return rt;
}

export async function cmdAdd(inv: Invocation): Promise<Record<string, unknown>> {
  const call = prepareCall(inv);
  // Held around the call rather than through a wrapper, so that the ADD reads straight from here to the delegates.
  const lock = await lockContainer(call.conf.cniDir, inv.cmd.containerId, call.conf.delegateTimeoutMs);
  try {
    return await addLocked(call);
  } finally {
    lock.release();
  }
}

async function addLocked(call: MultusCall): Promise<Record<string, unknown>> {
  const { conf, inv } = call;
  const { cmd } = inv;
  if (conf.readinessIndicatorFile) await waitForReadiness(conf.readinessIndicatorFile, conf.readinessTimeoutMs);
  if (!existsSync(cmd.netns)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${cmd.netns} does not exist`, 'the pod sandbox is gone or the path is wrong');
  }
  const kube = await podContext(call);
  const events = await podEvents(call, kube);
  if (kube && events) kube.events = events;
  try {
    return await attach(call, kube);
  } finally {
    await events?.settle();
  }
}

async function attach(call: MultusCall, kube: KubeContext | undefined): Promise<Record<string, unknown>> {
  const { conf } = call;
  const { cmd } = call.inv;
  // Everything is resolved and checked before the first delegate runs: a bad annotation attaches nothing.
  const delegates = await podDelegates(call, kube);
  const aux = auxiliaryChain(conf);
  if (aux) delegates.push(aux);
  checkInterfaceNames(delegates, cmd.ifName);
  checkPluginsInstalled(call, delegates);
  checkRequestsCarried(delegates, call.invoke);
  planDefaultRoutes(delegates);
  // Before anything runs: a DEL that found the mark of an earlier DEL of this container ID would do nothing.
  clearDeletedMark(conf.cniDir, cmd.containerId);

  // What was prepared for the ADDs after the primary's (see below); let go of once they are done, however they ended.
  let releasePrepared: ReleasePrepared | undefined;
  try {
    const results: Result[] = [];
    const rts: RuntimeConf[] = [];
    const runtimes = delegates.map((d, i) => delegateRuntime(call, d, i));
    let unsaved: CniError | undefined;
    for (let i = 0; i < delegates.length; i++) {
      const d = delegates[i]!;
      const rt = runtimes[i]!;
      try {
        prepareDeviceInfo(call, d, i);
        const adding = addNetwork(call.invoke, d.net, rt);
        if (i === 0) {
          // The delegate cache, written while the primary's plugin runs (addNetwork has started it, or, for a
          // built-in, runs it once this returns): the pod's start waits for neither the JSON nor the file (about
          // 0.7 ms). The container's lock is held, so no DEL of it can look before the cache is there; a call killed
          // within this millisecond leaves a DEL no cache, which then deletes the configured networks (del.ts). The
          // lock already made a file in cniDir, so what fails here is rare (a full disk): the ADD fails as any
          // failed step does, the primary undone once it answered.
          unsaved = saveDelegates(call, delegates);
          if (unsaved) {
            await adding.catch(() => undefined);
            break;
          }
        }
        // The primary's plugin is most often a process of its own, started by now, and this one then only waits for
        // it: the ADDs after it get ready meanwhile, for what needs nothing from it (their code, the pod's fds).
        if (i === 0 && delegates.length > 1) {
          const later = delegates.slice(1).map((x, j) => ({ net: x.net, rt: runtimes[j + 1]! }));
          releasePrepared = prepareAdds(call.invoke, later, adding);
        }
        const out = await adding;
        // Converted now, while a refusal can still be rolled back like any other failure.
        if (i === 0) convertResult(out.result, conf.cniVersion);
        results.push(out.result);
        rts.push(rt);
        // Messages made only for someone to get them: per attachment, without Kubernetes or verbose logs, nobody does.
        const events = kube?.events;
        const added = events && addedInterfaceMessage(rt.ifName, out.result, delegateLabel(d));
        if (added) events.normal('AddedInterface', added);
        if (isLevelEnabled('verbose')) logVerbose(`${podPrefix(call, delegateLabel(d))}: added interface ${rt.ifName}`);
      } catch (e) {
        return undo(call, delegates.slice(0, i + 1), i, toCniError(e),
          `${podPrefix(call, delegateLabel(d))}: error adding container to network "${d.net.name}" on interface ${rt.ifName}`);
      }
    }
    if (unsaved) return undo(call, delegates.slice(0, 1), undefined, unsaved);
    if (delegates.some((d) => d.isFilterV4Gateway || d.isFilterV6Gateway)) {
      try {
        await applyDefaultRoutes(cmd.netns, delegates, rts.map((rt) => rt.ifName));
        delegates.forEach((d, i) => {
          if (!d.isFilterV4Gateway && !d.isFilterV6Gateway) return;
          results[i] = { ...results[i]!, routes: rewriteRoutes(results[i]!, d) };
          // CHECK compares the routes in the cached result with the pod's: they must say what is there now.
          writeCachedResult(call.invoke.cacheDir, d.net, { ...rts[i]!, cniArgs: rts[i]!.args, result: convertResult(results[i]!, d.net.cniVersion) });
        });
      } catch (e) {
        return undo(call, delegates, undefined, toCniError(e), `${podPrefix(call, 'default-route')}: error setting the default routes`);
      }
    }
    if (kube?.pod) {
      try {
        await writeNetworkStatus(call, kube, delegates, results);
      } catch (e) {
        return undo(call, delegates, undefined, toCniError(e), `${podPrefix(call, 'network-status')}: error setting the networks status`);
      }
    }
    return convertResult(results[0]!, conf.cniVersion);
  } finally {
    releasePrepared?.();
  }
}
