import {
  checkNetworkSelection, DEFAULT_NETWORK_ANNOTATION, NETWORKS_ANNOTATION, SELECTION_KEYS,
} from '../k8s/network-selection';
import { Findings, isObject, shown } from './findings';
import { closestKey } from './suggest';

/** One annotation value, every problem reported; keys Multus ignores are flagged when they look like typos. */
export function checkAnnotationValue(value: string, findings: Findings, annotation = NETWORKS_ANNOTATION, label = ''): void {
  // The namespace only fills in the parsed elements, which are not shown.
  const { problems, ignoredKeys } = checkNetworkSelection(value, 'default', annotation);
  const at = (where: string): string => (label ? `${label}: ${where}` : where);
  problems.forEach(({ error, ...p }) => findings.add({ ...p, where: at(p.where) }, error));
  for (const { where: w, key } of ignoredKeys) {
    const where = at(w);
    const meant = closestKey(key, SELECTION_KEYS);
    if (key.toLowerCase() === 'gateway') {
      // The name the default-route request had in old Multus documentation; today it is silently ignored.
      findings.add({
        where,
        problem: '"gateway" is not a network-selection key (it is obsolete) and is ignored: the default route stays where it was',
        fix: 'to route the pod\'s default route through this network, write "default-route": ["<gateway IP>"]',
      });
    } else if (meant) {
      findings.add({ where, problem: `unknown key ${JSON.stringify(key)} is ignored`, fix: `did you mean ${JSON.stringify(meant)}?` });
    } else if (key.toLowerCase() === 'ipam-claim-reference') {
      findings.note(where, '"ipam-claim-reference" is not supported by Multus or multus-ts and is ignored');
    } else {
      findings.note(where, `unknown key ${JSON.stringify(key)} is ignored`);
    }
  }
}

/**
 * The pod template's metadata in a Pod or a workload manifest (Deployment, DaemonSet, StatefulSet, Job, CronJob, ...),
 * where users actually write the annotations.
 */
function podMetadata(doc: Record<string, unknown>): Record<string, unknown> | undefined {
  let spec: unknown = doc.spec;
  if (doc.kind === 'Pod') return isObject(doc.metadata) ? doc.metadata : undefined;
  if (isObject(spec) && isObject(spec.jobTemplate)) spec = spec.jobTemplate.spec;
  const template = isObject(spec) ? spec.template : undefined;
  return isObject(template) && isObject(template.metadata) ? template.metadata : undefined;
}

/** Whether a parsed document is a Kubernetes manifest with a pod (template) in it. */
export function isPodManifest(doc: unknown): doc is Record<string, unknown> {
  return isObject(doc) && typeof doc.kind === 'string' && podMetadata(doc) !== undefined;
}

/** The network annotations of a manifest's pod (template). */
export function checkPodManifest(doc: Record<string, unknown>, label: string, findings: Findings): void {
  const meta = podMetadata(doc) ?? {};
  const annotations = isObject(meta.annotations) ? meta.annotations : {};
  let found = false;
  for (const key of [NETWORKS_ANNOTATION, DEFAULT_NETWORK_ANNOTATION]) {
    const value = annotations[key];
    if (value === undefined) continue;
    found = true;
    if (typeof value !== 'string') {
      findings.add({ where: `${label}: ${key}`, problem: `${shown(value)} is not a string`, fix: 'quote the value: Kubernetes annotation values are strings' });
      continue;
    }
    checkAnnotationValue(value, findings, key, label);
  }
  if (!found) findings.note(label, `has neither ${NETWORKS_ANNOTATION} nor ${DEFAULT_NETWORK_ANNOTATION} in its pod annotations`);
}
