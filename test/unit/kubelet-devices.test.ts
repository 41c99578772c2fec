import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '../../src/cni/errors';
import { GrpcStatus } from '../../src/grpc/unary';
import { parseCheckpoint } from '../../src/kubelet/checkpoint';
import { podDevices, type KubeletSources } from '../../src/kubelet/pod-devices';
import { decodeListResponse } from '../../src/kubelet/pod-resources';
import { assignDevices } from '../../src/multus/devices';
import type { MultusCall } from '../../src/multus/call';
import { rejected } from '../helpers/caught';
import { encodeListResponse, neighbourPod, startFakeKubelet, type FakeKubelet, type FakePod } from '../helpers/fake-kubelet';

const SRIOV = 'intel.com/sriov_a';
const POD = { namespace: 'ns1', name: 'web', uid: '7d2c5e0a-0000-4000-8000-000000000001' };

// Two containers; the first got sriov VFs on two NUMA nodes (the kubelet lists one entry per node), the second one
// more VF and a DRA claim; CPU and memory assignments in between, which the client must skip.
const WEB: FakePod = {
  namespace: 'ns1', name: 'web', containers: [
    { name: 'app', cpuIds: [4, 5], memory: 1 << 30, devices: [
      { resourceName: SRIOV, ids: ['0000:3b:02.1', '0000:3b:02.0'], numa: [1] },
      { resourceName: 'nvidia.com/gpu', ids: ['GPU-1'], numa: [0] },
      { resourceName: SRIOV, ids: ['0000:af:02.4'], numa: [0] },
    ] },
    { name: 'sidecar', devices: [{ resourceName: SRIOV, ids: ['0000:af:02.7'], numa: [0] }], claims: [
      { claimName: 'nic-claim', claimNamespace: 'ns1', cdiDevices: [['dra.example.com/nic=vf-3'], ['dra.example.com/nic=vf-9', 'no-equals-sign']] },
    ] },
  ],
};

let dir = '';
let kubelet: FakeKubelet | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multus-ts-kubelet-'));
});
afterEach(async () => {
  await kubelet?.close();
  kubelet = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function sources(extra: Partial<KubeletSources> = {}): KubeletSources {
  return { socketPath: join(dir, 'kubelet.sock'), checkpointFile: join(dir, 'kubelet_internal_checkpoint'), deadlineMs: 5000, ...extra };
}

async function serve(pods: FakePod[]): Promise<FakeKubelet> {
  kubelet = await startFakeKubelet(join(dir, 'kubelet.sock'), pods);
  return kubelet;
}

describe('the PodResources List answer', () => {
  it('decodes pods, containers, devices with their NUMA nodes and DRA claims, skipping CPU and memory', () => {
    const [pod] = decodeListResponse(encodeListResponse([WEB]));
    expect(pod!.name).toBe('web');
    expect(pod!.containers.map((c) => c.name)).toEqual(['app', 'sidecar']);
    expect(pod!.containers[0]!.devices).toEqual([
      { resourceName: SRIOV, deviceIds: ['0000:3b:02.1', '0000:3b:02.0'], numaNodes: [1] },
      { resourceName: 'nvidia.com/gpu', deviceIds: ['GPU-1'], numaNodes: [0] },
      { resourceName: SRIOV, deviceIds: ['0000:af:02.4'], numaNodes: [0] },
    ]);
    expect(pod!.containers[1]!.dynamicResources[0]).toMatchObject({
      claimName: 'nic-claim', claimNamespace: 'ns1',
      claimResources: [
        { cdiDevices: ['dra.example.com/nic=vf-3'], driverName: 'dra.example.com', deviceName: 'device-0' },
        { cdiDevices: ['dra.example.com/nic=vf-9', 'no-equals-sign'], deviceName: 'device-1' },
      ],
    });
  });
});

describe('the devices of a pod, from the kubelet', () => {
  it('collects the IDs of the pod matched by namespace and name, per resource, in the kubelet\'s order', async () => {
    await serve([neighbourPod(SRIOV, ['0000:3b:02.5']), { ...WEB, namespace: 'other-ns' }, WEB]);
    const found = await podDevices(sources(), POD);
    expect(found.source).toBe(`the kubelet at ${join(dir, 'kubelet.sock')}`);
    expect(found.byResource.get(SRIOV)).toEqual(['0000:3b:02.1', '0000:3b:02.0', '0000:af:02.4', '0000:af:02.7']);
    expect(found.byResource.get('nvidia.com/gpu')).toEqual(['GPU-1']);
  });

  it('takes DRA claims by claim name, with the device part of each CDI name (as Multus 4.2)', async () => {
    await serve([WEB]);
    expect((await podDevices(sources(), POD)).byResource.get('nic-claim')).toEqual(['vf-3', 'vf-9']);
  });

  it('finds nothing for a pod the kubelet does not list', async () => {
    await serve([neighbourPod(SRIOV, ['0000:3b:02.5'])]);
    expect((await podDevices(sources(), POD)).byResource.size).toBe(0);
  });

  it('waits for a slow kubelet within the deadline', async () => {
    (await serve([WEB])).delayMs = 300;
    expect((await podDevices(sources(), POD)).byResource.get(SRIOV)).toHaveLength(4);
  });

  it('fails naming the socket when the kubelet is slower than the deadline (code 11)', async () => {
    (await serve([WEB])).delayMs = 3000;
    const err = await rejected(podDevices(sources({ deadlineMs: 200 }), POD));
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.message).toContain(`the kubelet at ${join(dir, 'kubelet.sock')}`);
    expect(err.message).toContain('DEADLINE_EXCEEDED');
  });

  it('fails with the kubelet\'s own status and message', async () => {
    (await serve([WEB])).fault = { status: GrpcStatus.PermissionDenied, statusMessage: 'pod resources API disabled' };
    const err = await rejected(podDevices(sources(), POD));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.message).toMatch(/kubelet\.sock: PERMISSION_DENIED: pod resources API disabled$/);
  });

  it('fails on an answer that is not a List response, naming the socket', async () => {
    (await serve([WEB])).fault = { message: Buffer.from([0x0a, 0x05, 0x0b]) };
    const err = await rejected(podDevices(sources(), POD));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.message).toContain(`cannot list pod resources from the kubelet at ${join(dir, 'kubelet.sock')}: `);
  });

  it('fails when the socket exists but nobody listens (a kubelet restarting), code 11', async () => {
    const path = join(dir, 'kubelet.sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(path, r));
    // Closing a listening unix server leaves no socket file behind; recreate one nobody accepts on.
    await new Promise<void>((r) => server.close(() => r()));
    writeFileSync(path, '');
    const err = await rejected(podDevices(sources(), POD));
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.message).toContain('UNAVAILABLE');
  });
});

describe('the devices of a pod, from the checkpoint file when there is no socket', () => {
  const checkpoint = (entries: unknown[]) => JSON.stringify({ Data: { PodDeviceEntries: entries, RegisteredDevices: { [SRIOV]: ['x'] } }, Checksum: 1234 });

  it('matches the pod by UID and orders NUMA nodes numerically', async () => {
    writeFileSync(sources().checkpointFile, checkpoint([
      { PodUID: 'someone-else', ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { 0: ['0000:3b:02.9'] }, AllocResp: 'Cg==' },
      { PodUID: POD.uid, ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { 10: ['c'], 2: ['b'], 0: ['a'] }, AllocResp: 'Cg==' },
      { PodUID: POD.uid, ContainerName: 'sidecar', ResourceName: SRIOV, DeviceIDs: { 1: ['d'] }, AllocResp: 'Cg==' },
    ]));
    const found = await podDevices(sources(), POD);
    expect(found.source).toBe(`the kubelet checkpoint ${sources().checkpointFile}`);
    expect(found.byResource.get(SRIOV)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('reads the older list form of DeviceIDs and Go\'s case-insensitive keys', () => {
    expect(parseCheckpoint(JSON.stringify({ data: { podDeviceEntries: [{ poduid: 'u', ResourceName: 'r', DeviceIDs: ['x', 'y'] }] } })))
      .toEqual([{ podUID: 'u', containerName: '', resourceName: 'r', deviceIds: ['x', 'y'] }]);
  });

  it('fails naming both paths when neither exists', async () => {
    const err = await rejected(podDevices(sources(), POD));
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.message).toContain(`socket ${sources().socketPath} nor its checkpoint file ${sources().checkpointFile}`);
  });

  it('fails on a file that is not a checkpoint, saying where', async () => {
    writeFileSync(sources().checkpointFile, checkpoint([{ PodUID: POD.uid, ResourceName: SRIOV, DeviceIDs: { 0: [1] } }]));
    expect((await rejected(podDevices(sources(), POD))).message).toContain('Data.PodDeviceEntries[0].DeviceIDs["0"] is not a list of strings');
    writeFileSync(sources().checkpointFile, '{"Data": ');
    expect((await rejected(podDevices(sources(), POD))).message).toContain('not JSON');
  });
});

describe('handing devices to attachments', () => {
  const call = () => ({ conf: { kubeletSocket: join(dir, 'kubelet.sock'), kubeletCheckpointFile: join(dir, 'none') } }) as unknown as MultusCall;
  const req = (index: number, resourceName: string, network: string) => ({ index, resourceName, network });

  it('keeps one counter per resource across networks, in attachment order', async () => {
    await serve([WEB]);
    const ids = await assignDevices(call(), POD, [req(1, SRIOV, 'ns1/a'), req(2, 'nvidia.com/gpu', 'ns1/g'), req(3, SRIOV, 'ns1/b'), req(4, SRIOV, 'ns1/a')], true);
    expect([...ids.entries()]).toEqual([[1, '0000:3b:02.1'], [3, '0000:3b:02.0'], [4, '0000:af:02.4'], [2, 'GPU-1']]);
    expect(kubelet!.calls()).toBe(1);
  });

  it('refuses more attachments than devices, naming the resource, the networks and the counts', async () => {
    await serve([WEB]);
    const err = await rejected(assignDevices(call(), POD, [req(1, 'nvidia.com/gpu', 'ns1/g'), req(2, 'nvidia.com/gpu', 'ns1/h')], true));
    expect(err.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(err.message).toBe(`resource "nvidia.com/gpu": 2 attachments (ns1/g, ns1/h) need a device each, but the kubelet at ${join(dir, 'kubelet.sock')} lists 1 for pod ns1/web`);
  });

  it('names the resources when the kubelet cannot answer', async () => {
    (await serve([WEB])).fault = { status: GrpcStatus.Unavailable, statusMessage: 'shutting down' };
    const err = await rejected(assignDevices(call(), POD, [req(1, SRIOV, 'ns1/a'), req(2, 'nic-claim', 'ns1/c')], true));
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.message).toMatch(/^cannot get the devices of resources "intel.com\/sriov_a", "nic-claim": cannot list pod resources from the kubelet at .*kubelet.sock: UNAVAILABLE: shutting down$/);
  });

  it('gives what it can without failing when not strict (DEL without its cache)', async () => {
    await serve([WEB]);
    const ids = await assignDevices(call(), POD, [req(1, 'nvidia.com/gpu', 'ns1/g'), req(2, 'nvidia.com/gpu', 'ns1/h')], false);
    expect([...ids.entries()]).toEqual([[1, 'GPU-1']]);
    kubelet!.fault = { status: GrpcStatus.Internal };
    expect((await assignDevices(call(), POD, [req(1, SRIOV, 'ns1/a')], false)).size).toBe(0);
  });
});
