import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeApi, KubeClient } from '../../src/k8s/api';
import { loadKubeconfig } from '../../src/k8s/kubeconfig';
import { runInstall } from '../../src/install/install-run';
import { MULTUS_CONFLIST } from '../../src/install/multus-conf';
import { rejected } from '../helpers/caught';
import { installFlags, InstallSandbox } from '../helpers/install';
import { canRunKubeApiServer, serviceAccountUser, startKubeApiServer, type KubeCluster } from '../helpers/kube-apiserver';
import { REFERENCE_PLUGINS, ROOT, runMultusAsync, uniqueId, Workdir, type RunOutcome } from '../helpers/multus';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { startFakeKubelet } from '../helpers/fake-kubelet';

type Obj = Record<string, any>;

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';
const NADS = 'network-attachment-definitions';
const MULTUS_USER = serviceAccountUser('kube-system', 'multus');

const manifest = (file: string): string => readFileSync(join(ROOT, 'conf', file), 'utf8');
const shipped = (file: string, kind: string): Obj =>
  parseAllDocuments(manifest(file)).map((d) => d.toJSON() as Obj).find((d) => d?.kind === kind)!;

// multus-ts against a real kube-apiserver and etcd, with the CRD and RBAC of conf/ applied as they are and the
// plugin authenticating as the shipped ServiceAccount. The plugin runs in a node namespace, as kubelet's runtime
// would start it, and reaches the server through that namespace's loopback.
// Its own timeout: waiting out the server's 10 s authentication cache takes longer than vitest's default.
describe.skipIf(!canRunKubeApiServer)('a real kube-apiserver', { timeout: 60_000 }, () => {
  let kube: KubeCluster;
  // One server for the file: starting one costs several seconds of CPU.
  beforeAll(async () => {
    kube = await startKubeApiServer();
    await kube.apply(manifest('crd.yaml'));
    await kube.apply(manifest('rbac.yaml'));
  }, 240_000);
  afterAll(async () => {
    await kube?.close();
  }, 60_000);

  describe.skipIf(!canUseNamespaces)('multus with the shipped CRD and RBAC, in a node namespace', () => {
    let node: TestNode;
    /** The API server's URL inside the node namespace. */
    let serverInNode: string;
    let multusToken: string;
    beforeAll(async () => {
      node = new TestNode();
      serverInNode = await kube.exposeIn(`/var/run/netns/${node.nodeNs}`);
      multusToken = await kube.token('kube-system', 'multus');
    });
    afterAll(() => {
      node?.destroy();
    });

    let f: { podNs: string; work: Workdir; bridge: string };
    beforeEach(() => {
      f = { podNs: node.addPod(), work: new Workdir(), bridge: `b${uniqueId()}` };
    });
    afterEach(() => {
      spawnSync('ip', ['netns', 'del', f.podNs]);
      f.work.remove();
    });
    const podLinks = () => node.links(f.podNs).filter((l) => l.ifname !== 'lo');
    const podIps = (ifname: string) => podLinks().find((l) => l.ifname === ifname)?.addr_info.filter((a) => a.family === 'inet').map((a) => a.local);
    const nothingLeft = () => {
      expect(podLinks()).toEqual([]);
      expect(existsSync(f.work.ipamDir) ? readdirSync(f.work.ipamDir, { recursive: true }).filter((x) => /\d+\.\d+\.\d+\.\d+$/.test(String(x))) : []).toEqual([]);
      expect(f.work.delegateCaches()).toEqual([]);
    };

    interface Setup {
      ns: string;
      podName: string;
      uid: string;
      call: (command: string, more?: Record<string, unknown>) => Promise<RunOutcome>;
      /** What the plugin's identity asked of the server about this test's namespace, from the audit log. */
      requests: (username?: string) => string[];
      status: () => Promise<Array<Record<string, unknown>>>;
      /** The pod's events as `kubectl describe pod` lists them. */
      events: () => Promise<Obj[]>;
    }

    /** A Kubernetes namespace and a pod bound to this node for each test; the plugin uses `token` (multus's own). */
    async function setup(annotations: Record<string, string> = {}, extra: Record<string, unknown> = {}, token = multusToken): Promise<Setup> {
      const ns = `kt-${uniqueId()}`;
      const podName = `pod-${uniqueId()}`;
      await kube.createNamespace(ns);
      const pod = await kube.createPod(ns, podName, annotations);
      const uid = pod.metadata.uid as string;
      const kubeconfig = kube.writeKubeconfig(f.work.dir, token, serverInNode);
      const conf = {
        cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig, cniDir: f.work.cniDir,
        binDir: REFERENCE_PLUGINS, multusNamespace: ns,
        delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge: f.bridge, isGateway: true,
          ipam: { type: 'host-local', subnet: '10.221.0.0/24', dataDir: f.work.ipamDir, routes: [{ dst: '0.0.0.0/0' }] } }],
        ...extra,
      };
      const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${podName};K8S_POD_UID=${uid}`;
      return {
        ns, podName, uid,
        call: (command, more = {}) =>
          runMultusAsync({ command, conf: { ...conf, ...more }, containerId: `c${f.bridge}`, netns: `/var/run/netns/${f.podNs}`, inNetns: node.nodeNs, args }),
        requests: (username = MULTUS_USER) => kube.audit(username)
          .filter((e) => e.objectRef?.namespace === ns || e.requestURI.includes(`/namespaces/${ns}/`))
          .map((e) => `${e.verb} ${e.requestURI.split('?')[0]} ${e.responseStatus?.code}`),
        status: async () => JSON.parse((await kube.getPod(ns, podName)).metadata.annotations?.[STATUS] ?? 'null') as Array<Record<string, unknown>>,
        events: () => kube.podEvents(ns, podName, uid),
      };
    }

    async function addMacvlanNad(ns: string, name: string, subnet: string, master = node.uplink): Promise<void> {
      await kube.apply([{
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name, namespace: ns },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master, mode: 'bridge', capabilities: { mac: true, ips: true },
          ipam: { type: 'host-local', subnet, dataDir: f.work.ipamDir } }) },
      }]);
    }

    it('attaches a NAD named in text form, with 3 requests on ADD (audit log) and none on DEL', async () => {
      const t = await setup({ [NETWORKS]: 'storage' });
      await addMacvlanNad(t.ns, 'storage', '10.222.0.0/24');
      const add = await t.call('ADD');
      expect(add.stderr).toBe('');
      expect(add.status).toBe(0);
      expect(podIps('net1')).toEqual(['10.222.0.2']);
      // GET pod, GET the NAD, PATCH pods/status; and one event per attachment, sent alongside.
      expect(t.requests().filter((r) => !r.startsWith('create '))).toEqual([
        `get /api/v1/namespaces/${t.ns}/pods/${t.podName} 200`,
        `get /apis/k8s.cni.cncf.io/v1/namespaces/${t.ns}/${NADS}/storage 200`,
        `patch /api/v1/namespaces/${t.ns}/pods/${t.podName}/status 200`,
      ]);
      expect(t.requests().filter((r) => r.startsWith('create '))).toEqual(Array(2).fill(`create /api/v1/namespaces/${t.ns}/events 201`));
      // The events as `kubectl describe pod` lists them.
      const events = await t.events();
      expect(events.map((e) => [e.type, e.reason, e.message])).toEqual([
        ['Normal', 'AddedInterface', 'Add eth0 [10.221.0.2/24] from cluster'],
        ['Normal', 'AddedInterface', `Add net1 [10.222.0.2/24] from ${t.ns}/storage`],
      ]);
      expect(events[1]).toMatchObject({ source: { component: 'multus' }, count: 1 });
      // network-status as any client reads it back from the server.
      const status = await t.status();
      expect(status).toEqual([
        expect.objectContaining({ name: 'cluster', interface: 'eth0', ips: ['10.221.0.2'], default: true, gateway: ['10.221.0.1'] }),
        expect.objectContaining({ name: `${t.ns}/storage`, interface: 'net1', ips: ['10.222.0.2'] }),
      ]);
      expect(JSON.stringify(status)).not.toContain('<nil>');
      // The status write left the pod's other annotations alone.
      expect((await kube.getPod(t.ns, t.podName)).metadata.annotations[NETWORKS]).toBe('storage');

      const before = t.requests().length;
      const del = await t.call('DEL');
      expect(del.status).toBe(0);
      expect(t.requests()).toHaveLength(before);
      nothingLeft();
    });

    it('DELs from its cache when the pod was deleted from the API before DEL', async () => {
      const t = await setup({ [NETWORKS]: 'storage' });
      await addMacvlanNad(t.ns, 'storage', '10.223.0.0/24');
      expect((await t.call('ADD')).status).toBe(0);
      await kube.deletePod(t.ns, t.podName);
      const del = await t.call('DEL');
      expect(del.stderr).toBe('');
      expect(del.status).toBe(0);
      nothingLeft();
    });

    it('DELs a network whose NAD was deleted after ADD', async () => {
      const t = await setup({ [NETWORKS]: 'storage' });
      await addMacvlanNad(t.ns, 'storage', '10.224.0.0/24');
      expect((await t.call('ADD')).status).toBe(0);
      await kube.must('DELETE', `/apis/k8s.cni.cncf.io/v1/namespaces/${t.ns}/${NADS}/storage`);
      const del = await t.call('DEL');
      expect(del.status).toBe(0);
      nothingLeft();
    });

    it('attaches the same NAD twice, fetching it once', async () => {
      const t = await setup({ [NETWORKS]: 'storage,storage' });
      await addMacvlanNad(t.ns, 'storage', '10.225.0.0/24');
      expect((await t.call('ADD')).status).toBe(0);
      expect(podIps('net1')).toEqual(['10.225.0.2']);
      expect(podIps('net2')).toEqual(['10.225.0.3']);
      expect(t.requests().filter((r) => r.includes(NADS))).toHaveLength(1);
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('honours the JSON form: interface name, MAC and IP, reported in network-status', async () => {
      const t = await setup({ [NETWORKS]: JSON.stringify([{ name: 'storage', interface: 'data0', mac: '02:12:34:56:78:9b', ips: ['10.226.0.77/24'] }]) });
      await addMacvlanNad(t.ns, 'storage', '10.226.0.0/24');
      const add = await t.call('ADD');
      expect(add.stderr).toBe('');
      expect(add.status).toBe(0);
      expect(podLinks().find((l) => l.ifname === 'data0')?.address).toBe('02:12:34:56:78:9b');
      expect(podIps('data0')).toEqual(['10.226.0.77']);
      expect((await t.status())[1]).toMatchObject({ name: `${t.ns}/storage`, interface: 'data0', ips: ['10.226.0.77'], mac: '02:12:34:56:78:9b' });
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('uses a NAD of another namespace, and refuses it under namespaceIsolation before attaching anything', async () => {
      const other = `ko-${uniqueId()}`;
      await kube.createNamespace(other);
      await addMacvlanNad(other, 'shared', '10.227.0.0/24');
      const t = await setup({ [NETWORKS]: `${other}/shared` });
      expect((await t.call('ADD')).status).toBe(0);
      expect(podIps('net1')).toEqual(['10.227.0.2']);
      expect((await t.status())[1]).toMatchObject({ name: `${other}/shared`, interface: 'net1' });
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();

      const isolated = await setup({ [NETWORKS]: `${other}/shared` }, { namespaceIsolation: true });
      const add = await isolated.call('ADD');
      expect(add.status).toBe(1);
      expect(add.json?.msg).toContain(`pod is in namespace ${isolated.ns} but refers to target namespace ${other}`);
      expect(kube.audit(MULTUS_USER).filter((e) => e.objectRef?.namespace === other && e.requestURI.includes(isolated.podName))).toEqual([]);
      nothingLeft();
    });

    it('moves the default route to the attachment that asks for it; network-status and CHECK agree', async () => {
      const t = await setup({ [NETWORKS]: JSON.stringify([{ name: 'storage', 'default-route': ['10.228.0.1'] }]) });
      await addMacvlanNad(t.ns, 'storage', '10.228.0.0/24');
      const add = await t.call('ADD');
      expect(add.stderr).toBe('');
      expect(add.status).toBe(0);
      expect(node.routes(f.podNs).filter((r) => r.dst === 'default')).toEqual([expect.objectContaining({ gateway: '10.228.0.1', dev: 'net1' })]);
      const status = await t.status();
      // As in Multus, `default` marks the cluster network; the gateway says where the default route went.
      expect(status[0]).toMatchObject({ interface: 'eth0', default: true });
      expect(status[1]).toMatchObject({ interface: 'net1', gateway: ['10.228.0.1'] });
      expect(status[1]).not.toHaveProperty('default');
      const check = await t.call('CHECK');
      expect(check.stdout).toBe('');
      expect(check.status).toBe(0);
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('takes clusterNetwork and defaultNetworks from NADs in multusNamespace', async () => {
      const t = await setup({}, { delegates: undefined, clusterNetwork: 'cluster-nad', defaultNetworks: ['extra-nad'] });
      await kube.apply([{
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'cluster-nad', namespace: t.ns },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'bridge', bridge: f.bridge, ipam: { type: 'host-local', subnet: '10.229.0.0/24', dataDir: f.work.ipamDir } }) },
      }]);
      await addMacvlanNad(t.ns, 'extra-nad', '10.230.0.0/24');
      const add = await t.call('ADD');
      expect(add.stderr).toBe('');
      expect(add.status).toBe(0);
      expect(podIps('eth0')).toEqual(['10.229.0.2']);
      expect(podIps('net1')).toEqual(['10.230.0.2']);
      expect((await t.status()).map((e) => e.name)).toEqual([`${t.ns}/cluster-nad`, `${t.ns}/extra-nad`]);
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('gives a NAD annotated with a resourceName the kubelet\'s devices; device-info reaches network-status', async () => {
      const t = await setup({ [NETWORKS]: 'vf,vf' }, { binDir: f.work.binDir, kubeletSocket: join(f.work.dir, 'kubelet.sock'),
        kubeletCheckpointFile: join(f.work.dir, 'no-checkpoint'), deviceInfoDir: join(f.work.dir, 'devinfo') });
      await kube.apply([{
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'vf', namespace: t.ns, annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/sriov_a' } },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', plugins: [
          { type: 'macvlan', master: node.uplink, mode: 'bridge', ipam: { type: 'host-local', subnet: '10.253.0.0/24', dataDir: f.work.ipamDir } },
          { type: 'spy', spy: { log: f.work.spyLog }, capabilities: { deviceID: true, CNIDeviceInfoFile: true } },
        ] }) },
      }]);
      const kubelet = await startFakeKubelet(join(f.work.dir, 'kubelet.sock'), [{ namespace: t.ns, name: t.podName, containers: [
        { name: 'app', devices: [{ resourceName: 'intel.com/sriov_a', ids: ['0000:3b:02.4', '0000:3b:02.1'], numa: [0] }] },
      ] }]);
      try {
        const info = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:3b:02.1' } };
        mkdirSync(join(f.work.dir, 'devinfo', 'dp'), { recursive: true });
        writeFileSync(join(f.work.dir, 'devinfo', 'dp', 'intel.com-sriov_a-0000:3b:02.1-device.json'), JSON.stringify(info));
        const add = await t.call('ADD');
        expect(add.stderr).toBe('');
        expect(add.status).toBe(0);
        const adds = f.work.spyCalls().filter((c) => c.command === 'ADD');
        expect(adds.map((c) => [c.env.CNI_IFNAME, c.stdin.deviceID, (c.stdin.runtimeConfig as Obj).deviceID])).toEqual([
          ['net1', '0000:3b:02.4', '0000:3b:02.4'], ['net2', '0000:3b:02.1', '0000:3b:02.1']]);
        // network-status as any client reads it back from the server: the second VF's device-info.
        const status = await t.status();
        expect(status.find((e) => e.interface === 'net2')).toMatchObject({ name: `${t.ns}/vf`, 'device-info': info });
        expect(status.find((e) => e.interface === 'net1')).not.toHaveProperty('device-info');
      } finally {
        await kubelet.close();
      }
      expect((await t.call('DEL')).status).toBe(0);
      expect(readdirSync(join(f.work.dir, 'devinfo', 'cni'))).toEqual([]);
      nothingLeft();
    });

    it('replaces the primary with the default-network annotation', async () => {
      const t = await setup({ 'v1.multus-cni.io/default-network': 'alt' });
      await kube.apply([{
        apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'alt', namespace: t.ns },
        spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'bridge', bridge: `a${f.bridge}`, ipam: { type: 'host-local', subnet: '10.231.0.0/24', dataDir: f.work.ipamDir } }) },
      }]);
      const add = await t.call('ADD');
      expect(add.status).toBe(0);
      expect(podIps('eth0')).toEqual(['10.231.0.2']);
      expect(await t.status()).toEqual([expect.objectContaining({ name: `${t.ns}/alt`, interface: 'eth0', default: true })]);
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('attaches only the configured networks when the pod is not in the API, and writes nothing', async () => {
      const t = await setup({ [NETWORKS]: 'storage' });
      await kube.deletePod(t.ns, t.podName);
      const add = await t.call('ADD');
      expect(add.status).toBe(0);
      expect(podLinks().map((l) => l.ifname)).toEqual(['eth0']);
      expect(t.requests()).toEqual([`get /api/v1/namespaces/${t.ns}/pods/${t.podName} 404`]);
      expect((await t.call('DEL')).status).toBe(0);
      nothingLeft();
    });

    it('names a missing NAD (the real NotFound) and attaches nothing', async () => {
      const t = await setup({ [NETWORKS]: 'nope' });
      const add = await t.call('ADD');
      expect(add.status).toBe(1);
      expect(add.json?.msg).toContain(`network "${t.ns}/nope"`);
      expect(add.json?.msg).toMatch(/not found/);
      expect((await t.events()).map((e) => [e.type, e.reason, e.message])).toEqual([['Warning', 'NoNetworkFound',
        `cannot find a network-attachment-definition (nope) in namespace (${t.ns}): network-attachment-definitions.k8s.cni.cncf.io "nope" not found`]]);
      nothingLeft();
    });

    it('fails with 401 once its token is revoked, attaching nothing', async () => {
      const secret = `multus-revoke-${uniqueId()}`;
      await kube.must('POST', '/api/v1/namespaces/kube-system/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: secret } });
      const token = await kube.token('kube-system', 'multus', { boundSecret: secret });
      const t = await setup({ [NETWORKS]: 'storage' }, {}, token);
      await addMacvlanNad(t.ns, 'storage', '10.232.0.0/24');
      expect((await t.call('ADD')).status).toBe(0);
      expect((await t.call('DEL')).status).toBe(0);
      // The token is bound to the Secret: deleting it revokes the token (once the server's authentication cache,
      // 10 s by default, lets go of it).
      await kube.must('DELETE', `/api/v1/namespaces/kube-system/secrets/${secret}`);
      await kube.waitUntilRejected(token);
      const add = await t.call('ADD');
      expect(add.status).toBe(1);
      expect(add.json?.msg).toContain('401 Unauthorized');
      expect(add.json?.msg).toContain(`GET pod "${t.ns}/${t.podName}"`);
      nothingLeft();
    });

    it('fails with 403 naming the permission once its role binding is removed, attaching nothing', async () => {
      const sa = await serviceAccountWithRole(kube, shipped('rbac.yaml', 'ClusterRole').rules as Obj[]);
      const t = await setup({ [NETWORKS]: 'storage' }, {}, sa.token);
      await addMacvlanNad(t.ns, 'storage', '10.233.0.0/24');
      expect((await t.call('ADD')).status).toBe(0);
      expect((await t.call('DEL')).status).toBe(0);
      await kube.must('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${sa.name}`);
      await waitForAccess(kube, sa.user, { verb: 'get', resource: 'pods', namespace: t.ns }, false);
      const before = t.requests(sa.user).length;
      const add = await t.call('ADD');
      expect(add.status).toBe(1);
      expect(add.json?.msg).toContain(`forbids get on pods "${t.ns}/${t.podName}" with the token of user "multus"`);
      expect(t.requests(sa.user).slice(before)).toEqual([`get /api/v1/namespaces/${t.ns}/pods/${t.podName} 403`]);
      nothingLeft();
    });

    it('works with the configuration and kubeconfig that `multus install` writes from the ServiceAccount', async () => {
      const sb = new InstallSandbox();
      try {
        sb.setToken(multusToken);
        writeFileSync(join(sb.saDir, 'ca.crt'), kube.caPem);
        sb.writeConf('10-cluster.conf', { cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge: f.bridge,
          ipam: { type: 'host-local', subnet: '10.236.0.0/24', dataDir: f.work.ipamDir } });
        const flags = await installFlags([...sb.args(), '--skip-app-install', '--api-server', serverInNode]);
        expect(await runInstall(flags, { io: sb.io, env: {} }), sb.io.logs.join('\n')).toBe(0);
        // A 1.0.0 primary makes a conflist; the runtime hands its one plugin the list's name and version.
        const list = JSON.parse(readFileSync(join(sb.confDir, MULTUS_CONFLIST), 'utf8')) as Obj;
        const installed = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] } as Obj;
        expect(installed.kubeconfig).toBe(sb.kubeconfigPath);
        const t = await setup({ [NETWORKS]: 'storage' });
        await addMacvlanNad(t.ns, 'storage', '10.234.0.0/24');
        const add = await t.call('ADD', { ...installed, cniDir: f.work.cniDir, binDir: REFERENCE_PLUGINS });
        expect(add.stderr).toBe('');
        expect(add.status).toBe(0);
        expect(podIps('eth0')).toEqual(['10.236.0.2']);
        expect((await t.status()).map((e) => e.interface)).toEqual(['eth0', 'net1']);
        expect((await t.call('DEL', { ...installed, cniDir: f.work.cniDir, binDir: REFERENCE_PLUGINS })).status).toBe(0);
        nothingLeft();
      } finally {
        sb.remove();
      }
    });

    /**
     * Least privilege, for real: without any one verb of the shipped ClusterRole, the thing it is for fails with a
     * 403 that names it. A rule added to conf/rbac.yaml without an entry here fails this test.
     */
    describe('the shipped ClusterRole, one permission at a time', () => {
      const role = shipped('rbac.yaml', 'ClusterRole');
      const permissions = (role.rules as Obj[]).flatMap((rule, i) =>
        (rule.resources as string[]).flatMap((resource) => (rule.verbs as string[]).map((verb) => ({ i, group: rule.apiGroups[0] as string, resource, verb }))));

      // What each permission is for: how to exercise it and what its absence looks like.
      const uses: Record<string, (t: Setup) => Promise<void>> = {
        '/pods:get': async (t) => {
          const add = await t.call('ADD');
          expect(add.json?.msg).toContain(`forbids get on pods "${t.ns}/${t.podName}"`);
        },
        '/pods/status:patch': async (t) => {
          const add = await t.call('ADD');
          expect(add.json?.msg).toContain(`forbids patch on pods/status "${t.ns}/${t.podName}"`);
          expect(await t.status()).toBeNull();
        },
        'k8s.cni.cncf.io/network-attachment-definitions:get': async (t) => {
          const add = await t.call('ADD');
          expect(add.json?.msg).toContain(`forbids get on network-attachment-definitions.k8s.cni.cncf.io "${t.ns}/storage"`);
        },
        // Events never fail an ADD: without the permission the pod is attached and has no events.
        '/events:create': async (t) => {
          const add = await t.call('ADD');
          expect(add.status).toBe(0);
          expect(await t.events()).toEqual([]);
          expect((await t.call('DEL')).status).toBe(0);
        },
      };

      it.each(permissions.map((p) => [`${p.group}/${p.resource}:${p.verb}`, p] as const))('without %s', async (key, p) => {
        expect(Object.keys(uses), `conf/rbac.yaml grants ${key}: add what it is for to this test, or remove it`).toContain(key);
        const rules = (role.rules as Obj[]).map((rule, i) => {
          if (i !== p.i) return rule;
          const others = (rule.resources as string[]).filter((r) => r !== p.resource);
          const verbs = (rule.verbs as string[]).filter((v) => v !== p.verb);
          return [
            ...(verbs.length > 0 ? [{ ...rule, resources: [p.resource], verbs }] : []),
            ...(others.length > 0 ? [{ ...rule, resources: others }] : []),
          ];
        }).flat();
        const sa = await serviceAccountWithRole(kube, rules);
        const t = await setup({ [NETWORKS]: 'storage' }, {}, sa.token);
        await addMacvlanNad(t.ns, 'storage', '10.235.0.0/24');
        await uses[key]!(t);
        expect(t.requests(sa.user).filter((r) => r.endsWith(' 403'))).not.toEqual([]);
        nothingLeft();
      });
    });
  });

  // Our client's patch semantics against the real server's: merge patches of annotations through the status
  // subresource, the uid precondition, and the get-and-update fallback for Go Multus's ClusterRole.
  describe('the Kubernetes client', () => {
    let work: Workdir;
    beforeAll(() => {
      work = new Workdir();
    });
    afterAll(() => {
      work?.remove();
    });

    async function apiAs(rules: Obj[]): Promise<{ api: KubeApi; user: string; ns: string }> {
      const sa = await serviceAccountWithRole(kube, rules);
      const ns = `kc-${uniqueId()}`;
      await kube.createNamespace(ns);
      const conn = await loadKubeconfig(kube.writeKubeconfig(work.dir, sa.token, kube.url, `kc-${uniqueId()}`));
      return { api: new KubeApi(new KubeClient(conn)), user: sa.user, ns };
    }

    it('merge-patches annotations through pods/status: set, replace, remove, others kept', async () => {
      const { api, ns } = await apiAs([{ apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] }]);
      await kube.createPod(ns, 'p', { keep: 'me', old: 'x' });
      const pod = await api.patchPodStatusAnnotations(ns, 'p', { [STATUS]: '[]', old: null });
      expect(pod.annotations).toEqual({ keep: 'me', [STATUS]: '[]' });
      expect((await kube.getPod(ns, 'p')).metadata.annotations).toEqual({ keep: 'me', [STATUS]: '[]' });
      api.close();
    });

    it('reads answers the server sends chunked, large ones and requests made at once, over its one connection', async () => {
      const { api, user, ns } = await apiAs([{ apiGroups: ['k8s.cni.cncf.io'], resources: [NADS], verbs: ['get'] }]);
      // A 300 kB configuration: the server's answer comes in many chunks and TLS records.
      const big = JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master: 'eth0', note: 'x'.repeat(300_000) });
      await kube.apply([0, 1, 2, 3, 4].map((i) => ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
        metadata: { name: `n${i}`, namespace: ns }, spec: { config: i === 0 ? big : `{"cniVersion":"1.0.0","type":"macvlan","name":"n${i}"}` } })));
      const nads = await Promise.all([0, 1, 2, 3, 4].map((i) => api.getNetworkAttachmentDefinition(ns, `n${i}`)));
      expect(nads[0]!.config).toBe(big);
      expect(nads.slice(1).map((n) => JSON.parse(n.config).name)).toEqual(['n1', 'n2', 'n3', 'n4']);
      expect(kube.audit(user).filter((e) => e.objectRef?.namespace === ns).map((e) => e.responseStatus?.code)).toEqual([200, 200, 200, 200, 200]);
      api.close();
    });

    it('refuses to patch a namesake that replaced the pod (uid precondition)', async () => {
      const { api, ns } = await apiAs([{ apiGroups: [''], resources: ['pods/status'], verbs: ['patch'] }]);
      const first = await kube.createPod(ns, 'p');
      await kube.deletePod(ns, 'p');
      await kube.createPod(ns, 'p');
      const e = await rejected(api.patchPodStatusAnnotations(ns, 'p', { [STATUS]: '[]' }, first.metadata.uid as string));
      // The server says 422 Invalid, "metadata.uid: field is immutable"; the client says what happened.
      expect(e.message).toContain(`pod status "${ns}/p" was replaced: expected uid ${first.metadata.uid as string}`);
      expect(e.message).toContain('422 Invalid');
      expect((await kube.getPod(ns, 'p')).metadata.annotations?.[STATUS]).toBeUndefined();
      api.close();
    });

    it('falls back to get and update with Go Multus\'s ClusterRole (no patch on pods/status)', async () => {
      const { api, user, ns } = await apiAs([
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods/status'], verbs: ['get', 'update'] },
      ]);
      const pod = await kube.createPod(ns, 'p', { keep: 'me' });
      const patched = await api.patchPodStatusAnnotations(ns, 'p', { [STATUS]: '[]' }, pod.metadata.uid as string);
      expect(patched.annotations).toEqual({ keep: 'me', [STATUS]: '[]' });
      expect(kube.audit(user).filter((e) => e.objectRef?.namespace === ns).map((e) => `${e.verb} ${e.objectRef?.subresource ?? ''} ${e.responseStatus?.code}`))
        .toEqual(['patch status 403', 'get  200', 'update status 200']);
      api.close();
    });
  });

});

/** A ServiceAccount of its own bound to a ClusterRole with exactly `rules`; returns once RBAC enforces them. */
async function serviceAccountWithRole(kube: KubeCluster, rules: Obj[]): Promise<{ name: string; user: string; token: string }> {
  const name = `multus-${uniqueId()}`;
  await kube.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'kube-system' } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: 'kube-system' }] },
  ]);
  const user = serviceAccountUser('kube-system', name);
  const first = rules[0];
  if (first) {
    const [resource, subresource] = (first.resources[0] as string).split('/');
    await waitForAccess(kube, user, { verb: first.verbs[0], group: first.apiGroups[0], resource: resource!, subresource, namespace: 'default' }, true);
  }
  return { name, user, token: await kube.token('kube-system', name) };
}

/** RBAC reads its objects through a cache: wait until the authorizer says `allowed` for this access. */
async function waitForAccess(kube: KubeCluster, user: string, attrs: { verb: string; group?: string; resource: string; subresource?: string; namespace: string }, allowed: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const review = await kube.must('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
      spec: { user, groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
        resourceAttributes: { ...attrs, group: attrs.group ?? '' } },
    });
    if (Boolean(review.status?.allowed) === allowed) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`RBAC never ${allowed ? 'allowed' : 'denied'} ${attrs.verb} ${attrs.resource} to ${user}`);
}
