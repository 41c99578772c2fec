import { canonicaliseRange, rangeContains, rangesOverlap, rangeText, type Range, type RangeSpec } from './range';
import type { IP } from './address';

/** The ranges one address is allocated from: a dual-stack network has one set per family. */
export type RangeSet = readonly Range[];

/** The reference's message for a set, without the `invalid range set N: ` prefix; `range` is the range it is about. */
export class RangeSetError extends Error {
  constructor(message: string, readonly range?: number) {
    super(message);
  }
}

/** Checks a set as the reference does; throws a RangeSetError with its message. */
export function canonicaliseRangeSet(specs: readonly RangeSpec[]): RangeSet {
  if (specs.length === 0) throw new RangeSetError('empty range set');
  const set: Range[] = [];
  for (let j = 0; j < specs.length; j++) {
    let r: Range;
    try {
      r = canonicaliseRange(specs[j]!);
    } catch (e) {
      throw new RangeSetError((e as Error).message, j);
    }
    if (set.length > 0 && r.network.family !== set[0]!.network.family) throw new RangeSetError('mixed address families', j);
    set.push(r);
  }
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      if (rangesOverlap(set[i]!, set[j]!)) throw new RangeSetError(`subnets ${rangeText(set[i]!)} and ${rangeText(set[j]!)} overlap`, j);
    }
  }
  return set;
}

/** The range of the set that may hand out `ip`, if any. */
export function rangeFor(set: RangeSet, ip: IP): Range | undefined {
  return set.find((r) => rangeContains(r, ip));
}

export function rangeSetsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.some((ra) => b.some((rb) => rangesOverlap(ra, rb)));
}

/** The reference's RangeSet.String(): `start-end` per range, joined by commas. */
export function rangeSetText(set: RangeSet): string {
  return set.map(rangeText).join(',');
}
