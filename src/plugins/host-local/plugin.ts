import { CniError, ErrorCode } from '../../cni/errors';
import { convertResult, type DNS } from '../../cni/result';
import type { ReleasePrepared, StopSignal } from '../../cni/runner';
import type { CniPlugin, Invocation } from '../../cni/skel';
import { CURRENT_VERSION } from '../../cni/version';
import { readValidAttachments } from '../../cni/gc';
import { allocate } from './allocator';
import { loadConfig, requestedIps, type HostLocalConfig } from './config';
import { parseResolvConf } from './dns';
import { lockExistingStore, lockStore, type Unlock } from './lock';
import { holdsAddress, releaseAllExcept, releaseAttachment } from './release';
import { NetworkStore } from './store';

/*
 * host-local IPAM, compatible with the reference plugin in keys, results and store. Each call holds the store's
 * lock for all of its work, where the reference locks once per range set: an ADD is then atomic (no other allocator
 * sees half of a dual-stack allocation or races its rollback), it costs one lock instead of one per set, and since
 * it covers every moment the reference would hold the lock, the two still exclude each other.
 */

async function withLockedStore<T>(conf: HostLocalConfig, fn: (store: NetworkStore) => T, signal?: StopSignal): Promise<T> {
  const store = NetworkStore.at(conf.dataDir, conf.name);
  // Taking the lock tells whether the directory exists, so only a network's first ADD looks for it and makes it.
  let unlock = await lockExistingStore(store.dir, signal);
  if (!unlock) {
    store.create();
    unlock = await lockStore(store.dir, signal);
  }
  return withUnlock(unlock, () => {
    try {
      return fn(store);
    } finally {
      store.close();
    }
  });
}

/** The same for commands that only read or release: a network without a store has nothing, and gets no store. */
async function withExistingStore<T>(conf: HostLocalConfig, fn: (store: NetworkStore) => T, nothing: T, signal?: StopSignal): Promise<T> {
  const store = NetworkStore.at(conf.dataDir, conf.name);
  const unlock = await lockExistingStore(store.dir, signal);
  return unlock ? withUnlock(unlock, () => fn(store)) : nothing;
}

function withUnlock<T>(unlock: Unlock, fn: () => T): T {
  try {
    return fn();
  } finally {
    unlock();
  }
}

/**
 * Configurations read while an ADD was prepared (prepareAdd), by the configuration object that ADD is given (skel.ts
 * hands a prepared call the object it read then). Taken once.
 */
const prepared = new WeakMap<Record<string, unknown>, HostLocalConfig>();

function prepareAdd(inv: Invocation): ReleasePrepared {
  try {
    prepared.set(inv.config, loadConfig(inv.config));
  } catch {
    // The ADD reads it again and fails there.
  }
  return () => undefined;
}

function addConfig(config: Record<string, unknown>): HostLocalConfig {
  const early = prepared.get(config);
  if (early === undefined) return loadConfig(config);
  prepared.delete(config);
  return early;
}

async function add(inv: Invocation): Promise<Record<string, unknown>> {
  const conf = addConfig(inv.config);
  const requested = requestedIps(inv.config, inv.cmd.args);
  // Read before the store is touched, so that a bad path leaves no trace.
  const dns: DNS = conf.resolvConf ? parseResolvConf(conf.resolvConf) : {};
  const who = { containerId: inv.cmd.containerId, ifName: inv.cmd.ifName };
  // Every command gives up waiting for the store when its caller does: the work itself, once the lock is held, is
  // never interrupted, and a DEL that could not get the lock fails so that the runtime retries it.
  const ips = await withLockedStore(conf, (store) => allocate(store, conf.rangeSets, who, requested), inv.signal);
  return convertResult({ cniVersion: CURRENT_VERSION, interfaces: [], ips, routes: conf.routes, dns }, inv.cniVersion);
}

/*
 * DEL and CHECK read CNI_ARGS nowhere: requested addresses only matter to ADD, and a DEL must not fail over
 * arguments it does not use (the reference parses them and fails on unknown keys).
 */
async function del(inv: Invocation): Promise<void> {
  const conf = loadConfig(inv.config);
  await withExistingStore(conf, (store) =>
    releaseAttachment(store, inv.cmd.containerId, inv.cmd.ifName, conf.rangeSets.length), undefined, inv.signal);
}

async function check(inv: Invocation): Promise<void> {
  const conf = loadConfig(inv.config);
  const found = await withExistingStore(conf, (store) => holdsAddress(store, inv.cmd.containerId, inv.cmd.ifName), false, inv.signal);
  if (!found) {
    throw new CniError(ErrorCode.Internal, `host-local: Failed to find address added by container ${inv.cmd.containerId}`,
      `no reservation in ${conf.dataDir}/${conf.name} belongs to ${inv.cmd.containerId}/${inv.cmd.ifName}`);
  }
}

/** The reference has no GC yet; this one releases what the runtime no longer lists. */
async function gc(inv: Invocation): Promise<void> {
  const conf = loadConfig(inv.config);
  const valid = readValidAttachments(inv.config);
  if (valid === undefined) return;
  await withExistingStore(conf, (store) => releaseAllExcept(store, valid), undefined, inv.signal);
}

export const hostLocalPlugin: CniPlugin = {
  about: 'CNI host-local plugin (multus-ts): IP address management from local ranges, compatible with the reference store',
  add,
  prepareAdd,
  del,
  check,
  // Nothing outside the store can make it unready, and the store is only checked by using it.
  status: async () => undefined,
  gc,
};
