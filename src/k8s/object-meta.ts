import { isJsonObject, Problems, shown } from '../cni/config-reader';
import type { CniError } from '../cni/errors';

/*
 * The envelope of a Kubernetes object (the API server's answer, or a manifest `multus validate` reads): the object,
 * its metadata and the fields multus uses, each problem collected. `bad` words the runtime's error for a problem
 * (e.g. "the API server sent a malformed ..."), so the runtime and validate apply the same rules.
 */

/** The metadata multus reads; a field that is absent (or refused) is undefined. */
export interface ObjectMeta {
  uid?: string;
  namespace?: string;
  name?: string;
  resourceVersion?: string;
  annotations: Record<string, string>;
}

export type Malformed = (what: string) => CniError;

/** An object field of `obj`; undefined when absent (with `optional`) or refused. */
export function objectPart(obj: Record<string, unknown>, key: string, problems: Problems, bad: Malformed, optional = false): Record<string, unknown> | undefined {
  const v = obj[key];
  if (optional && (v === undefined || v === null)) return undefined;
  if (isJsonObject(v)) return v;
  problems.add({
    where: key, problem: v === undefined ? 'is missing' : `${shown(v)} is not an object`,
    fix: key === 'metadata' ? 'add metadata with at least a name: metadata: {name: macvlan-conf}' : `write ${key} as a map of keys and values`,
    error: bad(`${key} is not an object`),
  });
  return undefined;
}

/** The object and its metadata; undefined when either is not an object. */
export function checkObjectMeta(raw: unknown, problems: Problems, bad: Malformed): { object: Record<string, unknown>; meta: ObjectMeta } | undefined {
  if (!isJsonObject(raw)) {
    problems.add({ where: '', problem: `${shown(raw)} is not an object`, fix: 'write a Kubernetes object (apiVersion, kind, metadata, ...)', error: bad('the answer is not an object') });
    return undefined;
  }
  const metadata = objectPart(raw, 'metadata', problems, bad);
  if (!metadata) return undefined;
  const meta: ObjectMeta = { annotations: {} };
  for (const key of ['uid', 'namespace', 'name', 'resourceVersion'] as const) {
    const v = metadata[key];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') meta[key] = v;
    else problems.add({ where: `metadata.${key}`, problem: `${shown(v)} is not a string`, fix: `write metadata.${key} as a string`, error: bad(`metadata.${key} is not a string`) });
  }
  const annotations = metadata.annotations;
  if (annotations === undefined || annotations === null) return { object: raw, meta };
  const error = bad('metadata.annotations is not a map of strings');
  if (!isJsonObject(annotations)) {
    problems.add({ where: 'metadata.annotations', problem: `${shown(annotations)} is not a map`, fix: 'write annotations as key: "value" pairs', error });
    return { object: raw, meta };
  }
  for (const [k, v] of Object.entries(annotations)) {
    if (typeof v === 'string') meta.annotations[k] = v;
    else problems.add({ where: `metadata.annotations.${k}`, problem: `${shown(v)} is not a string`, fix: 'quote the value: Kubernetes annotation values are strings', error });
  }
  return { object: raw, meta };
}
