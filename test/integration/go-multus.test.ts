import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MULTUS, ROOT, uniqueId, Workdir, type RunOutcome } from '../helpers/multus';
import { execPluginAsync } from '../helpers/plugin-exec';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { goMultus, upstreamPlugins, cnitool as cnitoolPeer } from '../helpers/peers';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { canRunKubeApiServer, KUBERNETES_VERSION, startKubeApiServer, type KubeCluster } from '../helpers/kube-apiserver';
import { podState, reservations } from '../helpers/pod-state';

const go = goMultus();
const plugins = upstreamPlugins();
const tool = cnitoolPeer();
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';

type Side = 'go' | 'ts';

/** Where Kubernetes-mode pods and NADs live: our test API server, or a real kube-apiserver. */
interface Cluster {
  label: string;
  addPod(ns: string, name: string, annotations: Record<string, string>): Promise<{ uid: string }>;
  addNad(ns: string, name: string, config: string): Promise<void>;
  kubeconfig(dir: string): string;
  networkStatus(ns: string, name: string): Promise<string | undefined>;
}
const BINARY: Record<Side, string> = { go: go.path('multus'), ts: MULTUS };
const NAME: Record<Side, string> = { go: `Go Multus ${go.version}`, ts: 'multus-ts' };

// Go Multus's thin plugin and ours on one node, with the same configuration, cniDir and host-local store, and the
// upstream reference plugins as delegates: a node that switches from one to the other, either way, keeps working.
describe.skipIf(!canUseNamespaces || go.missing !== undefined || plugins.missing !== undefined)(`Go Multus ${go.version} and multus-ts on one node`, () => {
  let node: TestNode;
  let api: ApiServer;
  let kube: KubeCluster | undefined;
  const clusters: Cluster[] = [];
  beforeAll(async () => {
    node = new TestNode();
    api = await startApiServer({ netns: `/var/run/netns/${node.nodeNs}` });
    clusters.push({
      label: 'the test API server',
      addPod: (ns, name, annotations) => Promise.resolve({ uid: api.addPod({ namespace: ns, name, annotations }).metadata.uid as string }),
      addNad: (ns, name, config) => Promise.resolve(void api.addNad({ namespace: ns, name, config })),
      kubeconfig: (dir) => api.writeKubeconfig(dir),
      networkStatus: (ns, name) => Promise.resolve(api.pod(ns, name)?.metadata.annotations?.[STATUS] as string | undefined),
    });
    if (!canRunKubeApiServer) return;
    // The real server: the NAD CRD as shipped, and a service account with every right, since the two plugins ask
    // for different verbs (Go Multus updates pods/status, multus-ts patches it).
    const cluster = kube = await startKubeApiServer();
    await cluster.apply(readFileSync(join(ROOT, 'conf/crd.yaml'), 'utf8'));
    await cluster.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'peers-multus', namespace: 'kube-system' } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'peers-multus' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'peers-multus', namespace: 'kube-system' }] },
    ]);
    const server = await cluster.exposeIn(`/var/run/netns/${node.nodeNs}`);
    const token = await cluster.token('kube-system', 'peers-multus');
    clusters.push({
      label: `kube-apiserver ${KUBERNETES_VERSION}`,
      addPod: async (ns, name, annotations) => {
        await cluster.createNamespace(ns);
        return { uid: (await cluster.createPod(ns, name, annotations)).metadata.uid as string };
      },
      addNad: async (ns, name, config) => {
        await cluster.apply([{ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns }, spec: { config } }]);
      },
      kubeconfig: (dir) => cluster.writeKubeconfig(dir, token, server),
      networkStatus: async (ns, name) => (await cluster.getPod(ns, name)).metadata.annotations?.[STATUS] as string | undefined,
    });
  }, 240_000);
  afterAll(async () => {
    await api.close();
    await kube?.close();
    node.destroy();
  }, 60_000);
  let f: { podNs: string; work: Workdir; id: string };
  beforeEach(() => {
    f = { podNs: node.addPod(), work: new Workdir(), id: uniqueId() };
  });
  afterEach(() => {
    spawnSync('ip', ['netns', 'del', f.podNs]);
    f.work.remove();
  });

  const ipam = (subnet: string, extra: Record<string, unknown> = {}) => ({ type: 'host-local', subnet, dataDir: f.work.ipamDir, ...extra });
  const primary = () => ({ cniVersion: '1.0.0', name: `cluster-${f.id}`, type: 'bridge', bridge: `br${f.id}`, isGateway: true,
    ipam: ipam('10.241.0.0/24', { routes: [{ dst: '0.0.0.0/0' }] }) });
  const macvlan = (name: string, subnet: string) => ({ cniVersion: '1.0.0', name, type: 'macvlan', master: node.uplink, mode: 'bridge', ipam: ipam(subnet) });

  /** Static delegates: the bridge primary and a macvlan secondary. */
  const staticConf = () => ({ cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir: f.work.cniDir, binDir: plugins.dir,
    delegates: [primary(), macvlan(`mv-${f.id}`, '10.242.0.0/24')] });

  /** Kubernetes mode: the bridge primary, and a pod asking for a macvlan NetworkAttachmentDefinition. */
  async function kubernetesConf(cluster: Cluster) {
    const ns = `gm-${f.id}`;
    const podName = `pod-${f.id}`;
    const { uid } = await cluster.addPod(ns, podName, { [NETWORKS]: 'storage' });
    const { name: _n, ...nad } = macvlan('storage', '10.243.0.0/24');
    await cluster.addNad(ns, 'storage', JSON.stringify(nad));
    const conf = { ...staticConf(), delegates: [primary()], kubeconfig: cluster.kubeconfig(f.work.dir), multusNamespace: ns };
    return { conf, ns, podName, args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${podName};K8S_POD_UID=${uid}` };
  }

  const call = (side: Side, command: string, conf: unknown, args: string): Promise<RunOutcome> =>
    execPluginAsync(BINARY[side], { command, conf, containerId: `c${f.id}`, netns: `/var/run/netns/${f.podNs}`, inNetns: node.nodeNs, args, path: plugins.dir });
  const ok = (r: RunOutcome, what: string) => {
    expect(r.status, `${what}: ${r.stdout}`).toBe(0);
    return r;
  };

  /** Nothing of the pod is left: no link in the pod, no reservation, no delegate cache, no result cache. */
  function expectNothingLeft(): void {
    expect(Object.keys(podState(f.podNs).links)).toEqual([]);
    expect(reservations(f.work.ipamDir)).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
    const results = join(f.work.cniDir, 'results');
    expect(existsSync(results) ? readdirSync(results) : []).toEqual([]);
  }

  const migrations: Array<[Side, Side]> = [['go', 'ts'], ['ts', 'go']];
  for (const [from, to] of migrations) {
    it(`static delegates: ${NAME[from]} ADDs, ${NAME[to]} CHECKs and DELs, and nothing is left`, async () => {
      const conf = staticConf();
      const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p';
      ok(await call(from, 'ADD', conf, args), `${from} ADD`);
      const attached = podState(f.podNs);
      expect(Object.keys(attached.links).sort()).toEqual(['eth0', 'net1']);
      expect(attached.addresses).toEqual({ eth0: ['10.241.0.2/24'], net1: ['10.242.0.2/24'] });
      expect(reservations(f.work.ipamDir)).toHaveLength(2);
      ok(await call(to, 'CHECK', conf, args), `${to} CHECK`);
      ok(await call(to, 'DEL', conf, args), `${to} DEL`);
      expectNothingLeft();
    });

    for (const which of [0, 1]) {
      // The second cluster is the real kube-apiserver, where it can run (on CI it must: its helper throws otherwise).
      it.skipIf(which === 1 && !canRunKubeApiServer)(`Kubernetes (${which === 0 ? 'test API server' : `kube-apiserver ${KUBERNETES_VERSION}`}): ${NAME[from]} ADDs a pod with a NAD, ${NAME[to]} CHECKs and DELs it, and nothing is left`, async () => {
        const cluster = clusters[which]!;
        const k = await kubernetesConf(cluster);
        ok(await call(from, 'ADD', k.conf, k.args), `${from} ADD`);
        expect(podState(f.podNs).addresses).toEqual({ eth0: ['10.241.0.2/24'], net1: ['10.243.0.2/24'] });
        const status = JSON.parse((await cluster.networkStatus(k.ns, k.podName)) ?? '[]') as Array<{ name: string; interface: string }>;
        expect(status.map((s) => `${s.name} ${s.interface}`)).toEqual([`cluster-${f.id} eth0`, `${k.ns}/storage net1`]);
        ok(await call(to, 'CHECK', k.conf, k.args), `${to} CHECK`);
        ok(await call(to, 'DEL', k.conf, k.args), `${to} DEL`);
        expectNothingLeft();
      });
    }
  }

  // CNI 1.1 GC with the runtime listing no attachment: the pod's container is gone. multus-ts DELs the attachment
  // whoever made it (its delegate cache is the same file); Go Multus 4.2.2 takes every attachment in its own cache as
  // valid whatever the runtime says, so it never releases a stale pod (README: "Where multus-ts differs").
  for (const from of ['go', 'ts'] as const) {
    it(`GC: multus-ts releases a pod ${NAME[from]} attached that the runtime no longer lists; Go Multus keeps it`, async () => {
      const conf = { ...staticConf(), cniVersion: '1.1.0' };
      const args = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=p';
      ok(await call(from, 'ADD', conf, args), `${from} ADD`);
      const gc = (side: Side) => execPluginAsync(BINARY[side], { command: 'GC', conf: { ...conf, 'cni.dev/valid-attachments': [] },
        inNetns: node.nodeNs, path: plugins.dir });
      ok(await gc('go'), 'go GC');
      expect(Object.keys(podState(f.podNs).links).sort()).toEqual(['eth0', 'net1']);
      expect(reservations(f.work.ipamDir)).toHaveLength(2);
      ok(await gc('ts'), 'ts GC');
      expectNothingLeft();
    });
  }

  // The installer: Go Multus's thin_entrypoint, run as its DaemonSet runs it but against a scratch host root, writes
  // the kubeconfig and 00-multus.conf(list); multus-ts reads both unchanged.
  describe.skipIf(tool.missing !== undefined)('thin_entrypoint', () => {
    /**
     * Runs thin_entrypoint with the service-account files where it reads them (/var/run/secrets/...), inside a
     * mount namespace of its own (a tmpfs on /run that no other process sees), until it says the configuration is
     * written; it would then wait for a signal, as in its pod.
     */
    async function thinEntrypoint(root: string, flags: string[]): Promise<string> {
      const sa = join(root, 'sa');
      mkdirSync(sa);
      writeFileSync(join(sa, 'token'), api.token);
      writeFileSync(join(sa, 'ca.crt'), api.caPem);
      const port = new URL(api.url).port;
      const script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount '
        + `&& cp "$0"/token "$0"/ca.crt /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"`;
      const child = spawn('unshare', ['-m', 'sh', '-c', script, sa, go.path('thin_entrypoint'), ...flags], {
        env: { PATH: process.env.PATH ?? '', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      const deadline = Date.now() + 30_000;
      while (!out.includes('multus config file is created.') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      await exited;
      return out;
    }

    for (const cniVersion of ['1.0.0', '0.3.1']) {
      it(`writes a kubeconfig and a ${cniVersion === '1.0.0' ? '00-multus.conflist' : '00-multus.conf'} that multus-ts uses as they are`, async () => {
        const root = join(f.work.dir, 'host');
        const netd = join(root, 'etc/cni/net.d');
        mkdirSync(netd, { recursive: true });
        mkdirSync(join(root, 'opt/cni/bin'), { recursive: true });
        const { cniVersion: _v, name: _n, ...bridge } = primary();
        writeFileSync(join(netd, '10-cluster.conflist'), JSON.stringify({ cniVersion, name: `cluster-${f.id}`, plugins: [bridge] }));
        const kubeconfig = join(netd, 'multus.d/multus.kubeconfig');
        const out = await thinEntrypoint(root, [
          `--cni-conf-dir=${netd}`, `--multus-autoconfig-dir=${netd}`, `--cni-bin-dir=${join(root, 'opt/cni/bin')}`,
          `--multus-bin-file=${MULTUS}`, '--skip-multus-binary-copy', `--multus-kubeconfig-file-host=${kubeconfig}`,
          `--multus-cni-conf-dir=${join(root, 'etc/cni/multus/net.d')}`, `--additional-bin-dir=${plugins.dir}`,
        ]);
        expect(out).toContain('multus config file is created.');
        const file = cniVersion === '1.0.0' ? '00-multus.conflist' : '00-multus.conf';
        const written = readFileSync(join(netd, file), 'utf8');
        expect(JSON.parse(written)).toMatchObject({ cniVersion, name: 'multus-cni-network' });
        // Go's template puts IPv4 in brackets too; the token and CA are inline.
        expect(readFileSync(kubeconfig, 'utf8')).toContain(`server: https://[127.0.0.1]:${new URL(api.url).port}`);

        // The runtime side is libcni (cnitool), the files are the ones thin_entrypoint wrote, the pod is in the API.
        const ns = `gi-${f.id}`;
        const pod = api.addPod({ namespace: ns, name: `pod-${f.id}`, annotations: { [NETWORKS]: 'storage' } });
        api.addNad({ namespace: ns, name: 'storage', config: JSON.stringify({ ...macvlan('storage', '10.244.0.0/24'), cniVersion }) });
        const pluginDir = join(f.work.dir, 'plugins');
        mkdirSync(pluginDir);
        spawnSync('ln', ['-s', MULTUS, join(pluginDir, 'multus')]);
        const env = { PATH: process.env.PATH ?? '', NETCONFPATH: netd, CNI_PATH: `${pluginDir}:${plugins.dir}`,
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=pod-${f.id};K8S_POD_UID=${pod.metadata.uid}` };
        const cnitool = (verb: string) => new Promise<{ status: number | null; out: string }>((resolve) => {
          const c = spawn('ip', ['netns', 'exec', node.nodeNs, tool.path('cnitool'), verb, 'multus-cni-network', `/var/run/netns/${f.podNs}`], { env });
          let o = '';
          c.stdout.setEncoding('utf8').on('data', (s: string) => (o += s));
          c.stderr.setEncoding('utf8').on('data', (s: string) => (o += s));
          c.on('exit', (status) => resolve({ status, out: o }));
        });
        // thin_entrypoint sets no cniDir, so the node's default one holds the delegate cache while the pod lives.
        const delegateCache = `/var/lib/cni/multus/cnitool-${createHash('sha512').update(`/var/run/netns/${f.podNs}`).digest('hex').slice(0, 20)}`;
        const add = await cnitool('add');
        expect(add.status, add.out).toBe(0);
        expect(existsSync(delegateCache)).toBe(true);
        expect(podState(f.podNs).addresses).toEqual({ eth0: ['10.241.0.2/24'], net1: ['10.244.0.2/24'] });
        expect(api.pod(ns, `pod-${f.id}`)?.metadata.annotations?.[STATUS]).toContain(`"${ns}/storage"`);
        const del = await cnitool('del');
        expect(del.status, del.out).toBe(0);
        expect(Object.keys(podState(f.podNs).links)).toEqual([]);
        expect(existsSync(delegateCache)).toBe(false);
        expect(reservations(f.work.ipamDir)).toEqual([]);
      });
    }
  });
});
