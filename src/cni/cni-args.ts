import { CniError, ErrorCode } from './errors';

/** `CNI_ARGS` as ordered key/value pairs, the way libcni splits it. */
export type ArgPairs = Array<[string, string]>;

export function splitCniArgs(raw: string): ArgPairs {
  if (raw === '') return [];
  return raw.split(';').map((pair) => {
    const kv = pair.split('=');
    if (kv.length !== 2) throw new CniError(ErrorCode.Internal, `ARGS: invalid pair "${pair}"`);
    return [kv[0]!, kv[1]!];
  });
}

export function joinCniArgs(pairs: ArgPairs): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join(';');
}

/**
 * Parses `CNI_ARGS` against a fixed set of keys, as libcni's LoadArgs does: keys are case-sensitive,
 * unknown keys fail unless `IgnoreUnknown` is 1/true anywhere in the string, the last value wins.
 */
export function parseCniArgs<K extends string>(raw: string, known: readonly K[]): Partial<Record<K, string>> {
  const pairs = splitCniArgs(raw);
  let ignoreUnknown = false;
  const out: Partial<Record<K, string>> = {};
  const unknown: string[] = [];
  for (const [k, v] of pairs) {
    if (k === 'IgnoreUnknown') {
      // A boolean field in Go: 1/0/true/false in any case, the last pair wins.
      const b = v.toLowerCase();
      if (!['1', '0', 'true', 'false'].includes(b)) {
        throw new CniError(ErrorCode.Internal, `ARGS: error parsing value of pair "${k}=${v}": boolean unmarshal error: invalid input ${v}`);
      }
      ignoreUnknown = b === '1' || b === 'true';
      continue;
    }
    if ((known as readonly string[]).includes(k)) out[k as K] = v;
    else unknown.push(`${k}=${v}`);
  }
  if (unknown.length > 0 && !ignoreUnknown) {
    throw new CniError(
      ErrorCode.Internal,
      `ARGS: unknown args [${unknown.map((u) => JSON.stringify(u)).join(' ')}]`,
      'add IgnoreUnknown=1 to CNI_ARGS, or remove the keys this plugin does not know',
    );
  }
  return out;
}
