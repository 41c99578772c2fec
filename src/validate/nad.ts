import { Problems } from '../cni/config-reader';
import { CURRENT_VERSION } from '../cni/version';
import { checkNadNetwork, RESOURCE_NAME_ANNOTATION } from '../k8s/nad';
import { isDns1123Label, isDns1123Subdomain, LABEL_RULE, SUBDOMAIN_RULE } from '../k8s/names';
import { checkCniConfig, lintCniConfig } from './cni-config';
import { Findings, isObject, Scope, shown } from './findings';
import { parseJson } from '../cni/json-text';

const API_VERSION = 'k8s.cni.cncf.io/v1';
const KIND = 'NetworkAttachmentDefinition';

function documentLabel(doc: Record<string, unknown>, fallback: string): string {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
  if (!name) return fallback;
  return `${KIND} ${typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/` : ''}${name}`;
}

/** metadata: the name the pods' annotations use, the namespace, the resourceName annotation. */
function checkMetadata(doc: Record<string, unknown>, s: Scope): void {
  const meta = doc.metadata;
  if (!isObject(meta)) {
    s.at('metadata').problem('is missing', 'add metadata with at least a name: metadata: {name: macvlan-conf}');
    return;
  }
  const ms = s.at('metadata');
  if (typeof meta.name !== 'string' || meta.name === '') {
    ms.at('name').problem(meta.name === undefined ? 'is missing' : `${shown(meta.name)} is not a name`, 'name the NetworkAttachmentDefinition; pods refer to it by this name');
  } else if (!isDns1123Subdomain(meta.name)) {
    ms.at('name').problem(`${shown(meta.name)} is not a valid object name`, `a NetworkAttachmentDefinition name has ${SUBDOMAIN_RULE}`);
  } else if (meta.name.includes('.')) {
    ms.at('name').note('contains "."; Go Multus refuses such names in the text form of the networks annotation, so pods on Multus nodes must use the JSON form');
  }
  if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !isDns1123Label(meta.namespace))) {
    ms.at('namespace').problem(`${shown(meta.namespace)} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}`);
  }
  const annotations = meta.annotations;
  if (annotations !== undefined && annotations !== null) {
    if (!isObject(annotations)) {
      ms.at('annotations').problem(`${shown(annotations)} is not a map`, 'write annotations as key: "value" pairs');
    } else {
      for (const [k, v] of Object.entries(annotations)) {
        if (typeof v !== 'string') ms.at('annotations').at(k).problem(`${shown(v)} is not a string`, 'quote the value: Kubernetes annotation values are strings');
      }
      const resourceName = annotations[RESOURCE_NAME_ANNOTATION];
      if (resourceName === '') ms.at('annotations').at(RESOURCE_NAME_ANNOTATION).problem('is empty', 'name the device plugin resource, e.g. intel.com/sriov_netdevice, or remove the annotation');
    }
  }
}

/** spec.config: what multus refuses (its own checker, as ADD runs it), then what the plugins would. */
function checkConfig(doc: Record<string, unknown>, s: Scope): void {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  // Even an invalid name is what multus would put in; its problem is reported at metadata.name.
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : '<metadata.name>';
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const spec = doc.spec;
  const cs = s.at('spec').at('config');
  if (spec !== undefined && spec !== null && !isObject(spec)) {
    s.at('spec').problem(`${shown(spec)} is not an object`, 'write spec: {config: \'{...}\'}');
    return;
  }
  const config = isObject(spec) ? spec.config : undefined;
  if (config === undefined || config === null || (typeof config === 'string' && config.trim() === '')) {
    cs.note(`is empty: multus uses the CNI configuration named "${name}" from confDir (/etc/cni/multus/net.d by default) on each node`);
    return;
  }
  if (typeof config !== 'string') {
    cs.problem(`${isObject(config) ? 'is a YAML/JSON object' : `${shown(config)} is not a string`}, but it must be a string holding the JSON configuration`,
      'write "config: |" followed by the JSON on the next lines (indented), or config: \'{...}\' on one line');
    // What it holds is still worth checking: the author will paste it back as a string.
    checkCniConfig(config, cs, { nadName: name });
    return;
  }
  const problems = new Problems();
  checkNadNetwork({ namespace, name, annotations: {}, config }, { name, namespace }, { confDir: '', cniVersion: CURRENT_VERSION }, problems);
  cs.addAll(problems);
  let parsed: unknown;
  try {
    parsed = parseJson(config);
  } catch {
    return; // the checker said where it breaks
  }
  lintCniConfig(parsed, cs, { nadName: name });
}

/** One NetworkAttachmentDefinition object (from YAML or JSON), every problem reported. */
export function checkNad(doc: unknown, fallbackLabel: string, findings: Findings): void {
  if (!isObject(doc)) {
    findings.add({ where: fallbackLabel, problem: `${shown(doc)} is not an object`, fix: `write a ${KIND} manifest (apiVersion, kind, metadata, spec)` });
    return;
  }
  const s = new Scope(findings, documentLabel(doc, fallbackLabel));
  if (doc.apiVersion !== API_VERSION) s.at('apiVersion').problem(`${shown(doc.apiVersion)} is not ${API_VERSION}`, `set apiVersion: ${API_VERSION}`);
  if (doc.kind !== KIND) s.at('kind').problem(`${shown(doc.kind)} is not ${KIND}`, `set kind: ${KIND}`);
  checkMetadata(doc, s);
  checkConfig(doc, s);
}
