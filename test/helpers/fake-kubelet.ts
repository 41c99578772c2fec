/**
 * A fake kubelet PodResources service (v1.PodResourcesLister/List) on a unix socket, answering with the pods it is
 * given, encoded with our protobuf codec the way the kubelet's api.proto lays them out: containers with device
 * plugin resources split per NUMA node, CPU and memory assignments (which clients must skip), DRA claims. It can be
 * told to fail or to be slow, and counts the calls.
 *
 *   const kubelet = await startFakeKubelet(join(dir, 'kubelet.sock'), [pod]);
 *   ...
 *   await kubelet.close();
 */
import { encodeMessage, type EncodeField } from '../../src/grpc/wire';
import { startGrpcServer, type GrpcReply } from './grpc-server';

export interface FakeDevices {
  resourceName: string;
  ids: string[];
  /** NUMA nodes of this entry (the kubelet lists one entry per node). */
  numa?: number[];
}

export interface FakeClaim {
  claimName: string;
  claimNamespace?: string;
  /** CDI device names of each claim resource, e.g. [['vendor.com/nic=vf0']]. */
  cdiDevices: string[][];
  driverName?: string;
}

export interface FakeContainer {
  name: string;
  devices?: FakeDevices[];
  claims?: FakeClaim[];
  cpuIds?: number[];
  /** Memory bytes on NUMA node 0, as the memory manager reports it. */
  memory?: number;
}

export interface FakePod {
  namespace: string;
  name: string;
  containers: FakeContainer[];
}

function topology(numa: number[]): Buffer {
  return encodeMessage(numa.map((id) => [1, encodeMessage([[1, id]])] as const));
}

function container(c: FakeContainer): Buffer {
  const fields: EncodeField[] = [[1, c.name]];
  for (const d of c.devices ?? []) {
    fields.push([2, encodeMessage([
      [1, d.resourceName],
      ...d.ids.map((id) => [2, id] as const),
      [3, d.numa ? topology(d.numa) : undefined],
    ])]);
  }
  if (c.cpuIds?.length) fields.push([3, packedVarints(c.cpuIds)]);
  if (c.memory) fields.push([4, encodeMessage([[1, 'memory'], [2, c.memory], [3, topology([0])]])]);
  for (const claim of c.claims ?? []) {
    fields.push([5, encodeMessage([
      [2, claim.claimName],
      [3, claim.claimNamespace ?? ''],
      ...claim.cdiDevices.map((names, i) => [4, encodeMessage([
        ...names.map((n) => [1, encodeMessage([[1, n]])] as const),
        [2, claim.driverName ?? 'dra.example.com'],
        [3, 'pool-a'],
        [4, `device-${i}`],
      ])] as const),
    ])]);
  }
  return encodeMessage(fields);
}

/** The varints of `values` back to back, the body of a packed repeated field. */
function packedVarints(values: number[]): Buffer {
  // encodeMessage([[1, v]]) is the tag byte 0x08 followed by the varint of v.
  return Buffer.concat(values.map((v) => encodeMessage([[1, v]]).subarray(1)));
}

export function encodeListResponse(pods: FakePod[]): Buffer {
  return encodeMessage(pods.map((p) => [1, encodeMessage([
    [1, p.name],
    [2, p.namespace],
    ...p.containers.map((c) => [3, container(c)] as const),
  ])] as const));
}

export interface FakeKubelet {
  socketPath: string;
  pods: FakePod[];
  /** Answer every call with this instead (an error status, a delay, a reset). */
  fault: GrpcReply | undefined;
  /** Wait this long before a normal answer. */
  delayMs: number;
  calls(): number;
  close(): Promise<void>;
}

export async function startFakeKubelet(socketPath: string, pods: FakePod[]): Promise<FakeKubelet> {
  const kubelet: Omit<FakeKubelet, 'calls' | 'close'> = { socketPath, pods, fault: undefined, delayMs: 0 };
  // Encoded once per list of pods (assign `pods` to change them), so a benchmark measures the client, not us.
  let encodedFor: FakePod[] | undefined;
  let encoded: Buffer = Buffer.alloc(0);
  const answer = (): Buffer => {
    if (encodedFor !== kubelet.pods) [encodedFor, encoded] = [kubelet.pods, encodeListResponse(kubelet.pods)];
    return encoded;
  };
  const server = await startGrpcServer(socketPath, {
    '/v1.PodResourcesLister/List': () => kubelet.fault ?? { message: answer(), delayMs: kubelet.delayMs },
  });
  return Object.assign(kubelet, { calls: () => server.calls.length, close: () => server.close() });
}

// A realistic neighbour for every answer: other pods on the node with devices of the same resources.
export function neighbourPod(resourceName: string, ids: string[]): FakePod {
  return { namespace: 'other', name: `neighbour-${ids.join('-')}`, containers: [{ name: 'app', devices: [{ resourceName, ids, numa: [0] }], cpuIds: [2, 3] }] };
}
