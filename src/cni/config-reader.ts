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
  let lower: string | undefined;
  let found: unknown;
  // The hottest function of a call (about fifty times per attachment), run by V8's interpreter in a short-lived
  // process, where every object it makes is garbage to collect: `for...in` walks the keys without the array
  // Object.keys makes, or the iterator and the result object per key `for...of` makes; a key spelled as asked is taken
  // without lowercasing either; and only a key of the same length can match otherwise (field names are ASCII, and
  // lowercasing keeps a key's length but for 'İ', which no ASCII name matches). Own keys only, as Object.keys gave:
  // for...in visits them first, in the same order, then enumerable inherited ones, which are skipped.
  for (const k in obj) {
    if (k.length !== name.length) continue;
    if (k !== name) {
      lower ??= name.toLowerCase();
      if (k.toLowerCase() !== lower) continue;
    }
    if (Object.hasOwn(obj, k)) found = obj[k];
  }
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
 * How a reader words a refused value, per configuration kind: where the problem is, what `validate` prints, and the
 * runtime's error. `expected` is set when the value has the wrong type (it "must be" that).
 */
export type ReaderVoice = (field: string, got: unknown, what: string, fix: string, expected?: string) => ConfigProblem;

/**
 * The voice of configuration files: the problem is at the field; the runtime says `<context>: "<field>" must be ...`
 * with `code` (host-local keeps the reference's 999).
 */
export function configVoice(context: string, code: number = ErrorCode.InvalidNetworkConfig): ReaderVoice {
  return (field, got, what, fix, expected) => ({
    where: field, problem: `${shown(got)} ${what}`, fix,
    error: new CniError(code, expected !== undefined
      ? `${context}: "${field}" must be ${expected}, got ${JSON.stringify(got)}`
      : `${context}: "${field}": ${shown(got)} ${what}`),
  });
}

/**
 * Typed access to one JSON object of a configuration, the way the Go plugins' decoder reads it: keys match ignoring
 * case, null is the zero value, and a value of the wrong type is a problem that names the key (prefixed with `path`,
 * e.g. `ipam.`) and says what it should be. With `problems` the problem is collected and the default returned;
 * without, it is thrown.
 */
export class ConfigReader {
  private readonly voice: ReaderVoice;

  constructor(
    readonly value: Record<string, unknown>,
    /** Says whose configuration this is in messages, e.g. `multus configuration`. */
    context: string,
    /** Where `value` is, from the top of what is read (`ipam.`): the start of every field path in problems. */
    readonly path = '',
    readonly problems?: Problems,
    voice?: ReaderVoice,
  ) {
    this.voice = voice ?? configVoice(context);
  }

  raw(key: string): unknown {
    const v = goField(this.value, key);
    return v === null ? undefined : v;
  }

  /** The runtime's error for a value of the wrong type. */
  invalid(key: string, expected: string, got: unknown): CniError {
    return this.voice(`${this.path}${key}`, got, `is not ${expected}`, '', expected).error;
  }

  /**
   * Reports a refused value: `what` says what is wrong with it (`is not a MAC address`), `fix` how to mend it. Collected
   * when this reader has a problems list, thrown otherwise.
   */
  reject(key: string, got: unknown, what: string, fix: string, expected?: string): void {
    this.report(this.voice(`${this.path}${key}`, got, what, fix, expected));
  }

  /** Reports a problem worded by its rule (the runtime's error as it always was): collected, or thrown. */
  report(problem: ConfigProblem): void {
    if (!this.problems) throw problem.error;
    this.problems.add(problem);
  }

  /** Reports a value of the wrong type: it must be `expected`. */
  fail(key: string, expected: string, got: unknown, fix = `make "${key}" ${expected}`): void {
    this.reject(key, got, `is not ${expected}`, fix, expected);
  }

  /** The value when `ok` accepts it, else a problem (it must be `expected`) and undefined. */
  checked<T>(key: string, v: unknown, ok: (v: unknown) => boolean, expected: string, fix?: string): T | undefined {
    if (ok(v)) return v as T;
    this.fail(key, expected, v, fix);
    return undefined;
  }

  string(key: string, dflt = '', fix?: string): string {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    return this.checked<string>(key, v, (s) => typeof s === 'string', 'a string', fix) ?? dflt;
  }

  bool(key: string, dflt = false): boolean {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    return this.checked<boolean>(key, v, (b) => typeof b === 'boolean', 'true or false') ?? dflt;
  }

  int(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return 0;
    const ok = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= min && (n as number) <= max;
    return this.checked<number>(key, v, ok, min === 0 ? `an integer from 0 to ${max}` : 'an integer') ?? 0;
  }

  /** A number above `min`, or `dflt` when absent. */
  number(key: string, dflt: number, min = 0): number {
    const v = this.raw(key);
    if (v === undefined) return dflt;
    return this.checked<number>(key, v, (n) => typeof n === 'number' && n >= min, `a number of ${min} or more`) ?? dflt;
  }

  strings(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    return this.checked<string[]>(key, v, (l) => Array.isArray(l) && l.every((s) => typeof s === 'string'), 'a list of strings');
  }

  /** A list of anything, or undefined when absent or refused. */
  list(key: string, fix?: string): unknown[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    return this.checked<unknown[]>(key, v, Array.isArray, 'a list', fix);
  }

  /** A nested object as it is, or undefined when absent or refused. */
  record(key: string, fix?: string, expected = 'a JSON object'): Record<string, unknown> | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    return this.checked<Record<string, unknown>>(key, v, isJsonObject, expected, fix);
  }

  /** A nested object (empty when absent or refused), read with the same rules into the same problems list. */
  object(key: string): ConfigReader {
    return this.nested(this.record(key) ?? {}, `${key}.`);
  }

  /** A reader of `value`, a part of this configuration at `step` (`ipam.`, `portMappings[0].`), with the same voice. */
  nested(value: Record<string, unknown>, step: string): ConfigReader {
    return new ConfigReader(value, '', `${this.path}${step}`, this.problems, this.voice);
  }
}
