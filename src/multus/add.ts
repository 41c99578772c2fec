import { existsSync } from 'node:fs';
import { CniError, ErrorCode, toCniError } from '../cni/errors';
import { convertResult } from '../cni/result';
import type { Invocation } from '../cni/skel';
import { addNetwork } from '../delegation/network-invoker';
import { logVerbose } from '../log/logger';
import { prepareCall, podPrefix, runtimeConfFor, type MultusCall } from './call';
import { delegateLabel, type Delegate } from './delegate';
import { delDelegates } from './del';
import { checkInterfaceNames, checkPluginsInstalled, configuredDelegates } from './pod-networks';
import { waitForReadiness } from './readiness';
import { removeScratchCache, writeScratchCache } from './scratch-cache';

/**
 * Undoes a failed ADD: DEL for every delegate up to and including the one that failed (it may have done half its
 * work). When the delegates that were attached are all gone, nothing is left, not even the scratch cache; otherwise
 * the cache stays so that the runtime's DEL can try again. The failed delegate's own DEL is a courtesy: a plugin
 * whose ADD fails must leave nothing (spec), and some reference plugins cannot DEL what they refused to ADD.
 */
async function rollback(call: MultusCall, delegates: Delegate[], failedIndex: number): Promise<string[]> {
  const failures = await delDelegates(call, delegates.slice(0, failedIndex + 1));
  if (failures.every((f) => f.index === failedIndex)) removeScratchCache(call.conf.cniDir, call.inv.cmd.containerId);
  return failures.map((f) => f.message);
}

export async function cmdAdd(inv: Invocation): Promise<Record<string, unknown>> {
  const call = prepareCall(inv);
  const { conf } = call;
  const { cmd } = inv;
  if (conf.readinessIndicatorFile) await waitForReadiness(conf.readinessIndicatorFile, conf.readinessTimeoutMs);
  if (!existsSync(cmd.netns)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${cmd.netns} does not exist`, 'the pod sandbox is gone or the path is wrong');
  }
  const delegates = configuredDelegates(call);
  checkInterfaceNames(delegates, cmd.ifName);
  checkPluginsInstalled(call, delegates);
  writeScratchCache(conf.cniDir, cmd.containerId, delegates);

  let primary: Record<string, unknown> | undefined;
  for (let i = 0; i < delegates.length; i++) {
    const d = delegates[i]!;
    const rt = runtimeConfFor(call, d, i);
    try {
      const out = await addNetwork(call.invoke, d.net, rt);
      // Converted now, while a refusal can still be rolled back like any other failure.
      if (i === 0) primary = convertResult(out.result, conf.cniVersion);
      logVerbose(`${podPrefix(call, delegateLabel(d))}: added interface ${rt.ifName}`);
    } catch (e) {
      const err = toCniError(e);
      const rollbackErrors = await rollback(call, delegates, i);
      const details = [err.details, ...rollbackErrors.map((r) => `rollback: ${r}`)].filter((s) => s).join('; ');
      throw new CniError(err.code,
        `${podPrefix(call, delegateLabel(d))}: error adding container to network "${d.net.name}" on interface ${rt.ifName}: ${err.message}`,
        details);
    }
  }
  return primary!;
}
