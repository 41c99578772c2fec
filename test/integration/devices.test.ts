import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMultusAsync, uniqueId, Workdir, type RunOutcome } from '../helpers/multus';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { neighbourPod, startFakeKubelet, type FakeContainer, type FakeKubelet } from '../helpers/fake-kubelet';
import { GrpcStatus } from '../../src/grpc/unary';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const RESOURCE = 'k8s.v1.cni.cncf.io/resourceName';
const SRIOV = 'intel.com/sriov_a';

type SpyCall = { command: string; env: Record<string, string>; stdin: Record<string, any> };

// Device-plugin networks: NADs that name a resource get the devices the kubelet (our fake, over gRPC on a unix
// socket) gave the pod. The delegates are real macvlan attachments in real namespaces, followed in each NAD's
// list by the spy plugin, which records the configuration and runtimeConfig it was given.
describe.skipIf(!canUseNamespaces)('device IDs from the kubelet, in real namespaces', () => {
  let node: TestNode;
  let api: ApiServer;
  beforeAll(async () => {
    node = new TestNode();
    api = await startApiServer({ netns: `/var/run/netns/${node.nodeNs}` });
  });
  afterAll(async () => {
    await api.close();
    node.destroy();
  });

  let f: { podNs: string; work: Workdir; bridge: string; kubelet?: FakeKubelet; socket: string; checkpoint: string; devinfo: string };
  beforeEach(() => {
    const work = new Workdir();
    f = { podNs: node.addPod(), work, bridge: `b${uniqueId()}`, socket: join(work.dir, 'kubelet.sock'),
      checkpoint: join(work.dir, 'kubelet_internal_checkpoint'), devinfo: join(work.dir, 'devinfo') };
  });
  afterEach(async () => {
    await f.kubelet?.close();
    spawnSync('ip', ['netns', 'del', f.podNs]);
    f.work.remove();
  });

  const podLinks = () => node.links(f.podNs).filter((l) => l.ifname !== 'lo');
  const spy = (extra: Record<string, unknown> = {}) => ({ type: 'spy', spy: { log: f.work.spyLog }, capabilities: { deviceID: true, CNIDeviceInfoFile: true }, ...extra });
  const spyCalls = (command: string, ifName?: string): SpyCall[] =>
    (f.work.spyCalls() as SpyCall[]).filter((c) => c.command === command && (!ifName || c.env.CNI_IFNAME === ifName));

  function setup(annotations: Record<string, string>) {
    const ns = `dev-${uniqueId()}`;
    const podName = `pod-${uniqueId()}`;
    const pod = api.addPod({ namespace: ns, name: podName, annotations });
    const uid = pod.metadata.uid as string;
    const conf = {
      cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig: api.writeKubeconfig(f.work.dir), cniDir: f.work.cniDir,
      binDir: f.work.binDir, multusNamespace: ns, kubeletSocket: f.socket, kubeletCheckpointFile: f.checkpoint, deviceInfoDir: f.devinfo,
      // The primary is a list too, ending in the spy, so that the test sees it get no device.
      delegates: [{ cniVersion: '1.0.0', name: 'cluster', plugins: [
        { type: 'bridge', bridge: f.bridge, ipam: { type: 'host-local', subnet: '10.241.0.0/24', dataDir: f.work.ipamDir } },
        spy(),
      ] }],
    };
    const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${podName};K8S_POD_UID=${uid}`;
    const containerId = `c${f.bridge}`;
    const call = (command: string): Promise<RunOutcome> =>
      runMultusAsync({ command, conf, containerId, netns: `/var/run/netns/${f.podNs}`, inNetns: node.nodeNs, args });
    return { ns, podName, uid, containerId, call };
  }

  /** A NAD on `resource` (when given): a macvlan attachment with the spy after it, or the spy alone. */
  function addNad(ns: string, name: string, resource: string | undefined, subnet: string | undefined, spyExtra: Record<string, unknown> = {}) {
    const config = subnet
      ? { cniVersion: '1.0.0', name, plugins: [
        { type: 'macvlan', master: node.uplink, mode: 'bridge', ipam: { type: 'host-local', subnet, dataDir: f.work.ipamDir } },
        spy(spyExtra),
      ] }
      : { cniVersion: '1.0.0', name, ...spy(spyExtra) };
    api.addNad({ namespace: ns, name, config: JSON.stringify(config), ...(resource && { annotations: { [RESOURCE]: resource } }) });
  }

  async function kubelet(ns: string, podName: string, containers: FakeContainer[]): Promise<FakeKubelet> {
    f.kubelet = await startFakeKubelet(f.socket, [neighbourPod(SRIOV, ['0000:3b:02.7']), { namespace: ns, name: podName, containers }]);
    return f.kubelet;
  }

  // VFs on two NUMA nodes, listed by the kubelet in this order.
  const vfs: FakeContainer[] = [
    { name: 'app', cpuIds: [2, 3], devices: [
      { resourceName: SRIOV, ids: ['0000:3b:02.2', '0000:3b:02.0'], numa: [0] },
      { resourceName: SRIOV, ids: ['0000:af:02.1'], numa: [1] },
    ] },
  ];

  const nothingLeft = () => {
    expect(podLinks()).toEqual([]);
    expect(existsSync(f.work.ipamDir) ? readdirSync(f.work.ipamDir, { recursive: true }).filter((x) => /\d+\.\d+\.\d+\.\d+$/.test(String(x))) : []).toEqual([]);
    expect(existsSync(f.work.cniDir) ? readdirSync(f.work.cniDir).filter((x) => x !== 'results' && x !== '.deleted') : []).toEqual([]);
    expect(existsSync(join(f.devinfo, 'cni')) ? readdirSync(join(f.devinfo, 'cni')) : []).toEqual([]);
  };

  it('gives two attachments of one NAD two distinct devices in the kubelet\'s order, and the primary none', async () => {
    const t = setup({ [NETWORKS]: 'sriov,sriov' });
    addNad(t.ns, 'sriov', SRIOV, '10.242.0.0/24');
    const k = await kubelet(t.ns, t.podName, vfs);
    const add = await t.call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(k.calls()).toBe(1);
    expect(podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1', 'net2']);
    const [net1] = spyCalls('ADD', 'net1');
    const [net2] = spyCalls('ADD', 'net2');
    expect([net1!.stdin.deviceID, net1!.stdin.pciBusID, net1!.stdin.runtimeConfig.deviceID]).toEqual(['0000:3b:02.2', '0000:3b:02.2', '0000:3b:02.2']);
    expect([net2!.stdin.deviceID, net2!.stdin.pciBusID, net2!.stdin.runtimeConfig.deviceID]).toEqual(['0000:3b:02.0', '0000:3b:02.0', '0000:3b:02.0']);
    expect(net1!.stdin.runtimeConfig.CNIDeviceInfoFile).toBe(join(f.devinfo, 'cni', `${t.ns}-sriov-${t.containerId}_net1`));
    const [eth0] = spyCalls('ADD', 'eth0');
    expect(eth0!.stdin).not.toHaveProperty('deviceID');
    expect(eth0!.stdin.runtimeConfig ?? {}).toEqual({});

    // DEL needs no kubelet: the device IDs come from the cache.
    await k.close();
    f.kubelet = undefined;
    const del = await t.call('DEL');
    expect(del.stderr).toBe('');
    expect(del.status).toBe(0);
    expect(spyCalls('DEL', 'net1')[0]!.stdin.deviceID).toBe('0000:3b:02.2');
    expect(spyCalls('DEL', 'net2')[0]!.stdin.runtimeConfig.deviceID).toBe('0000:3b:02.0');
    nothingLeft();
  });

  it('shares one counter between a list NAD and a single-plugin NAD of the same resource; other NADs take none', async () => {
    const t = setup({ [NETWORKS]: 'vf-list,plain,vf-single,vf-list' });
    addNad(t.ns, 'vf-list', SRIOV, '10.243.0.0/24');
    addNad(t.ns, 'plain', undefined, '10.244.0.0/24');
    addNad(t.ns, 'vf-single', SRIOV, undefined);
    await kubelet(t.ns, t.podName, vfs);
    const add = await t.call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    const ids = ['net1', 'net2', 'net3', 'net4'].map((ifName) => spyCalls('ADD', ifName)[0]!.stdin.deviceID);
    expect(ids).toEqual(['0000:3b:02.2', undefined, '0000:3b:02.0', '0000:af:02.1']);
    // The list's macvlan got the same ID as the spy after it: the delegate cache holds what each plugin ran with.
    const cache = JSON.parse(readFileSync(join(f.work.cniDir, t.containerId), 'utf8')) as Array<{ Bytes: string }>;
    const listConf = JSON.parse(Buffer.from(cache[1]!.Bytes, 'base64').toString()) as { plugins: Array<Record<string, unknown>> };
    expect(listConf.plugins.map((p) => [p.type, p.deviceID, p.pciBusID])).toEqual([['macvlan', '0000:3b:02.2', '0000:3b:02.2'], ['spy', '0000:3b:02.2', '0000:3b:02.2']]);
    expect((await t.call('DEL')).status).toBe(0);
    nothingLeft();
  });

  it('copies the device plugin\'s device-info for the delegate, reports it in network-status, removes the copy on DEL', async () => {
    const t = setup({ [NETWORKS]: 'sriov' });
    addNad(t.ns, 'sriov', SRIOV, '10.245.0.0/24');
    await kubelet(t.ns, t.podName, vfs);
    const info = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:3b:02.2', 'pf-pci-address': '0000:3b:00.0' } };
    const dp = join(f.devinfo, 'dp', 'intel.com-sriov_a-0000:3b:02.2-device.json');
    mkdirSync(join(f.devinfo, 'dp'), { recursive: true });
    writeFileSync(dp, JSON.stringify(info));
    const add = await t.call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    const copy = join(f.devinfo, 'cni', `${t.ns}-sriov-${t.containerId}_net1`);
    expect(JSON.parse(readFileSync(copy, 'utf8'))).toEqual(info);
    const status = JSON.parse(api.pod(t.ns, t.podName)!.metadata.annotations[STATUS] as string) as Array<Record<string, unknown>>;
    expect(status.find((s) => s.interface === 'net1')).toMatchObject({ name: `${t.ns}/sriov`, 'device-info': info });
    expect(status.find((s) => s.interface === 'eth0')).not.toHaveProperty('device-info');
    expect((await t.call('DEL')).status).toBe(0);
    expect(existsSync(copy)).toBe(false);
    expect(JSON.parse(readFileSync(dp, 'utf8'))).toEqual(info);
    nothingLeft();
  });

  it('deletes without its cache and without a kubelet: the networks from the API, the device-info copies too', async () => {
    const t = setup({ [NETWORKS]: 'sriov' });
    addNad(t.ns, 'sriov', SRIOV, '10.252.0.0/24');
    const k = await kubelet(t.ns, t.podName, vfs);
    mkdirSync(join(f.devinfo, 'dp'), { recursive: true });
    writeFileSync(join(f.devinfo, 'dp', 'intel.com-sriov_a-0000:3b:02.2-device.json'), '{"type":"pci","version":"1.1.0"}');
    expect((await t.call('ADD')).status).toBe(0);
    expect(readdirSync(join(f.devinfo, 'cni'))).toHaveLength(1);
    await k.close();
    f.kubelet = undefined;
    rmSync(join(f.work.cniDir, t.containerId));
    const del = await t.call('DEL');
    expect(del.status).toBe(0);
    // The kubelet could not say which device it was; the DEL goes on without one rather than failing.
    expect(spyCalls('DEL', 'net1').map((c) => c.stdin.deviceID)).toEqual([undefined]);
    nothingLeft();
  });

  it('reads the kubelet checkpoint, matched by pod UID, when there is no PodResources socket', async () => {
    const t = setup({ [NETWORKS]: 'sriov,sriov' });
    addNad(t.ns, 'sriov', SRIOV, '10.246.0.0/24');
    writeFileSync(f.checkpoint, JSON.stringify({ Data: { PodDeviceEntries: [
      { PodUID: 'another-pod', ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { 0: ['0000:3b:02.7'] }, AllocResp: '' },
      { PodUID: t.uid, ContainerName: 'app', ResourceName: SRIOV, DeviceIDs: { 1: ['0000:af:02.1'], 0: ['0000:3b:02.4'] }, AllocResp: '' },
    ], RegisteredDevices: {} }, Checksum: 42 }));
    const add = await t.call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(['net1', 'net2'].map((i) => spyCalls('ADD', i)[0]!.stdin.deviceID)).toEqual(['0000:3b:02.4', '0000:af:02.1']);
    expect((await t.call('DEL')).status).toBe(0);
    nothingLeft();
  });

  it('gives a NAD naming a DRA claim the devices of that claim, from a slow kubelet', async () => {
    const t = setup({ [NETWORKS]: 'dra-nic,dra-nic' });
    addNad(t.ns, 'dra-nic', 'nic-claim', '10.251.0.0/24');
    const k = await kubelet(t.ns, t.podName, [{ name: 'app', claims: [
      { claimName: 'nic-claim', claimNamespace: t.ns, cdiDevices: [['nic.example.com/vf=vf-3'], ['nic.example.com/vf=vf-5']] },
    ] }]);
    k.delayMs = 1000;
    const add = await t.call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(['net1', 'net2'].map((i) => spyCalls('ADD', i)[0]!.stdin.deviceID)).toEqual(['vf-3', 'vf-5']);
    expect((await t.call('DEL')).status).toBe(0);
    nothingLeft();
  });

  describe('failures attach nothing', () => {
    it('a kubelet answering an error fails the ADD before any delegate, naming the socket and the resource', async () => {
      const t = setup({ [NETWORKS]: 'sriov' });
      addNad(t.ns, 'sriov', SRIOV, '10.247.0.0/24');
      (await kubelet(t.ns, t.podName, vfs)).fault = { status: GrpcStatus.Unavailable, statusMessage: 'kubelet is shutting down' };
      const add = await t.call('ADD');
      expect(add.status).not.toBe(0);
      expect(add.json).toMatchObject({ code: 11 });
      expect(add.json!.msg).toContain(`cannot get the devices of resource "${SRIOV}"`);
      expect(add.json!.msg).toContain(`the kubelet at ${f.socket}`);
      expect(add.json!.msg).toContain('kubelet is shutting down');
      expect(f.work.spyCalls()).toEqual([]);
      nothingLeft();
    });

    it('no kubelet socket and no checkpoint fails the ADD naming both', async () => {
      const t = setup({ [NETWORKS]: 'sriov' });
      addNad(t.ns, 'sriov', SRIOV, '10.247.0.0/24');
      const add = await t.call('ADD');
      expect(add.json).toMatchObject({ code: 11 });
      expect(add.json!.msg).toContain(`socket ${f.socket} nor its checkpoint file ${f.checkpoint}`);
      expect(f.work.spyCalls()).toEqual([]);
      nothingLeft();
    });

    it('fewer devices than attachments fails the ADD naming the resource and the counts', async () => {
      const t = setup({ [NETWORKS]: 'sriov,sriov,sriov,sriov' });
      addNad(t.ns, 'sriov', SRIOV, '10.248.0.0/24');
      await kubelet(t.ns, t.podName, vfs);
      const add = await t.call('ADD');
      expect(add.json).toMatchObject({ code: 7 });
      expect(add.json!.msg).toContain(`resource "${SRIOV}": 4 attachments (${t.ns}/sriov, ${t.ns}/sriov, ${t.ns}/sriov, ${t.ns}/sriov) need a device each, but the kubelet at ${f.socket} lists 3`);
      expect(f.work.spyCalls()).toEqual([]);
      nothingLeft();
    });

    it('a delegate failing after the device-info copy rolls back everything, the copies too, and leaves dp/ alone', async () => {
      const t = setup({ [NETWORKS]: 'sriov,broken' });
      addNad(t.ns, 'sriov', SRIOV, '10.249.0.0/24');
      addNad(t.ns, 'broken', SRIOV, '10.250.0.0/24', { spy: { log: f.work.spyLog, fail: ['ADD'] } });
      await kubelet(t.ns, t.podName, vfs);
      mkdirSync(join(f.devinfo, 'dp'), { recursive: true });
      for (const id of ['0000:3b:02.2', '0000:3b:02.0']) writeFileSync(join(f.devinfo, 'dp', `intel.com-sriov_a-${id}-device.json`), '{"type":"pci","version":"1.1.0"}');
      const add = await t.call('ADD');
      expect(add.status).not.toBe(0);
      expect(add.json!.msg).toContain('spy told to fail ADD');
      expect(spyCalls('ADD', 'net2')[0]!.stdin.deviceID).toBe('0000:3b:02.0');
      expect(readdirSync(join(f.devinfo, 'dp'))).toHaveLength(2);
      nothingLeft();
    });
  });
});

// Pods without device networks must not pay for gRPC: the modules are loaded only when a NAD names a resource.
describe('what a pod without devices loads', () => {
  let api: ApiServer;
  let work: Workdir;
  let k: FakeKubelet;
  beforeAll(async () => {
    api = await startApiServer();
    work = new Workdir();
    k = await startFakeKubelet(join(work.dir, 'kubelet.sock'), []);
  });
  afterAll(async () => {
    await k.close();
    await api.close();
    work.remove();
  });

  /**
   * Node's own modules one ADD of multus loaded, recorded at exit by a preloaded hook. The executable is one bundled
   * file, so its own modules cannot be told apart from outside; node:http2 stands for them: only the gRPC client
   * (src/grpc/) loads it.
   */
  async function modulesLoadedByAdd(resource: string | undefined): Promise<string[]> {
    const ns = `load-${uniqueId()}`;
    const podName = `pod-${uniqueId()}`;
    const pod = api.addPod({ namespace: ns, name: podName, annotations: { [NETWORKS]: 'net' } });
    api.addNad({ namespace: ns, name: 'net', config: JSON.stringify({ cniVersion: '1.0.0', type: 'spy', spy: {} }), ...(resource && { annotations: { [RESOURCE]: resource } }) });
    k.pods = [{ namespace: ns, name: podName, containers: [{ name: 'app', devices: [{ resourceName: SRIOV, ids: ['0000:3b:02.1'] }] }] }];
    const out = join(work.dir, `modules-${ns}`);
    const hook = join(work.dir, `hook-${ns}.js`);
    // Only multus's own process writes the list (delegates inherit NODE_OPTIONS too).
    writeFileSync(hook, `process.on('exit', () => { if (process.argv[1] && process.argv[1].endsWith('bin/multus')) require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)); });`);
    const conf = { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig: api.writeKubeconfig(work.dir), cniDir: work.cniDir,
      binDir: work.binDir, kubeletSocket: join(work.dir, 'kubelet.sock'), deviceInfoDir: join(work.dir, 'devinfo'),
      delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'spy', spy: {} }] };
    const add = await runMultusAsync({ command: 'ADD', conf, containerId: `c-${ns}`, netns: work.fakeNetns, env: { NODE_OPTIONS: `--require ${hook}` },
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${podName};K8S_POD_UID=${pod.metadata.uid as string}` });
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    return (JSON.parse(readFileSync(out, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  }

  it('loads no gRPC module for a NAD without resourceName, and does for one with it', async () => {
    const without = await modulesLoadedByAdd(undefined);
    // The call did reach the API server (its pod and NAD), over TLS without node's HTTP modules (src/k8s/http1.ts).
    expect(without).toContain('tls');
    expect(without.filter((m) => /^(https?|http2|_http_\w+)$/.test(m))).toEqual([]);
    expect(await modulesLoadedByAdd(SRIOV)).toContain('http2');
  });
});
