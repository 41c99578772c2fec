import { formatProblem, isJsonObject, type Problem, type Problems } from '../cni/config-reader';
import type { CniError } from '../cni/errors';
import { parseJson } from '../cni/json-text';

export { shown } from '../cni/config-reader';

/** A problem makes the input unusable (or not what its author meant); a note is worth knowing but changes nothing. */
export type Finding =
  /** `error`: the CNI error the runtime fails with for this problem, when it is one the runtime refuses. */
  | { kind: 'problem'; problem: Problem; error?: CniError }
  | { kind: 'note'; where: string; note: string };

/** What `multus validate` found, in the order it found it. */
export class Findings {
  readonly items: Finding[] = [];

  get problemCount(): number {
    return this.items.filter((i) => i.kind === 'problem').length;
  }

  add(problem: Problem, error?: CniError): void {
    this.items.push(error ? { kind: 'problem', problem, error } : { kind: 'problem', problem });
  }

  note(where: string, note: string): void {
    this.items.push({ kind: 'note', where, note });
  }

  /** The output: one line per finding (a line break inside a message is shown as \n), then `ok` when nothing is a problem. */
  lines(): string[] {
    const out = this.items.map((i) => (i.kind === 'problem' ? formatProblem(i.problem) : `${i.where}: note: ${i.note}`).replace(/\r?\n/g, '\\n'));
    if (this.problemCount === 0) out.push('ok');
    return out;
  }
}

/** A place in the input (`<object>: <path>`), so that every check can say where it looked. */
export class Scope {
  constructor(
    readonly findings: Findings,
    readonly label: string,
    readonly path = '',
  ) {}

  get where(): string {
    return this.path ? `${this.label}: ${this.path}` : this.label;
  }

  /** The scope of a key (`a.b`) or list index (`a[0]`) below this one. */
  at(key: string | number): Scope {
    const step = typeof key === 'number' ? `[${key}]` : this.path ? `.${key}` : key;
    return new Scope(this.findings, this.label, `${this.path}${step}`);
  }

  /** The scope of a field path (`plugins[0].type`, '' for this one) below this one. */
  under(path: string): Scope {
    if (path === '') return this;
    return new Scope(this.findings, this.label, this.path === '' || path.startsWith('[') ? `${this.path}${path}` : `${this.path}.${path}`);
  }

  /** Every problem a checker collected, each at its field below this scope. */
  addAll(problems: Problems): void {
    for (const p of problems.list) this.under(p.where).problem(p.problem, p.fix, p.error);
  }

  problem(problem: string, fix: string, error?: CniError): void {
    this.findings.add({ where: this.where, problem, fix }, error);
  }

  note(note: string): void {
    this.findings.note(this.where, note);
  }
}

export const isObject = isJsonObject;

/** `text` as JSON, or undefined after reporting at `s` where it breaks. */
export function jsonAt(text: string, s: Scope): { value: unknown } | undefined {
  try {
    return { value: parseJson(text) };
  } catch (e) {
    s.problem(`is not valid JSON: ${(e as Error).message}`, 'correct the JSON there (double quotes around keys and strings, no trailing commas, no comments)');
    return undefined;
  }
}
