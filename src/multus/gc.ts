import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Invocation } from '../cni/skel';
import { CniError, ErrorCode } from '../cni/errors';
import { isSafeName } from '../cni/environment';
import { readValidAttachments, type ValidAttachment } from '../cni/gc';
import { gcNetwork } from '../delegation/network-invoker';
import { logVerbose } from '../log/logger';
import { prepareCall, type MultusCall } from './call';
import { delDelegates } from './del';
import { pruneDeletedMarks } from './deleted-marks';
import { connect } from './kube-context';
import { primaryDelegate } from './pod-networks';
import { readScratchCache, removeScratchCache } from './scratch-cache';
import { lockContainer } from './container-lock';
import { parseJson } from '../cni/json-text';
import { readRegularFile } from '../util/bounded-read';

/** The containers the runtime still runs: an absent list keeps none (libcni always sends one). */
function validContainers(config: Record<string, unknown>): Set<string> {
  return new Set((readValidAttachments(config) ?? []).map((a) => a.containerId));
}

interface CachedRecord {
  networkName: string;
  containerId: string;
  ifName: string;
  netns: string;
}

/** The libcni result caches under cniDir: which attachments exist, on which interface and netns. */
function cachedRecords(cniDir: string): CachedRecord[] {
  const dir = join(cniDir, 'results');
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const out: CachedRecord[] = [];
  for (const f of files) {
    try {
      const rec = parseJson(readRegularFile(join(dir, f)).toString('utf8')) as Record<string, unknown>;
      const { networkName, containerId, ifName, netns } = rec;
      if (typeof networkName === 'string' && typeof containerId === 'string' && typeof ifName === 'string') {
        out.push({ networkName, containerId, ifName, netns: typeof netns === 'string' ? netns : '' });
      }
    } catch {
      // a file being written, or not a result cache
    }
  }
  return out;
}

/** Full DEL of every attachment we hold a scratch cache for that the runtime no longer lists. */
async function removeStale(call: MultusCall, keep: Set<string>, records: CachedRecord[]): Promise<string[]> {
  const { cniDir } = call.conf;
  const errors: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(cniDir);
  } catch {
    return errors;
  }
  for (const containerId of entries) {
    if (keep.has(containerId) || !isSafeName(containerId)) continue;
    let lock;
    try {
      // A container another multus call is working on right now is not stale; the next GC looks again.
      lock = await lockContainer(cniDir, containerId, 0);
    } catch {
      logVerbose(`GC: container ${containerId} is busy; skipped`);
      continue;
    }
    try {
      const cache = readScratchCache(cniDir, containerId, call.conf.cniVersion);
      if (cache.state !== 'found') continue;
      // The primary's result cache remembers the interface name and netns the runtime gave at ADD.
      const primary = records.find((r) => r.containerId === containerId && r.networkName === cache.delegates[0]!.net.name);
      logVerbose(`GC: deleting stale attachment of container ${containerId}`);
      const cmd = { ...call.inv.cmd, containerId, netns: primary?.netns ?? '', ifName: primary?.ifName ?? 'eth0' };
      const errs = await delDelegates({ ...call, inv: { ...call.inv, cmd } }, cache.delegates);
      if (errs.length === 0) removeScratchCache(cniDir, containerId);
      errors.push(...errs.map((f) => f.message));
    } finally {
      lock.release();
    }
  }
  return errors;
}

export async function cmdGc(inv: Invocation): Promise<void> {
  const call = prepareCall(inv);
  const valid = validContainers(inv.config);
  const errors = await removeStale(call, valid, cachedRecords(call.conf.cniDir));
  // A container the runtime no longer lists gets no more DELs: its "already deleted" mark has done its job.
  pruneDeletedMarks(call.conf.cniDir, valid);
  const primary = (await primaryDelegate(call, await connect(call))).net;
  const keep: ValidAttachment[] = cachedRecords(call.conf.cniDir)
    .filter((r) => r.networkName === primary.name)
    .map((r) => ({ containerId: r.containerId, ifName: r.ifName }));
  try {
    await gcNetwork(call.invoke, primary, keep);
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (errors.length > 0) throw new CniError(ErrorCode.Internal, errors.join('; '));
}
