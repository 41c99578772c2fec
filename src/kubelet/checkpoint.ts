/**
 * The device manager's checkpoint file (`kubelet_internal_checkpoint`), which kubelets wrote before the
 * PodResources API existed and still write: `{"Data": {"PodDeviceEntries": [{PodUID, ContainerName,
 * ResourceName, DeviceIDs}], ...}, "Checksum": n}`. Entries name the pod by UID. DeviceIDs is a map from NUMA
 * node to IDs (kubelet ≥ 1.20) or, in older files, a plain list.
 */
import { goField } from '../cni/config-reader';
import { parseJson } from '../cni/json-text';

export interface CheckpointEntry {
  podUID: string;
  containerName: string;
  resourceName: string;
  deviceIds: string[];
}

/** The file is not what the kubelet writes; the message says which part. */
export class CheckpointFormatError extends Error {}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new CheckpointFormatError(`${where} is not a list of strings`);
  return v as string[];
}

/**
 * NUMA nodes in numeric order: Go Multus walks the map in Go's random order, so a pod whose devices span two
 * nodes could see its attachments' devices swap between runs; here the order is always the same.
 */
function deviceIds(v: unknown, where: string): string[] {
  if (!isObject(v)) return stringList(v, where);
  return Object.keys(v)
    .sort((a, b) => Number(a) - Number(b))
    .flatMap((numa) => stringList(v[numa], `${where}["${numa}"]`));
}

export function parseCheckpoint(text: string): CheckpointEntry[] {
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch (e) {
    throw new CheckpointFormatError(`not JSON: ${(e as Error).message}`);
  }
  const data = isObject(doc) ? goField(doc, 'Data') : undefined;
  if (!isObject(data)) throw new CheckpointFormatError('has no "Data" object');
  const entries = goField(data, 'PodDeviceEntries') ?? [];
  if (!Array.isArray(entries)) throw new CheckpointFormatError('"Data.PodDeviceEntries" is not a list');
  return entries.map((e, i) => {
    const where = `Data.PodDeviceEntries[${i}]`;
    if (!isObject(e)) throw new CheckpointFormatError(`${where} is not an object`);
    const str = (key: string): string => {
      const v = goField(e, key) ?? '';
      if (typeof v !== 'string') throw new CheckpointFormatError(`${where}.${key} is not a string`);
      return v;
    };
    return {
      podUID: str('PodUID'),
      containerName: str('ContainerName'),
      resourceName: str('ResourceName'),
      deviceIds: deviceIds(goField(e, 'DeviceIDs'), `${where}.DeviceIDs`),
    };
  });
}
