import { formatProblem, type SelectionProblem } from '../k8s/network-selection';

export { shown } from '../k8s/network-selection';

/** A problem makes the input unusable (or not what its author meant); a note is worth knowing but changes nothing. */
export type Finding = { kind: 'problem'; problem: SelectionProblem } | { kind: 'note'; where: string; note: string };

/** What `multus validate` found, in the order it found it. */
export class Findings {
  readonly items: Finding[] = [];

  get problemCount(): number {
    return this.items.filter((i) => i.kind === 'problem').length;
  }

  add(problem: SelectionProblem): void {
    this.items.push({ kind: 'problem', problem });
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

  problem(problem: string, fix: string): void {
    this.findings.add({ where: this.where, problem, fix });
  }

  note(note: string): void {
    this.findings.note(this.where, note);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
