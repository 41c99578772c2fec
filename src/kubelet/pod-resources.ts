/**
 * The kubelet's PodResources API, v1 (`k8s.io/kubelet/pkg/apis/podresources/v1`): the `List` call and the parts of
 * its answer that say which devices a pod got. Message and field numbers are those of the kubelet's api.proto;
 * CPU and memory assignments are not read.
 */
import { unaryCall } from '../grpc/unary';
import { decodeMessage, type DecodedMessage } from '../grpc/wire';

export const POD_RESOURCES_SERVICE = 'v1.PodResourcesLister';

/** Devices of one device-plugin resource given to a container; the kubelet lists one entry per NUMA node. */
export interface ContainerDevices {
  resourceName: string;
  deviceIds: string[];
  numaNodes: number[];
}

/** One device of a dynamic resource allocation claim. */
export interface ClaimResource {
  /** Fully qualified CDI device names, `vendor.com/class=device`. */
  cdiDevices: string[];
  driverName: string;
  poolName: string;
  deviceName: string;
}

export interface DynamicResource {
  claimName: string;
  claimNamespace: string;
  claimResources: ClaimResource[];
}

export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
  dynamicResources: DynamicResource[];
}

export interface PodResources {
  name: string;
  namespace: string;
  containers: ContainerResources[];
}

// ListPodResourcesResponse.pod_resources = 1; PodResources: name 1, namespace 2, containers 3;
// ContainerResources: name 1, devices 2, dynamic_resources 5; ContainerDevices: resource_name 1, device_ids 2,
// topology 3 (TopologyInfo.nodes 1, NUMANode.ID 1); DynamicResource: claim_name 2, claim_namespace 3,
// claim_resources 4; ClaimResource: cdi_devices 1 (CDIDevice.name 1), driver_name 2, pool_name 3, device_name 4.
function containerDevices(m: DecodedMessage): ContainerDevices {
  return {
    resourceName: m.string(1),
    deviceIds: m.strings(2),
    numaNodes: m.message(3).messages(1).map((n) => n.int(1)),
  };
}

function dynamicResource(m: DecodedMessage): DynamicResource {
  return {
    claimName: m.string(2),
    claimNamespace: m.string(3),
    claimResources: m.messages(4).map((c) => ({
      cdiDevices: c.messages(1).map((d) => d.string(1)),
      driverName: c.string(2),
      poolName: c.string(3),
      deviceName: c.string(4),
    })),
  };
}

export function decodeListResponse(answer: Buffer): PodResources[] {
  return decodeMessage(answer).messages(1).map((p) => ({
    name: p.string(1),
    namespace: p.string(2),
    containers: p.messages(3).map((c) => ({
      name: c.string(1),
      devices: c.messages(2).map(containerDevices),
      dynamicResources: c.messages(5).map(dynamicResource),
    })),
  }));
}

/** A node with many pods answers with a large list; the kubelet's clients (Multus too) accept up to 16 MiB. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Every pod's resources on this node. Throws GrpcError (or WireFormatError for an unreadable answer). */
export async function listPodResources(socketPath: string, deadlineMs: number): Promise<PodResources[]> {
  const answer = await unaryCall({
    socketPath, service: POD_RESOURCES_SERVICE, method: 'List', request: Buffer.alloc(0), deadlineMs, maxResponseBytes: MAX_ANSWER_BYTES,
  });
  return decodeListResponse(answer);
}
