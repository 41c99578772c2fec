/**
 * A minimal CRI client: the calls kubelet makes to run a pod's sandbox (`runtime.v1.RuntimeService`), over the
 * runtime's gRPC socket, with the messages encoded by hand from the cri-api v1 field numbers.
 *
 *   const cri = new CriClient('/run/containerd/containerd.sock');
 *   const id = await cri.runPodSandbox({ name: 'p', namespace: 'ns', uid, annotations });
 *   await cri.stopPodSandbox(id); await cri.removePodSandbox(id);
 */
import { unaryCall } from '../../src/grpc/unary';
import { decodeMessage, encodeMessage, type DecodedMessage, type EncodeField } from '../../src/grpc/wire';

const RUNTIME = 'runtime.v1.RuntimeService';
const IMAGES = 'runtime.v1.ImageService';
/** kubelet's default --runtime-request-timeout is 2 minutes, and RunPodSandbox gets twice that. */
const DEADLINE_MS = 120_000;
const RUN_SANDBOX_DEADLINE_MS = 2 * DEADLINE_MS;

export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Where the sandbox's cgroup goes (cgroupfs path), as kubelet passes the pod's QoS cgroup. */
  cgroupParent?: string;
  attempt?: number;
}

export interface SandboxStatus {
  id: string;
  state: 'ready' | 'notready';
  /** The pod IP the runtime took from the CNI result (eth0's first address), then the others. */
  ips: string[];
  /** The verbose `info` document: containerd puts the runtime spec (with the netns path), the pid and the CNI result there. */
  info: Record<string, unknown> | undefined;
}

export interface SandboxSummary {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  state: 'ready' | 'notready';
  labels: Record<string, string>;
}

/** A protobuf map<string,string>: one embedded entry message (key = 1, value = 2) per pair. */
function mapEntries(no: number, map: Record<string, string> | undefined): EncodeField[] {
  return Object.entries(map ?? {}).map(([k, v]) => [no, encodeMessage([[1, k], [2, v]])] as const);
}

function decodeMap(entries: DecodedMessage[]): Record<string, string> {
  return Object.fromEntries(entries.map((e) => [e.string(1), e.string(2)]));
}

function podSandboxConfig(pod: PodSpec): Buffer {
  const metadata = encodeMessage([[1, pod.name], [2, pod.uid], [3, pod.namespace], [4, pod.attempt ?? 0]]);
  // NamespaceOption.network = POD (0): the sandbox gets a network namespace of its own, which the runtime's CNI fills.
  const securityContext = encodeMessage([[1, encodeMessage([[1, 0], [2, 0], [3, 0]])]]);
  const linux = encodeMessage([[1, pod.cgroupParent], [2, securityContext]]);
  // The labels kubelet puts on every sandbox, then the caller's.
  const labels = {
    'io.kubernetes.pod.name': pod.name,
    'io.kubernetes.pod.namespace': pod.namespace,
    'io.kubernetes.pod.uid': pod.uid,
    ...pod.labels,
  };
  return encodeMessage([
    [1, metadata],
    [2, pod.name],
    ...mapEntries(6, labels),
    ...mapEntries(7, pod.annotations),
    [8, linux],
  ]);
}

const state = (n: number): 'ready' | 'notready' => (n === 0 ? 'ready' : 'notready');

export class CriClient {
  constructor(readonly socketPath: string) {}

  private async call(method: string, fields: EncodeField[], service = RUNTIME, deadlineMs = DEADLINE_MS): Promise<DecodedMessage> {
    const answer = await unaryCall({ socketPath: this.socketPath, service, method, request: encodeMessage(fields), deadlineMs });
    return decodeMessage(answer);
  }

  /** Whether the runtime's image store knows this image (the sandbox image must be there: nothing can be pulled). */
  async hasImage(ref: string): Promise<boolean> {
    const r = await this.call('ImageStatus', [[1, encodeMessage([[1, ref]])]], IMAGES);
    return r.message(1).string(1) !== '';
  }

  async version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }> {
    const r = await this.call('Version', [[1, 'v1']]);
    return { runtimeName: r.string(2), runtimeVersion: r.string(3), runtimeApiVersion: r.string(4) };
  }

  /** Returns the sandbox ID; fails with the runtime's message (which quotes the CNI error) when setup fails. */
  async runPodSandbox(pod: PodSpec): Promise<string> {
    const r = await this.call('RunPodSandbox', [[1, podSandboxConfig(pod)]], RUNTIME, RUN_SANDBOX_DEADLINE_MS);
    return r.string(1);
  }

  async podSandboxStatus(id: string): Promise<SandboxStatus> {
    const r = await this.call('PodSandboxStatus', [[1, id], [2, true]]);
    const s = r.message(1);
    const network = s.message(5);
    const info = decodeMap(r.messages(2)).info;
    return {
      id: s.string(1),
      state: state(s.uint(3)),
      ips: [network.string(1), ...network.messages(2).map((m) => m.string(1))].filter(Boolean),
      info: info ? (JSON.parse(info) as Record<string, unknown>) : undefined,
    };
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', [[1, id]]);
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', [[1, id]]);
  }

  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<SandboxSummary[]> {
    const filter = encodeMessage(mapEntries(3, labelSelector));
    const r = await this.call('ListPodSandbox', [[1, filter]]);
    return r.messages(1).map((p) => {
      const md = p.message(2);
      return { id: p.string(1), name: md.string(1), uid: md.string(2), namespace: md.string(3), state: state(p.uint(3)), labels: decodeMap(p.messages(5)) };
    });
  }
}
