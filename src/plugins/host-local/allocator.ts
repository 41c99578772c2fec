import { CniError, ErrorCode } from '../../cni/errors';
import type { IPConfig } from '../../cni/result';
import { formatIp, offsetIp, sameIp, type IP } from './address';
import type { Range } from './range';
import { rangeFor, rangeSetText, type RangeSet } from './range-set';
import { legacyOwnerKey, ownerKey, type NetworkStore, type Reservation } from './store';

/** One address to try, with the range it would come from. */
interface Candidate {
  ip: IP;
  range: Range;
}

/**
 * The reference's round robin, so that both plugins hand out the same next address: start right after the set's
 * last reserved address (or at the first range's rangeStart when there is none in the set), run to rangeEnd, go on
 * at the next range's rangeStart, wrap around, skip each range's gateway, and stop where it started.
 */
export function* candidates(set: RangeSet, lastReserved: IP | undefined): Generator<Candidate> {
  let index = 0;
  let cur: IP | undefined;
  let start: IP | undefined;
  if (lastReserved && rangeFor(set, lastReserved)) {
    index = set.indexOf(rangeFor(set, lastReserved)!);
    cur = lastReserved;
  }
  for (;;) {
    let range = set[index]!;
    if (cur === undefined) {
      cur = range.rangeStart;
      start = cur;
    } else {
      if (cur.value === range.rangeEnd.value) {
        index = (index + 1) % set.length;
        range = set[index]!;
        cur = range.rangeStart;
      } else {
        cur = offsetIp(cur, 1n);
      }
      if (start === undefined) start = cur;
      else if (sameIp(cur, start)) return;
    }
    if (!sameIp(cur, range.gateway)) yield { ip: cur, range };
  }
}

function allocationError(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.Internal, msg, details);
}

function ipConfig({ ip, range }: Candidate): IPConfig {
  return { address: `${formatIp(ip)}/${range.prefix}`, gateway: formatIp(range.gateway) };
}

interface Attachment {
  containerId: string;
  ifName: string;
}

/** The allocation for one range set; `existing` is the store as it was when the call took the lock. */
function allocateFromSet(
  store: NetworkStore, set: RangeSet, rangeId: number, who: Attachment, requested: IP | undefined, existing: Reservation[],
): Candidate {
  const owner = ownerKey(who.containerId, who.ifName);
  if (requested) {
    const range = rangeFor(set, requested)!;
    const text = formatIp(requested);
    if (sameIp(requested, range.gateway)) {
      throw allocationError(`requested ip ${text} is subnet's gateway`, 'request an address other than the gateway of its range');
    }
    if (!store.reserve(requested, owner, rangeId)) {
      throw allocationError(`requested IP address ${text} is not available in range set ${rangeSetText(set)}`,
        `${text} is already reserved in ${store.dir}`);
    }
    return { ip: requested, range };
  }

  // One address per set and attachment; files of the oldest format name only the container.
  const legacy = legacyOwnerKey(who.containerId);
  const held = existing.find((r) => (r.owner === owner || r.owner === legacy) && rangeFor(set, r.ip));
  if (held) {
    throw allocationError(`${formatIp(held.ip)} has been allocated to ${who.containerId}, duplicate allocation is not allowed`,
      `DEL the attachment ${who.containerId}/${who.ifName} before adding it again`);
  }
  const taken = new Set(existing.map((r) => r.name));
  for (const c of candidates(set, store.lastReserved(rangeId))) {
    // Exclusive creation decides; the listing only saves trying addresses already known to be taken.
    if (!taken.has(formatIp(c.ip)) && store.reserve(c.ip, owner, rangeId)) return c;
  }
  throw allocationError(`no IP addresses available in range set: ${rangeSetText(set)}`,
    `every address of the range set is reserved in ${store.dir}; remove attachments or widen the range`);
}

/**
 * Reserves one address per range set, in set order, for the attachment; `requested` addresses are used in the sets
 * that contain them and must all be used. The caller holds the store's lock. On failure the files this call created
 * are removed again (the reference releases by owner, which would also drop an older reservation of the same
 * attachment), and like the reference, last_reserved_ip.N keeps its advance.
 */
export function allocate(store: NetworkStore, sets: readonly RangeSet[], who: Attachment, requested: readonly IP[]): IPConfig[] {
  const existing = store.reservations();
  const left = [...requested];
  const made: Candidate[] = [];
  try {
    sets.forEach((set, rangeId) => {
      const at = left.findIndex((ip) => rangeFor(set, ip));
      const wanted = at >= 0 ? left.splice(at, 1)[0] : undefined;
      try {
        made.push(allocateFromSet(store, set, rangeId, who, wanted, existing));
      } catch (e) {
        const err = e instanceof CniError ? e : allocationError((e as Error).message);
        throw err.withContext(`failed to allocate for range ${rangeId}`);
      }
    });
    if (left.length > 0) {
      throw allocationError(`failed to allocate all requested IPs: ${left.map(formatIp).join(' ')}`,
        'each requested address must lie between rangeStart and rangeEnd of a range set, one per set');
    }
  } catch (e) {
    for (const c of made) {
      try {
        store.remove(formatIp(c.ip));
      } catch {
        // The error being reported matters more; a file left behind is released by DEL.
      }
    }
    throw e;
  }
  return made.map(ipConfig);
}
