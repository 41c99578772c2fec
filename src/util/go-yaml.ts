/**
 * YAML read the way Kubernetes' Go tools read it (sigs.k8s.io/yaml over go-yaml v2, a port of libyaml), so that
 * every kubeconfig client-go loads and every manifest kubectl applies loads here too, with the same values.
 *
 * The `yaml` package does the parsing, in its YAML 1.1 mode: go-yaml v2 resolves `yes`/`on` to true, `0777` to
 * 511 and `1_000` to 1000, as 1.1 did. One thing no JavaScript parser does like libyaml: a quoted scalar spanning
 * several lines whose continuation lines are not indented past their key. libyaml never looks at the indentation
 * inside a quoted scalar (only a `---`/`...` at the start of a line ends it); `yaml` (and js-yaml) stop the scalar
 * there and report "Missing closing quote". Multus's own documentation writes NetworkAttachmentDefinitions that way
 * (`config: '{` … `}'` at the key's column), and Multus's installer writes `token: "<token>\n"` when the token file
 * ends with a newline. Leading white space of a continuation line is dropped by line folding, so indenting those
 * lines changes no value: such scalars are indented before parsing, and only those.
 */
import type { Document, Tags } from 'yaml';

type Yaml = typeof import('yaml');

export interface GoYamlResult {
  docs: unknown[];
  /** The first parse error, on one line, with its position; undefined when every document parsed. */
  error?: string;
}

/*
 * go-yaml v2 keeps sexagesimal numbers (`1:20`) and dates as strings when it decodes into JSON, where the 1.1
 * schema would make them numbers and timestamps. A repeated key is not an error there; the last one wins.
 */
const PARSE_OPTIONS: { version: '1.1'; uniqueKeys: false; customTags: (tags: Tags) => Tags } = {
  version: '1.1',
  uniqueKeys: false,
  customTags: (tags: Tags): Tags => tags.filter((t) => typeof t === 'string'
    || (!('format' in t && t.format === 'TIME') && t.tag !== 'tag:yaml.org,2002:timestamp')),
};

/**
 * Where the quoted scalar opened at `start` ends as libyaml scans it (the index of the closing quote), or -1 when
 * libyaml fails too (end of input, or a document marker at the start of a line inside it).
 */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' && /^(---|\.\.\.)(\s|$)/.test(text.slice(i + 1, i + 5))) return -1;
    if (quote === '"' && c === '\\') {
      i++;
      continue;
    }
    if (c !== quote) continue;
    if (quote === "'" && text[i + 1] === "'") {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/** The start of the first quoted scalar `yaml`'s lexer cut short, if libyaml would have found its end. */
function cutQuotedScalar(y: Yaml, text: string): { start: number; end: number } | undefined {
  let found: { start: number; end: number } | undefined;
  const visit = (token: unknown): void => {
    if (found || token === null || typeof token !== 'object') return;
    const t = token as { type?: string; offset?: number; source?: string };
    if ((t.type === 'single-quoted-scalar' || t.type === 'double-quoted-scalar') && typeof t.offset === 'number') {
      const end = closingQuote(text, t.offset);
      if (end > 0 && end !== t.offset + (t.source?.length ?? 0) - 1) found = { start: t.offset, end };
      return;
    }
    for (const v of Object.values(token)) {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') visit(v);
    }
  };
  for (const token of new y.Parser().parse(text)) {
    visit(token);
    if (found) return found;
  }
  return undefined;
}

/** Indents the continuation lines of every quoted scalar libyaml would accept and `yaml` cuts short. */
export function indentQuotedScalars(y: Yaml, text: string): string {
  // Each round fixes the first such scalar; what the lexer saw after it was garbage, so it lexes again.
  for (let rounds = 0; rounds < 1000; rounds++) {
    const cut = cutQuotedScalar(y, text);
    if (!cut) return text;
    const lineStart = text.lastIndexOf('\n', cut.start) + 1;
    // Past the opening quote's column is past every enclosing key and sequence dash.
    const pad = ' '.repeat(cut.start - lineStart + 1);
    const inner = text.slice(cut.start, cut.end + 1).replace(/\n/g, `\n${pad}`);
    text = text.slice(0, cut.start) + inner + text.slice(cut.end + 1);
  }
  return text;
}

function firstError(doc: Document.Parsed): string | undefined {
  const e = doc.errors[0];
  return e ? e.message.split('\n')[0] : undefined;
}

/** Every document of a YAML stream (JSON is YAML), empty documents left out. */
export async function parseGoYamlDocuments(text: string): Promise<GoYamlResult> {
  const y = await import('yaml');
  const docs = y.parseAllDocuments(indentQuotedScalars(y, text), PARSE_OPTIONS);
  const list = Array.isArray(docs) ? docs : [];
  for (const d of list) {
    const error = firstError(d);
    if (error) return { docs: [], error };
  }
  return { docs: list.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined) };
}

/** A single-document YAML file; throws the first parse error's message. */
export async function parseGoYaml(text: string): Promise<unknown> {
  const y = await import('yaml');
  const doc = y.parseDocument(indentQuotedScalars(y, text), PARSE_OPTIONS);
  const error = firstError(doc);
  if (error) throw new Error(error);
  return doc.toJS() as unknown;
}
