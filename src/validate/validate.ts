import { extname } from 'node:path';
import { SELECTION_KEYS } from '../k8s/network-selection';
import { checkAnnotationValue, checkPodManifest, isPodManifest } from './annotation';
import { checkCniConfig } from './cni-config';
import { Findings, isObject, jsonAt, Scope } from './findings';
import { checkMultusConf } from './multus-conf';
import { checkNad } from './nad';
import { parseJson } from '../cni/json-text';
import { CONFIG_EXTENSIONS } from '../delegation/network-files';
import { goField, Problems } from '../cni/config-reader';
import { checkResult } from '../cni/result';
import { CURRENT_VERSION } from '../cni/version';

type Documents = { docs: unknown[] } | { error: string };

/** YAML (which includes JSON), possibly several documents; the YAML parser is only loaded for this command. */
async function parseDocuments(text: string): Promise<Documents> {
  if (/^\s*[{[]/.test(text)) {
    // JSON gets JSON's error messages, which point at the broken spot better than YAML's.
    try {
      return { docs: [parseJson(text)] };
    } catch (e) {
      return { error: `is not valid JSON: ${(e as Error).message}` };
    }
  }
  // kubectl's reading of YAML, so that every manifest it applies validates here.
  const { parseGoYamlDocuments } = await import('../util/go-yaml');
  const parsed = await parseGoYamlDocuments(text);
  if (parsed.error !== undefined) return { error: `is not valid YAML: ${parsed.error}` };
  return { docs: parsed.docs };
}

/** A `kind: List` (what `kubectl get -o yaml` prints) stands for its items. */
function expandLists(docs: unknown[]): unknown[] {
  return docs.flatMap((d) => (isObject(d) && d.kind === 'List' && Array.isArray(d.items) ? d.items : [d]));
}

function isNad(doc: unknown): boolean {
  return isObject(doc) && (doc.kind === 'NetworkAttachmentDefinition'
    || (typeof doc.apiVersion === 'string' && doc.apiVersion.startsWith('k8s.cni.cncf.io/')));
}

const MULTUS_TYPES = ['multus', 'multus-shim'];

function isMultusConf(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  const keys = Object.keys(doc).map((k) => k.toLowerCase());
  const plugins = goField(doc, 'plugins');
  return MULTUS_TYPES.includes(goField(doc, 'type') as string) || keys.includes('delegates') || keys.includes('clusternetwork')
    || (Array.isArray(plugins) && plugins.some((p) => isObject(p) && MULTUS_TYPES.includes(goField(p, 'type') as string)));
}

/** A lone object of selection keys: an annotation written without its list brackets. */
function isSelectionObject(doc: unknown): boolean {
  return isObject(doc) && Object.keys(doc).length > 0
    && Object.keys(doc).every((k) => SELECTION_KEYS.some((s) => s.toLowerCase() === k.toLowerCase()));
}

/** A plain CNI network configuration or conflist (not multus's own). */
function isCniConfig(doc: unknown): boolean {
  return isObject(doc) && !isMultusConf(doc) && (typeof goField(doc, 'type') === 'string' || Array.isArray(goField(doc, 'plugins')));
}

/** A plugin's result: result keys, and none of a configuration's. */
function isResult(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  const keys = Object.keys(doc).map((k) => k.toLowerCase());
  return keys.some((k) => RESULT_KEYS.includes(k)) && !keys.some((k) => ['type', 'plugins', 'name', 'kind'].includes(k));
}
const RESULT_KEYS = ['interfaces', 'ips', 'routes', 'ip4', 'ip6'];

/** A plugin's result (what a plugin prints on ADD, a prevResult), as the runtime reads it. */
function checkResultText(text: string, source: string, findings: Findings): void {
  const s = new Scope(findings, source);
  const parsed = jsonAt(text, s);
  if (!parsed) return;
  const problems = new Problems();
  // Without its own cniVersion a result is read as the newest version's, as a 1.1.0 configuration would have it.
  checkResult(parsed.value, CURRENT_VERSION, problems);
  s.addAll(problems);
}

/** A plain CNI configuration or conflist, each document on its own. */
async function checkCni(text: string, source: string, findings: Findings): Promise<void> {
  const parsed = await parseDocuments(text);
  if ('error' in parsed) {
    findings.add({ where: source, problem: parsed.error, fix: 'correct the syntax there' });
    return;
  }
  // A file libcni would read (by its extension) is checked as libcni reads that file.
  const file = CONFIG_EXTENSIONS.includes(extname(source)) && parsed.docs.length === 1 ? source : undefined;
  checkDocuments(parsed.docs, source, findings, (doc, label) => checkCniConfig(doc, new Scope(findings, label), { file }));
}

/**
 * A file holding several kinds of object (a NetworkAttachmentDefinition and the Pod using it, as Multus's examples
 * do): each document is checked as what it is; one that is none of them is only noted.
 */
function checkEachByKind(docs: unknown[], source: string, findings: Findings): void {
  checkDocuments(docs, source, findings, (doc, label) => {
    if (isNad(doc)) checkNad(doc, label, findings);
    else if (isPodManifest(doc)) checkPodManifest(doc, label, findings);
    else if (isMultusConf(doc)) checkMultusConf(JSON.stringify(doc), label, findings);
    else if (isCniConfig(doc)) checkCniConfig(doc, new Scope(findings, label), {});
    else findings.note(label, `not checked: ${isObject(doc) && typeof doc.kind === 'string' ? `a ${doc.kind}` : 'this document'} is none of the things multus validate knows`);
  });
}

function checkDocuments(docs: unknown[], source: string, findings: Findings, check: (doc: unknown, label: string) => void): void {
  const all = expandLists(docs);
  if (all.length === 0) findings.add({ where: source, problem: 'is empty', fix: 'give a file with something to check' });
  all.forEach((doc, i) => check(doc, all.length > 1 ? `${source} document ${i + 1}` : source));
}

async function checkNads(text: string, source: string, findings: Findings): Promise<void> {
  const parsed = await parseDocuments(text);
  if ('error' in parsed) {
    findings.add({ where: source, problem: parsed.error, fix: 'correct the syntax there' });
    return;
  }
  checkDocuments(parsed.docs, source, findings, (doc, label) => checkNad(doc, label, findings));
}

/** An annotation value as it is, or a manifest whose pod (template) carries the annotations. */
async function checkAnnotation(text: string, source: string, findings: Findings): Promise<void> {
  const t = text.trim();
  if (/^(apiVersion|kind|metadata)\s*:/m.test(t) || /^\{\s*"(apiVersion|kind|metadata)"/.test(t)) {
    const parsed = await parseDocuments(text);
    if ('docs' in parsed && parsed.docs.some(isPodManifest)) {
      expandLists(parsed.docs).filter(isPodManifest).forEach((doc, i, pods) =>
        checkPodManifest(doc, pods.length > 1 ? `${source} document ${i + 1}` : source, findings));
      return;
    }
  }
  checkAnnotationValue(t, findings);
}

/** What the file holds (`--kind`), or `auto` to tell from its content. */
export type ValidateKind = 'auto' | 'nad' | 'annotation' | 'multus-conf' | 'cni' | 'result';

type Detected = { kind: Exclude<ValidateKind, 'auto'> | 'mixed'; docs?: unknown[] } | { kind: undefined; error?: string };

async function detect(text: string): Promise<Detected> {
  const t = text.trim();
  if (t.startsWith('[')) return { kind: 'annotation' };
  const parsed = await parseDocuments(text);
  if ('error' in parsed) {
    // Broken JSON or YAML still says what it was meant to be often enough.
    if (/NetworkAttachmentDefinition|k8s\.cni\.cncf\.io\//.test(t)) return { kind: 'nad' };
    if (/"type"\s*:\s*"multus|"delegates"|"clusterNetwork"/i.test(t)) return { kind: 'multus-conf' };
    return t.startsWith('{') || t.includes('\n') ? { kind: undefined, error: parsed.error } : { kind: 'annotation' };
  }
  const docs = expandLists(parsed.docs);
  const first = docs[0];
  if (docs.length > 0 && docs.every(isNad)) return { kind: 'nad' };
  if (docs.length > 1 && !docs.every(isPodManifest)) return { kind: 'mixed', docs: parsed.docs };
  if (docs.some(isPodManifest)) return { kind: 'annotation' };
  if (isMultusConf(first)) return { kind: 'multus-conf' };
  if (isCniConfig(first)) return { kind: 'cni' };
  if (docs.length === 1 && isResult(first)) return { kind: 'result' };
  // A one-line text annotation reads as a YAML string; a lone selection object is an annotation missing its [].
  if (typeof first === 'string' || isSelectionObject(first)) return { kind: 'annotation' };
  if (docs.some(isNad)) return { kind: 'nad' };
  return { kind: undefined };
}

/** Everything `multus validate` finds in `text`; `source` names the input in the output. */
export async function validateText(text: string, kind: ValidateKind, source: string): Promise<Findings> {
  const findings = new Findings();
  const detected: Detected = kind === 'auto' ? await detect(text) : { kind };
  switch (detected.kind) {
    case 'nad':
      await checkNads(text, source, findings);
      break;
    case 'annotation':
      await checkAnnotation(text, source, findings);
      break;
    case 'multus-conf':
      checkMultusConf(text, source, findings);
      break;
    case 'cni':
      await checkCni(text, source, findings);
      break;
    case 'result':
      checkResultText(text, source, findings);
      break;
    case 'mixed':
      checkEachByKind(detected.docs ?? [], source, findings);
      break;
    default:
      findings.add({
        where: source,
        problem: `${'error' in detected && detected.error ? `${detected.error}, and so ` : ''}cannot tell whether this is a NetworkAttachmentDefinition, a networks annotation, a multus configuration, a CNI configuration or a plugin's result`,
        fix: `${'error' in detected && detected.error ? 'correct the syntax, or ' : ''}say which with --kind nad, --kind annotation, --kind multus-conf, --kind cni or --kind result`,
      });
  }
  return findings;
}
