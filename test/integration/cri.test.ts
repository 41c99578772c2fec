import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { canRunContainerd, Containerd, ipIn, LIBCNI_CACHE, libcniCacheOf, sandboxNetns } from '../helpers/containerd';
import type { PodSpec } from '../helpers/cri';
import { canRunKubeApiServer, serviceAccountUser, startKubeApiServer, type KubeCluster } from '../helpers/kube-apiserver';
import { MULTUS, REFERENCE_PLUGINS, ROOT, uniqueId } from '../helpers/multus';

// multus-ts under a real container runtime: containerd 1.6 and runc, driven through CRI as kubelet drives them.
// containerd runs multus in the host network namespace, so the bridge and the macvlan master live there; their
// names and subnets are this file's own.

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';

/**
 * containerd's CNI bin dir, for the two ways of deploying our built-ins. Linked: our executable is multus, macvlan
 * and host-local on disk. With `builtinPlugins`: the node's plugins stay the reference ones and multus runs its
 * macvlan and host-local delegates in-process. Either way the reference macvlan and host-local are there under other
 * names too, so that one pod can have both kinds.
 */
const REFERENCE = {
  bridge: join(REFERENCE_PLUGINS, 'bridge'),
  'ref-macvlan': join(REFERENCE_PLUGINS, 'macvlan'),
  'ref-host-local': join(REFERENCE_PLUGINS, 'host-local'),
};
const LINKED = { ...REFERENCE, multus: MULTUS, macvlan: MULTUS, 'host-local': MULTUS };
const NODE_PLUGINS = { ...REFERENCE, multus: MULTUS, macvlan: join(REFERENCE_PLUGINS, 'macvlan'), 'host-local': join(REFERENCE_PLUGINS, 'host-local') };

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

interface Addr { family: string; local: string; prefixlen: number }
interface Link { ifname: string; addr_info: Addr[]; linkinfo?: { info_kind?: string } }
interface Route { dst: string; gateway?: string; dev: string }

/**
 * The host side the pods attach to: a veth pair whose one end is the macvlan master, and the bridges the primary
 * networks make (one per containerd, each with its own subnet), all removed by destroy().
 */
class HostSide {
  readonly id = uniqueId();
  readonly bridges: string[] = [];
  readonly uplink = `mtcu${this.id}`;
  readonly peer = `mtcp${this.id}`;

  constructor() {
    ip('link', 'add', this.uplink, 'type', 'veth', 'peer', 'name', this.peer);
    ip('link', 'set', this.uplink, 'up');
    ip('link', 'set', this.peer, 'up');
  }

  newBridge(): string {
    this.bridges.push(`mtcb${this.bridges.length}${this.id}`);
    return this.bridges.at(-1)!;
  }

  /** veth ends the bridge plugin left on our bridges (one per pod still attached). */
  bridgePorts(): string[] {
    return this.bridges.filter((b) => spawnSync('ip', ['link', 'show', b]).status === 0)
      .flatMap((b) => (JSON.parse(ip('-j', 'link', 'show', 'master', b)) as Array<{ ifname: string }>).map((l) => l.ifname));
  }

  destroy(): void {
    for (const link of [this.uplink, ...this.bridges]) spawnSync('ip', ['link', 'del', link]);
  }
}

/** What is inside a sandbox's network namespace: links with their kind and IPv4 addresses, and IPv4 routes. */
function podNetwork(netns: string): { links: Record<string, { kind: string; addrs: string[] }>; routes: string[] } {
  const links = Object.fromEntries(
    ipIn<Link[]>(netns, '-d', 'addr', 'show').map((l) => [
      l.ifname,
      { kind: l.linkinfo?.info_kind ?? '', addrs: l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`) },
    ]),
  );
  const routes = ipIn<Route[]>(netns, '-4', 'route', 'show').map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`);
  return { links, routes: routes.sort() };
}

/** Files in a directory tree, relative; [] when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** host-local's reservations (files named by an address) under a data dir. */
function reservations(dir: string): string[] {
  return filesUnder(dir).filter((f) => /(^|\/)[\d.]+$|(^|\/)[0-9a-f:]+$/.test(f) && !f.includes('last_reserved_ip'));
}

describe.skipIf(!canRunContainerd)('multus under containerd (CRI)', () => {
  let cd: Containerd;
  let host: HostSide;
  let api: ApiServer;
  let netName: string;
  const dirs = () => ({ cniDir: join(cd.dir, 'multus'), ipam: join(cd.dir, 'ipam') });

  /**
   * Runs a pod as kubelet does and returns its sandbox ID, its network namespace and what containerd reports.
   */
  async function runPod(pod: Partial<PodSpec> = {}) {
    const spec: PodSpec = { name: `pod-${uniqueId()}`, namespace: 'default', uid: randomUUID(), cgroupParent: cd.cgroupParent, ...pod };
    const id = await cd.cri.runPodSandbox(spec);
    const status = await cd.cri.podSandboxStatus(id);
    return { id, spec, status, netns: sandboxNetns(status.info) };
  }

  async function stopAndRemove(id: string): Promise<void> {
    await cd.cri.stopPodSandbox(id);
    await cd.cri.removePodSandbox(id);
  }

  /** Everything a pod could leave behind, on the host and in every cache; all empty when it is gone. */
  function leftovers(ids: string[]) {
    const { cniDir, ipam } = dirs();
    return {
      bridgePorts: host.bridgePorts(),
      reservations: reservations(ipam),
      // Not the "already deleted" marks in .deleted/: they are what makes containerd's second DEL free, and GC and age remove them.
      multusCaches: filesUnder(cniDir).filter((f) => !f.startsWith('.deleted/')),
      libcniCache: ids.flatMap(libcniCacheOf),
      netnsMounts: filesUnder(join(cd.dir, 'state/io.containerd.grpc.v1.cri/netns')),
    };
  }
  const nothing = { bridgePorts: [], reservations: [], multusCaches: [], libcniCache: [], netnsMounts: [] };

  beforeAll(async () => {
    api = await startApiServer();
    host = new HostSide();
    netName = `mtcri-${host.id}`;
  });
  afterAll(async () => {
    host?.destroy();
    await api?.close();
    // Our network's entries in libcni's cache, in case a failing test left some (the tests check they are gone).
    if (existsSync(LIBCNI_CACHE)) expect(readdirSync(LIBCNI_CACHE).filter((f) => f.startsWith(`${netName}-`))).toEqual([]);
  });

  describe('static delegates, built-ins linked', () => {
    beforeAll(async () => {
      const bridge = host.newBridge();
      cd = await Containerd.start({
        plugins: LINKED,
        cniConfig: (c: Containerd) => {
          const ipam = join(c.dir, 'ipam');
          return {
            cniVersion: '1.0.0', name: netName, type: 'multus', cniDir: join(c.dir, 'multus'), binDir: c.cniBinDir,
            delegates: [
              { cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge, isGateway: true,
                ipam: { type: 'host-local', subnet: '10.247.0.0/24', dataDir: ipam, routes: [{ dst: '0.0.0.0/0' }] } },
              { cniVersion: '1.0.0', name: 'ours', type: 'macvlan', master: host.uplink, mode: 'bridge',
                ipam: { type: 'host-local', subnet: '10.247.1.0/24', dataDir: ipam } },
              { cniVersion: '1.0.0', name: 'reference', type: 'ref-macvlan', master: host.uplink, mode: 'bridge',
                ipam: { type: 'ref-host-local', subnet: '10.247.2.0/24', dataDir: ipam } },
            ],
          };
        },
      });
    }, 120_000);
    afterAll(async () => {
      await cd?.stop();
    }, 300_000);

    it('attaches eth0 (reference bridge), net1 (our macvlan) and net2 (reference macvlan), and removes all of it', async () => {
      const pod = await runPod();
      expect(pod.status.state).toBe('ready');
      // The first pod of this containerd: every range hands out its first address.
      expect(pod.status.ips).toEqual(['10.247.0.2']);
      expect(podNetwork(pod.netns).links).toEqual({
        lo: { kind: '', addrs: ['127.0.0.1/8'] },
        eth0: { kind: 'veth', addrs: ['10.247.0.2/24'] },
        net1: { kind: 'macvlan', addrs: ['10.247.1.2/24'] },
        net2: { kind: 'macvlan', addrs: ['10.247.2.2/24'] },
      });
      const net = podNetwork(pod.netns);
      expect(net.routes).toEqual([
        'default via 10.247.0.1 dev eth0',
        '10.247.0.0/24 dev eth0',
        '10.247.1.0/24 dev net1',
        '10.247.2.0/24 dev net2',
      ].sort());
      expect(leftovers([pod.id])).toMatchObject({ bridgePorts: [expect.any(String)], libcniCache: [expect.any(String), expect.any(String)] });

      // Stop: containerd's first DEL, with the netns and libcni's cached result; the netns goes with it.
      await cd.cri.stopPodSandbox(pod.id);
      expect(existsSync(pod.netns)).toBe(false);
      expect(leftovers([pod.id])).toEqual(nothing);
      // Remove: the second DEL, with no netns and no cached result. It must succeed and change nothing.
      await cd.cri.removePodSandbox(pod.id);
      expect(await cd.cri.listPodSandbox({ 'io.kubernetes.pod.uid': pod.spec.uid })).toEqual([]);
      expect(leftovers([pod.id])).toEqual(nothing);
      expect(existsSync(join(dirs().cniDir, '.deleted', pod.id))).toBe(true);
    });

    it('runs 20 pods at once and removes them at once', async () => {
      const pods = await Promise.all(Array.from({ length: 20 }, () => runPod()));
      const addresses = pods.map((p) => podNetwork(p.netns)).flatMap((n) => ['eth0', 'net1', 'net2'].map((i) => n.links[i]?.addrs[0]));
      expect(addresses.filter((a) => a === undefined)).toEqual([]);
      expect(new Set(addresses).size).toBe(60);
      expect(host.bridgePorts()).toHaveLength(20);
      await Promise.all(pods.map((p) => stopAndRemove(p.id)));
      expect(leftovers(pods.map((p) => p.id))).toEqual(nothing);
    }, 600_000);
  });

  describe('Kubernetes: networks from the pod annotation and NetworkAttachmentDefinitions, builtinPlugins', () => {
    const ns = `cri-${uniqueId()}`;
    beforeAll(async () => {
      const bridge = host.newBridge();
      cd = await Containerd.start({
        plugins: NODE_PLUGINS,
        cniConfig: (c: Containerd) => ({
          cniVersion: '1.0.0', name: netName, type: 'multus', cniDir: join(c.dir, 'multus'), binDir: c.cniBinDir,
          builtinPlugins: ['macvlan', 'host-local'],
          kubeconfig: api.writeKubeconfig(c.dir),
          delegates: [
            { cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge, isGateway: true,
              ipam: { type: 'host-local', subnet: '10.247.4.0/24', dataDir: join(c.dir, 'ipam'), routes: [{ dst: '0.0.0.0/0' }] } },
          ],
        }),
      });
      const nad = (name: string, type: string, ipamType: string, subnet: string, master = host.uplink) => api.addNad({
        namespace: ns, name,
        config: JSON.stringify({ cniVersion: '1.0.0', type, master, mode: 'bridge', ipam: { type: ipamType, subnet, dataDir: join(cd.dir, 'ipam') } }),
      });
      nad('ours', 'macvlan', 'host-local', '10.247.5.0/24');
      nad('reference', 'ref-macvlan', 'ref-host-local', '10.247.6.0/24');
      nad('broken', 'macvlan', 'host-local', '10.247.7.0/24', 'nosuchdev0');
    }, 120_000);
    afterAll(async () => {
      await cd?.stop();
    }, 300_000);

    it('attaches the annotation\'s networks, writes network-status, and removes everything', async () => {
      const name = `pod-${uniqueId()}`;
      const uid = randomUUID();
      api.addPod({ namespace: ns, name, uid, annotations: { [NETWORKS]: 'ours,reference@data0' } });
      const pod = await runPod({ name, namespace: ns, uid });
      const net = podNetwork(pod.netns);
      expect(net.links).toEqual({
        lo: { kind: '', addrs: ['127.0.0.1/8'] },
        eth0: { kind: 'veth', addrs: ['10.247.4.2/24'] },
        net1: { kind: 'macvlan', addrs: ['10.247.5.2/24'] },
        data0: { kind: 'macvlan', addrs: ['10.247.6.2/24'] },
      });
      expect(net.routes).toEqual(['default via 10.247.4.1 dev eth0', '10.247.4.0/24 dev eth0', '10.247.5.0/24 dev net1', '10.247.6.0/24 dev data0'].sort());
      const status = JSON.parse(api.pod(ns, name)!.metadata.annotations[STATUS] as string) as Array<Record<string, unknown>>;
      expect(status).toEqual([
        expect.objectContaining({ name: 'cluster', interface: 'eth0', ips: ['10.247.4.2'], default: true }),
        expect.objectContaining({ name: `${ns}/ours`, interface: 'net1', ips: ['10.247.5.2'] }),
        expect.objectContaining({ name: `${ns}/reference`, interface: 'data0', ips: ['10.247.6.2'] }),
      ]);
      // Both of containerd's DELs (Stop with the cache, Remove after it) are answered without asking the API.
      const requests = api.count({ path: new RegExp(`/namespaces/${ns}/`) });
      await stopAndRemove(pod.id);
      expect(api.count({ path: new RegExp(`/namespaces/${ns}/`) })).toBe(requests);
      expect(leftovers([pod.id])).toEqual(nothing);
    });

    it('fails RunPodSandbox when a secondary fails, and leaves nothing', async () => {
      const name = `pod-${uniqueId()}`;
      const uid = randomUUID();
      api.addPod({ namespace: ns, name, uid, annotations: { [NETWORKS]: 'ours,broken' } });
      const failed = await runPod({ name, namespace: ns, uid }).then(() => undefined, (e: Error) => e);
      expect(failed?.message).toContain(`${ns}/broken]: error adding container to network "broken" on interface net2`);
      expect(await cd.cri.listPodSandbox({ 'io.kubernetes.pod.uid': uid })).toEqual([]);
      expect(leftovers([])).toEqual(nothing);
      expect(readdirSync(LIBCNI_CACHE).filter((f) => f.startsWith(`${netName}-`))).toEqual([]);
      expect(api.pod(ns, name)!.metadata.annotations[STATUS]).toBeUndefined();
    });
  });

  // The same pods against a real kube-apiserver with the shipped CRD and RBAC, multus authenticating as its
  // ServiceAccount; the server listens on the host's loopback, where containerd runs multus.
  describe.skipIf(!canRunKubeApiServer)('Kubernetes: a real kube-apiserver', () => {
    const ns = `cri-${uniqueId()}`;
    let kube: KubeCluster;
    beforeAll(async () => {
      kube = await startKubeApiServer();
      const manifest = (file: string) => readFileSync(join(ROOT, 'conf', file), 'utf8');
      await kube.apply(manifest('crd.yaml'));
      await kube.apply(manifest('rbac.yaml'));
      const token = await kube.token('kube-system', 'multus');
      await kube.createNamespace(ns);
      const bridge = host.newBridge();
      cd = await Containerd.start({
        plugins: NODE_PLUGINS,
        cniConfig: (c: Containerd) => ({
          cniVersion: '1.0.0', name: netName, type: 'multus', cniDir: join(c.dir, 'multus'), binDir: c.cniBinDir,
          builtinPlugins: ['macvlan', 'host-local'], kubeconfig: kube.writeKubeconfig(c.dir, token),
          delegates: [
            { cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge, isGateway: true,
              ipam: { type: 'host-local', subnet: '10.247.8.0/24', dataDir: join(c.dir, 'ipam'), routes: [{ dst: '0.0.0.0/0' }] } },
          ],
        }),
      });
      const nad = (name: string, type: string, ipamType: string, subnet: string) => ({
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', type, master: host.uplink, mode: 'bridge', ipam: { type: ipamType, subnet, dataDir: join(cd.dir, 'ipam') } }) },
      });
      await kube.apply([nad('ours', 'macvlan', 'host-local', '10.247.9.0/24'), nad('reference', 'ref-macvlan', 'ref-host-local', '10.247.10.0/24')]);
    }, 300_000);
    afterAll(async () => {
      await cd?.stop();
      await kube?.close();
    }, 300_000);

    it('attaches the annotation\'s networks, writes network-status and events, and removes everything without asking the API', async () => {
      const name = `pod-${uniqueId()}`;
      const created = await kube.createPod(ns, name, { [NETWORKS]: 'ours,reference@data0' });
      const uid = created.metadata.uid as string;
      const pod = await runPod({ name, namespace: ns, uid });
      expect(podNetwork(pod.netns).links).toEqual({
        lo: { kind: '', addrs: ['127.0.0.1/8'] },
        eth0: { kind: 'veth', addrs: ['10.247.8.2/24'] },
        net1: { kind: 'macvlan', addrs: ['10.247.9.2/24'] },
        data0: { kind: 'macvlan', addrs: ['10.247.10.2/24'] },
      });
      const status = JSON.parse((await kube.getPod(ns, name)).metadata.annotations[STATUS] as string) as Array<Record<string, unknown>>;
      expect(status).toEqual([
        expect.objectContaining({ name: 'cluster', interface: 'eth0', ips: ['10.247.8.2'], default: true }),
        expect.objectContaining({ name: `${ns}/ours`, interface: 'net1', ips: ['10.247.9.2'] }),
        expect.objectContaining({ name: `${ns}/reference`, interface: 'data0', ips: ['10.247.10.2'] }),
      ]);
      const events = (await kube.podEvents(ns, name, uid)).map((e) => `${e.reason} ${e.message}`);
      expect(events).toEqual(expect.arrayContaining([
        `AddedInterface Add net1 [10.247.9.2/24] from ${ns}/ours`,
        `AddedInterface Add data0 [10.247.10.2/24] from ${ns}/reference`,
      ]));
      const multusRequests = () => kube.audit(serviceAccountUser('kube-system', 'multus')).filter((e) => e.requestURI.includes(`/namespaces/${ns}/`)).length;
      const requests = multusRequests();
      expect(requests).toBeGreaterThan(0);
      await stopAndRemove(pod.id);
      expect(multusRequests()).toBe(requests);
      expect(leftovers([pod.id])).toEqual(nothing);
    });
  });
});
