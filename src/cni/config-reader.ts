import { CniError, ErrorCode } from './errors';

/*
 * The one way configurations are read: Go's encoding/json field matching, typed access that names the field, and
 * the problems list every checker fills. A checker collects every problem of its input into `Problems`; the runtime
 * throws the first one's CNI error (`throwFirst`), `multus validate` prints them all (`where: problem — fix: ...`).
 */

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

/** A JSON value as messages quote it, cut short when long. */
export function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A problem as `multus validate` shows it: where it is, what is wrong, and how to fix it. */
export interface Problem {
  where: string;
  problem: string;
  fix: string;
}

/** The one line a problem is shown as, in CNI errors and in `multus validate`. */
export function formatProblem(p: Problem): string {
  return `${p.where}: ${p.problem} — fix: ${p.fix}`;
}

/** A problem of a configuration; `where` is the field's path from the top of what was checked ('' for all of it). */
export interface ConfigProblem extends Problem {
  /** The CNI error the runtime fails with for it (its message and code are what the runtime has always said). */
  error: CniError;
}

/** Every problem a checker found, in the order it found them. */
export class Problems {
  readonly list: ConfigProblem[] = [];

  get count(): number {
    return this.list.length;
  }

  add(problem: ConfigProblem): void {
    this.list.push(problem);
  }

  /**
   * A problem told by the runtime's error: what is wrong is the error's message without `prefix` (which names the
   * configuration) unless `problem` says it, the fix is `fix` or else the error's details.
   */
  addError(where: string, error: CniError, say: { prefix?: string; problem?: string; fix?: string } = {}): void {
    let problem = say.problem ?? error.message;
    if (say.prefix !== undefined && problem.startsWith(`${say.prefix}: `)) problem = problem.slice(say.prefix.length + 2);
    this.add({ where, problem, fix: say.fix ?? (error.details || 'correct it as the message says'), error });
  }

  /** The runtime's behaviour: fail with the first problem. */
  throwFirst(): void {
    if (this.list.length > 0) throw this.list[0]!.error;
  }
}

/** Runs a check written to throw (a rule that has one home elsewhere), keeping its CniError as a problem at `where`. */
export function collect<T>(problems: Problems, where: string, check: () => T, say: { prefix?: string; problem?: string; fix?: string } = {}): T | undefined {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    problems.addError(where, e, say);
    return undefined;
  }
}

/**
 * Typed access to one JSON object of a configuration, the way the Go plugins' decoder reads it: keys match ignoring
 * case, null is the zero value, and a value of the wrong type is a problem that names the key (prefixed with `path`,
 * e.g. `ipam.`) and says what it should be. With `problems` the problem is collected and the default returned;
 * without, it is thrown.
 */
export class ConfigReader {
  constructor(
    readonly value: Record<string, unknown>,
    /** Says whose configuration this is in messages, e.g. `multus configuration`. */
    private readonly context: string,
    private readonly path = '',
    readonly problems?: Problems,
  ) {}

  raw(key: string): unknown {
    const v = goField(this.value, key);
    return v === null ? undefined : v;
  }

  /** The runtime's error for a value of the wrong type. */
  invalid(key: string, expected: string, got: unknown): CniError {
    return new CniError(ErrorCode.InvalidNetworkConfig, `${this.context}: "${this.path}${key}" must be ${expected}, got ${JSON.stringify(got)}`);
  }

  /** Reports a value of the wrong type: collected when this reader has a problems list, thrown otherwise. */
  fail(key: string, expected: string, got: unknown): void {
    const error = this.invalid(key, expected, got);
    if (!this.problems) throw error;
    this.problems.add({ where: `${this.path}${key}`, problem: `${shown(got)} is not ${expected}`, fix: `make "${key}" ${expected}`, error });
  }

  string(key: string, dflt = ''): string {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'string') {
      this.fail(key, 'a string', v);
      return dflt;
    }
    return v;
  }

  bool(key: string, dflt = false): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') {
      this.fail(key, 'true or false', v);
      return dflt;
    }
    return v;
  }

  int(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return 0;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      this.fail(key, min === 0 ? `an integer from 0 to ${max}` : 'an integer', v);
      return 0;
    }
    return v as number;
  }

  /** A number above `min`, or `dflt` when absent. */
  number(key: string, dflt: number, min = 0): number {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v >= min)) {
      this.fail(key, `a number of ${min} or more`, v);
      return dflt;
    }
    return v;
  }

  strings(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      this.fail(key, 'a list of strings', v);
      return undefined;
    }
    return v as string[];
  }

  /** A nested object (empty when absent or refused), read with the same rules into the same problems list. */
  object(key: string): ConfigReader {
    let v = this.raw(key);
    if (v !== undefined && !isJsonObject(v)) {
      this.fail(key, 'a JSON object', v);
      v = undefined;
    }
    return new ConfigReader((v ?? {}) as Record<string, unknown>, this.context, `${this.path}${key}.`, this.problems);
  }
}
