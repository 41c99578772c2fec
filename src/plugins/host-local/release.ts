import { legacyOwnerKey, ownerKey, type NetworkStore, type Reservation } from './store';
import type { ValidAttachment } from '../../cni/gc';

/** Removes each reservation, trying all of them; the failures, as messages. */
function removeAll(store: NetworkStore, doomed: Reservation[]): string[] {
  const errors: string[] = [];
  for (const r of doomed) {
    try {
      store.remove(r.name);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return errors;
}

function failIfAny(errors: string[]): void {
  if (errors.length > 0) throw new Error(errors.join('; '));
}

/**
 * DEL: releases the attachment's addresses. Files of the oldest format (container ID only) go as well when the
 * attachment had none of the current format, or when the network has more than one range set: the reference
 * releases once per set, and each pass after the first finds only those.
 */
export function releaseAttachment(store: NetworkStore, containerId: string, ifName: string, rangeSetCount: number): void {
  const all = store.reservations();
  const owner = ownerKey(containerId, ifName);
  const current = all.filter((r) => r.owner === owner);
  const errors = removeAll(store, current);
  const removedAny = current.length > errors.length;
  if (!removedAny || rangeSetCount > 1) {
    const legacy = legacyOwnerKey(containerId);
    errors.push(...removeAll(store, all.filter((r) => r.owner === legacy)));
  }
  failIfAny(errors);
}

/** CHECK: whether the attachment holds an address, or its container does in a file of the oldest format. */
export function holdsAddress(store: NetworkStore, containerId: string, ifName: string): boolean {
  const owner = ownerKey(containerId, ifName);
  const legacy = legacyOwnerKey(containerId);
  return store.reservations().some((r) => r.owner === owner || r.owner === legacy);
}

/**
 * GC: releases every reservation not owned by one of the valid attachments, including empty files left by a crash
 * between creating and writing one. A file of the oldest format is kept while its container has any valid
 * attachment, since it does not say which interface it belongs to.
 */
export function releaseAllExcept(store: NetworkStore, valid: readonly ValidAttachment[]): void {
  const keep = new Set<string>();
  for (const a of valid) {
    keep.add(ownerKey(a.containerId, a.ifName));
    keep.add(legacyOwnerKey(a.containerId));
  }
  failIfAny(removeAll(store, store.reservations().filter((r) => !keep.has(r.owner))));
}
