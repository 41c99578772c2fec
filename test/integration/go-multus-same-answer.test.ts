import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MULTUS, uniqueId, type RunOutcome } from '../helpers/multus';
import { execPluginAsync } from '../helpers/plugin-exec';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { goMultus, upstreamPlugins } from '../helpers/peers';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { filesUnder, podState, reservations, withoutMacs, type PodState } from '../helpers/pod-state';

const go = goMultus();
const plugins = upstreamPlugins();
/** TestNode's uplink, master of the macvlan networks. */
const UPLINK = 'uplink0';
const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';

type Side = 'go' | 'ts';
const BINARY: Record<Side, string> = { go: go.path('multus'), ts: MULTUS };

/** What one implementation did with one pod, in comparable form. */
interface Answer {
  /** ADD's exit status and, on failure, the CNI error code. */
  add: { status: number; code?: unknown };
  /** The pod's interfaces, addresses and routes after ADD (MACs masked unless the pod asked for one). */
  pod: PodState;
  /** network-status as written to the pod (MACs masked likewise), or undefined when none was written. */
  networkStatus: unknown;
  /** The host-local store after ADD, file by file. */
  store: Record<string, string>;
  /** CHECK's exit status after ADD. */
  check: number;
  /** What DEL left: pod links, reservations, delegate caches. */
  afterDel: { status: number; links: string[]; reservations: string[]; caches: string[] };
  /** The runtime's second DEL (containerd's RemovePodSandbox): its exit status. */
  repeatedDel: number;
}

interface Case {
  name: string;
  annotations?: Record<string, string>;
  /** NetworkAttachmentDefinitions by name: a configuration object, a conflist, or null for "no spec.config". */
  nads?: Record<string, unknown>;
  /** Files in confDir (name → content). */
  confDir?: Record<string, unknown>;
  /** Interfaces whose MAC the pod asked for (compared as they are). */
  fixedMacs?: string[];
  /** The pod's interfaces after ADD (none when ADD fails), so that two identical failures cannot pass for success. */
  links: string[];
  /** No Kubernetes: these static delegates after the primary. */
  staticDelegates?: unknown[];
  /** The pod is not in the API (deleted meanwhile, or a static pod without its mirror yet). */
  podMissing?: true;
}

/**
 * Every difference between Go Multus 4.2.2 and multus-ts that we keep on purpose, once, with its reason; each is
 * in the README's list ("Where multus-ts differs from Go Multus"). `apply` turns Go Multus's answer into what
 * multus-ts answers instead, for the cases it names.
 */
const DELIBERATE: Array<{ cases: string[] | 'every pod with network-status'; why: string; apply: (a: Answer, containerId: string) => Answer }> = [
  {
    cases: 'every pod with network-status',
    why: 'network-status "gateway": Go Multus copies the default route\'s gateway from the result, "<nil>" when the route names '
      + 'none (the bridge plugin\'s {"dst": "0.0.0.0/0"}); multus-ts names the gateway the pod\'s default route really uses',
    apply: (a) => ({
      ...a,
      networkStatus: (a.networkStatus as Array<Record<string, unknown>> | undefined)?.map((e) => {
        if (!Array.isArray(e.gateway) || !e.gateway.includes('<nil>')) return e;
        const used = a.pod.routes.map((r) => new RegExp(`^default via (\\S+) dev ${e.interface as string}( |$)`).exec(r)?.[1]).filter(Boolean);
        return { ...e, gateway: used };
      }),
    }),
  },
  {
    cases: ['the pod is not in the API'],
    why: 'a pod missing from the API at ADD (deleted meanwhile, or a static pod whose mirror does not exist yet): Go Multus '
      + 'prints a made-up result and attaches nothing, so a static pod has no network; multus-ts attaches the configured '
      + 'networks (README, "Kubernetes")',
    apply: (a, containerId) => ({
      ...a,
      check: 0,
      pod: {
        links: { eth0: { kind: 'veth', mtu: 1500, up: true, mac: 'MAC' } },
        addresses: { eth0: ['10.70.0.2/24'] },
        routes: ['10.70.0.0/24 dev eth0 scope link', 'default via 10.70.0.1 dev eth0'],
      },
      store: { 'cluster/10.70.0.2': `${containerId}\r\neth0`, 'cluster/last_reserved_ip.0': '10.70.0.2', 'cluster/lock': '' },
    }),
  },
  {
    cases: ['default-route through a secondary'],
    why: 'default-route: Go Multus 4.2.2 adds the requested default route next to the primary\'s, the kernel refuses it as a '
      + 'duplicate and Go Multus ignores that, so nothing changes; multus-ts moves the default route to the requested '
      + 'gateway and network-status says so',
    apply: (a) => ({
      ...a,
      pod: { ...a.pod, routes: a.pod.routes.map((r) => (r === 'default via 10.70.0.1 dev eth0' ? 'default via 10.71.5.1 dev net1' : r)).sort() },
      networkStatus: (a.networkStatus as Array<Record<string, unknown>>).map((e) => {
        const { gateway: _g, ...rest } = e;
        return e.interface === 'net1' ? { ...rest, gateway: ['10.71.5.1'] } : rest;
      }),
    }),
  },
];

// Not compared: the API requests. Go Multus re-reads the pod and PUTs its status (we send one PATCH; README,
// "Kubernetes", cost), and it posts an AddedInterface event per attachment from a goroutine that the process does not
// wait for, so whether an event reaches the server before Go Multus exits is a race (multus-ts posts them too).
// The same pods, one at a time, through Go Multus 4.2.2 and through multus-ts, from identical fresh state (the same
// pod namespace, cniDir, host-local store, pod object and NetworkAttachmentDefinitions, emptied between the two), with
// the upstream v1.9.1 plugins as delegates; the answers must agree but for the deliberate differences above.
describe.skipIf(!canUseNamespaces || go.missing !== undefined || plugins.missing !== undefined)(`the same pod gets the same answer from Go Multus ${go.version} and multus-ts`, () => {
  let node: TestNode;
  let api: ApiServer;
  // Named now (the NADs below hold paths in it), made in beforeAll.
  const work = { dir: join(tmpdir(), `go-multus-same-${uniqueId()}`) };
  beforeAll(async () => {
    node = new TestNode();
    api = await startApiServer({ netns: `/var/run/netns/${node.nodeNs}` });
    mkdirSync(work.dir);
  });
  afterAll(async () => {
    await api.close();
    node.destroy();
    rmSync(work.dir, { recursive: true, force: true });
  });

  const ipam = (subnet: string, extra: Record<string, unknown> = {}) => ({ type: 'host-local', subnet, dataDir: join(work.dir, 'ipam'), ...extra });
  const macvlan = (subnet: string, extra: Record<string, unknown> = {}) =>
    ({ cniVersion: '1.0.0', type: 'macvlan', master: UPLINK, mode: 'bridge', ipam: ipam(subnet), ...extra });

  const CASES: Case[] = [
    { name: 'no networks annotation: the primary only', links: ['eth0'] },
    { name: 'text form, one NAD', links: ['eth0', 'net1'], annotations: { [NETWORKS]: 'mv1' }, nads: { mv1: macvlan('10.71.1.0/24') } },
    {
      name: 'text form with namespace and interface name, two NADs',
      links: ['data0', 'eth0', 'net2'],
      annotations: { [NETWORKS]: 'NS/mv1@data0, mv2' },
      nads: { mv1: macvlan('10.71.1.0/24'), mv2: macvlan('10.71.2.0/24', { mode: 'private' }) },
    },
    {
      name: 'JSON form with a static IP and MAC through capabilities',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: JSON.stringify([{ name: 'mvs', ips: ['10.71.3.50/24'], mac: '02:11:22:33:44:55' }]) },
      nads: { mvs: macvlan('10.71.3.0/24', { capabilities: { ips: true, mac: true } }) },
      fixedMacs: ['net1'],
    },
    {
      name: 'JSON form with the static IPAM plugin',
      links: ['eth0', 'st0'],
      annotations: { [NETWORKS]: JSON.stringify([{ name: 'static', interface: 'st0', ips: ['10.71.4.9/24'] }]) },
      nads: { static: { cniVersion: '1.0.0', type: 'macvlan', master: UPLINK, capabilities: { ips: true }, ipam: { type: 'static' } } },
    },
    {
      name: 'JSON form with ips and mac, the NAD declaring no capabilities',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: JSON.stringify([{ name: 'plain', ips: ['10.71.9.60/24'], mac: '02:11:22:33:44:66' }]) },
      nads: { plain: macvlan('10.71.9.0/24') },
      fixedMacs: ['net1'],
    },
    {
      name: 'a NAD of cniVersion 0.3.1 (cannot be CHECKed)',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: 'old' },
      nads: { old: macvlan('10.71.10.0/24', { cniVersion: '0.3.1' }) },
    },
    {
      name: 'default-route through a secondary',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: JSON.stringify([{ name: 'mvgw', 'default-route': ['10.71.5.1'] }]) },
      nads: { mvgw: macvlan('10.71.5.0/24', { ipam: ipam('10.71.5.0/24', { routes: [{ dst: '10.99.0.0/16' }] }) }) },
    },
    {
      name: 'a conflist NAD (macvlan, then tuning)',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: 'chain' },
      nads: { chain: { cniVersion: '1.0.0', plugins: [{ ...macvlan('10.71.6.0/24'), cniVersion: undefined }, { type: 'tuning', mtu: 1400 }] } },
    },
    {
      name: 'a NAD without spec.config: the configuration of that name in confDir',
      links: ['eth0', 'net1'],
      annotations: { [NETWORKS]: 'fromfile' },
      nads: { fromfile: null },
      confDir: { 'fromfile.conf': { ...macvlan('10.71.7.0/24'), name: 'fromfile' } },
    },
    {
      name: 'static delegates, no Kubernetes',
      links: ['eth0', 'net1'],
      staticDelegates: [{ ...macvlan('10.71.11.0/24'), name: 'static-mv' }],
    },
    { name: 'the pod is not in the API', links: [], podMissing: true, annotations: { [NETWORKS]: 'mv1' }, nads: { mv1: macvlan('10.71.1.0/24') } },
    {
      name: 'a failing secondary after a good one',
      links: [],
      annotations: { [NETWORKS]: 'mv1, broken' },
      nads: { mv1: macvlan('10.71.1.0/24'), broken: macvlan('10.71.8.0/24', { master: 'nosuchdev0' }) },
    },
  ];

  /** One pod through one implementation, from a fresh state; leaves the state fresh again. */
  async function answer(side: Side, c: Case, ns: string, podNs: string): Promise<Answer> {
    const cniDir = join(work.dir, 'cni');
    const confDir = join(work.dir, 'confdir');
    for (const d of [cniDir, confDir, join(work.dir, 'ipam')]) rmSync(d, { recursive: true, force: true });
    mkdirSync(confDir);
    for (const [file, conf] of Object.entries(c.confDir ?? {})) writeFileSync(join(confDir, file), JSON.stringify(conf));
    spawnSync('ip', ['netns', 'del', podNs]);
    spawnSync('ip', ['netns', 'add', podNs]);
    const pod = api.addPod({ namespace: ns, name: 'pod', uid: `uid-${ns}`,
      annotations: Object.fromEntries(Object.entries(c.annotations ?? {}).map(([k, v]) => [k, v.replace('NS/', `${ns}/`)])) });
    if (c.podMissing) api.deletePod(ns, 'pod');
    const conf = {
      cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir, confDir, binDir: plugins.dir,
      ...(!c.staticDelegates && { kubeconfig: api.writeKubeconfig(work.dir), multusNamespace: ns }),
      delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge: `br${ns.slice(-8)}`, isGateway: true,
        ipam: ipam('10.70.0.0/24', { routes: [{ dst: '0.0.0.0/0' }] }) }, ...(c.staticDelegates ?? [])],
    };
    const run = (command: string): Promise<RunOutcome> => execPluginAsync(BINARY[side], {
      command, conf, containerId: `c-${ns}`, netns: `/var/run/netns/${podNs}`, inNetns: node.nodeNs, path: plugins.dir,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=c-${ns};K8S_POD_UID=${pod.metadata.uid}`,
    });
    const mask = (s: unknown) => (Array.isArray(s) ? s.map((e: Record<string, unknown>) => (c.fixedMacs?.includes(e.interface as string) ? e : { ...e, mac: 'MAC' })) : s);

    const add = await run('ADD');
    const written = api.pod(ns, 'pod')?.metadata.annotations?.[STATUS] as string | undefined;
    const result: Answer = {
      add: { status: add.status, ...(add.status !== 0 && { code: add.json?.code }) },
      pod: withoutMacs(podState(podNs), c.fixedMacs),
      networkStatus: written === undefined ? undefined : mask(JSON.parse(written)),
      store: filesUnder(join(work.dir, 'ipam')),
      check: (await run('CHECK')).status,
      afterDel: { status: -1, links: [], reservations: [], caches: [] },
      repeatedDel: -1,
    };
    const del = await run('DEL');
    result.afterDel = {
      status: del.status,
      links: Object.keys(podState(podNs).links),
      reservations: reservations(join(work.dir, 'ipam')),
      caches: spawnSync('ls', ['-A', cniDir], { encoding: 'utf8' }).stdout.split('\n').filter((x) => x && x !== 'results' && x !== '.deleted'),
    };
    result.repeatedDel = (await run('DEL')).status;
    return result;
  }

  for (const c of CASES) {
    it(c.name, async () => {
      const ns = `sa-${uniqueId()}`;
      const podNs = `mt-${ns}-pod`;
      try {
        for (const [name, config] of Object.entries(c.nads ?? {})) {
          api.addNad({ namespace: ns, name, ...(config !== null && { config: JSON.stringify(config) }) });
        }
        const goAnswer = await answer('go', c, ns, podNs);
        expect(Object.keys(goAnswer.pod.links).sort(), 'Go Multus').toEqual(c.links);
        // Go Multus succeeds without attaching anything for a pod missing from the API.
        expect(goAnswer.add.status === 0, 'Go Multus').toBe(c.links.length > 0 || c.podMissing === true);
        const tsAnswer = await answer('ts', c, ns, podNs);
        const expected = DELIBERATE.filter((d) => typeof d.cases === 'string' || d.cases.includes(c.name)).reduce((a, d) => d.apply(a, `c-${ns}`), goAnswer);
        expect(tsAnswer).toEqual(expected);
      } finally {
        spawnSync('ip', ['netns', 'del', podNs]);
      }
    });
  }

  it('lists each deliberate difference for cases that exist', () => {
    for (const d of DELIBERATE) for (const name of typeof d.cases === 'string' ? [] : d.cases) expect(CASES.map((c) => c.name)).toContain(name);
  });
});
