import { Problems } from '../cni/config-reader';
import { CniError, ErrorCode } from '../cni/errors';
import { CURRENT_VERSION } from '../cni/version';
import { checkNadNetwork, checkNadObject, nadConfigObject, nadLabel, type NetworkAttachmentDefinition, RESOURCE_NAME_ANNOTATION } from '../k8s/nad';
import { isDns1123Label, isDns1123Subdomain, LABEL_RULE, SUBDOMAIN_RULE } from '../k8s/names';
import { checkCniConfig, lintCniConfig } from './cni-config';
import { Findings, isObject, Scope, shown } from './findings';

const API_VERSION = 'k8s.cni.cncf.io/v1';
const KIND = 'NetworkAttachmentDefinition';

function documentLabel(doc: Record<string, unknown>, fallback: string): string {
  const meta = isObject(doc.metadata) ? doc.metadata : {};
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : undefined;
  if (!name) return fallback;
  return `${KIND} ${typeof meta.namespace === 'string' && meta.namespace !== '' ? `${meta.namespace}/` : ''}${name}`;
}

/** What the API server would refuse in metadata (multus reads it as the server gives it), and notes. */
function lintMetadata(meta: Record<string, unknown>, annotations: Record<string, string>, s: Scope): void {
  const ms = s.at('metadata');
  if (meta.name === undefined || meta.name === null || meta.name === '') {
    ms.at('name').problem('is missing', 'name the NetworkAttachmentDefinition; pods refer to it by this name');
  } else if (typeof meta.name === 'string' && !isDns1123Subdomain(meta.name)) {
    ms.at('name').problem(`${shown(meta.name)} is not a valid object name`, `a NetworkAttachmentDefinition name has ${SUBDOMAIN_RULE}`);
  } else if (typeof meta.name === 'string' && meta.name.includes('.')) {
    ms.at('name').note('contains "."; Go Multus refuses such names in the text form of the networks annotation, so pods on Multus nodes must use the JSON form');
  }
  if (typeof meta.namespace === 'string' && !isDns1123Label(meta.namespace)) {
    ms.at('namespace').problem(`${shown(meta.namespace)} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}`);
  }
  if (annotations[RESOURCE_NAME_ANNOTATION] === '') {
    ms.at('annotations').at(RESOURCE_NAME_ANNOTATION).problem('is empty', 'name the device plugin resource, e.g. intel.com/sriov_netdevice, or remove the annotation');
  }
}

/** spec.config: what multus refuses (its own checker, as ADD runs it), then what the plugins would. */
function checkConfig(nad: NetworkAttachmentDefinition, s: Scope): void {
  const cs = s.at('spec').at('config');
  if (nad.config.trim() === '') {
    cs.note(`is empty: multus uses the CNI configuration named "${nad.name}" from confDir (/etc/cni/multus/net.d by default) on each node`);
    return;
  }
  const problems = new Problems();
  // Parsed once, as the runtime parses it; the checker gets its own top level, since it fills in the NAD's name.
  const parsed = nadConfigObject(nad, nadLabel(nad), problems);
  if (parsed) checkNadNetwork(nad, { name: nad.name, namespace: nad.namespace }, { confDir: '', cniVersion: CURRENT_VERSION }, problems, { ...parsed });
  cs.addAll(problems);
  if (parsed) lintCniConfig(parsed, cs, { nadName: nad.name });
}

/** One NetworkAttachmentDefinition object (from YAML or JSON), every problem reported. */
export function checkNad(doc: unknown, fallbackLabel: string, findings: Findings): void {
  const s = new Scope(findings, isObject(doc) ? documentLabel(doc, fallbackLabel) : fallbackLabel);
  if (isObject(doc)) {
    if (doc.apiVersion !== API_VERSION) s.at('apiVersion').problem(`${shown(doc.apiVersion)} is not ${API_VERSION}`, `set apiVersion: ${API_VERSION}`);
    if (doc.kind !== KIND) s.at('kind').problem(`${shown(doc.kind)} is not ${KIND}`, `set kind: ${KIND}`);
  }
  // What multus itself reads of the object, as it reads the API server's answer.
  const problems = new Problems();
  const malformed = (what: string): CniError => new CniError(ErrorCode.DecodingFailure, `malformed ${KIND}: ${what}`);
  // Even an invalid name is what multus would put in; its problem is reported at metadata.name.
  const nad = checkNadObject(doc, { namespace: 'default', name: '<metadata.name>' }, problems, malformed);
  s.addAll(problems);
  if (isObject(doc) && isObject(doc.metadata)) {
    const annotations = isObject(doc.metadata.annotations) ? doc.metadata.annotations : {};
    lintMetadata(doc.metadata, annotations as Record<string, string>, s);
  }
  if (nad) {
    checkConfig(nad, s);
  } else if (isObject(doc) && isObject(doc.spec) && isObject(doc.spec.config)) {
    // spec.config written as YAML: still worth checking, the author will paste it back as a string.
    const name = isObject(doc.metadata) && typeof doc.metadata.name === 'string' ? doc.metadata.name : '<metadata.name>';
    checkCniConfig(doc.spec.config, s.at('spec').at('config'), { nadName: name });
  }
}
