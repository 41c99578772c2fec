import { CniError, ErrorCode } from './errors';

/**
 * A field of a decoded JSON object the way Go's encoding/json fills a struct field: keys match ignoring case, and
 * when several spellings are present the last one in the document wins. Go Multus and libcni read every
 * configuration this way, so a drop-in replacement must accept `Name`, `CNIVersion` or `BinDir` too.
 */
export function goField(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  let found: unknown;
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) found = obj[k];
  return found;
}

/**
 * Typed access to one JSON object of a plugin configuration, the way the Go plugins' decoder reads it: keys match
 * ignoring case, null is the zero value, and a value of the wrong type is refused with a message that names the key
 * (prefixed with `path`, e.g. `ipam.`) and says what it should be.
 */
export class ConfigReader {
  constructor(
    readonly value: Record<string, unknown>,
    /** Says whose configuration this is in messages, e.g. `multus configuration`. */
    private readonly context: string,
    private readonly path = '',
  ) {}

  raw(key: string): unknown {
    const v = goField(this.value, key);
    return v === null ? undefined : v;
  }

  invalid(key: string, expected: string, got: unknown): CniError {
    return new CniError(ErrorCode.InvalidNetworkConfig, `${this.context}: "${this.path}${key}" must be ${expected}, got ${JSON.stringify(got)}`);
  }

  string(key: string, dflt = ''): string {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'string') throw this.invalid(key, 'a string', v);
    return v;
  }

  bool(key: string, dflt = false): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw this.invalid(key, 'true or false', v);
    return v;
  }

  int(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return 0;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw this.invalid(key, min === 0 ? `an integer from 0 to ${max}` : 'an integer', v);
    }
    return v as number;
  }

  /** A number above `min`, or `dflt` when absent. */
  number(key: string, dflt: number, min = 0): number {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v >= min)) throw this.invalid(key, `a number of ${min} or more`, v);
    return v;
  }

  strings(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw this.invalid(key, 'a list of strings', v);
    return v as string[];
  }

  /** A nested object (empty when absent), read with the same rules. */
  object(key: string): ConfigReader {
    const v = this.raw(key);
    if (v !== undefined && (typeof v !== 'object' || Array.isArray(v))) throw this.invalid(key, 'a JSON object', v);
    return new ConfigReader((v ?? {}) as Record<string, unknown>, this.context, `${this.path}${key}.`);
  }
}
