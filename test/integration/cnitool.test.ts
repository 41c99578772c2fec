import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MULTUS, REFERENCE_PLUGINS, runMultus } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';
import { cnitool as cnitoolPeer, upstreamPlugins } from '../helpers/peers';

const tool = cnitoolPeer();
const cnitool = tool.path('cnitool');
const upstream = upstreamPlugins();

// The runtime side is the real libcni here: cnitool finds `multus` on CNI_PATH and drives it like a kubelet would.
describe.skipIf(!canUseNamespaces || tool.missing !== undefined)('cnitool drives the multus executable', () => {
  const f = nodeFixture();

  /** A multus network in a conflist of its own, with a reference bridge primary and a reference macvlan secondary. */
  function network(binDir: string, cniVersion: string, extra: Record<string, unknown> = {}) {
    const netconf = join(f.work.dir, 'net.d');
    const pluginDir = join(f.work.dir, 'plugins');
    mkdirSync(netconf);
    mkdirSync(pluginDir);
    symlinkSync(MULTUS, join(pluginDir, 'multus'));
    const name = `cnitool-${f.node.id}`;
    const ipam = (subnet: string) => ({ type: 'host-local', subnet, dataDir: f.work.ipamDir });
    const multus = {
      type: 'multus', cniDir: f.work.cniDir, binDir,
      delegates: [
        { cniVersion, name: `p-${f.node.id}`, type: 'bridge', bridge: `br${f.node.id}`, ipam: ipam('10.211.0.0/24') },
        { cniVersion, name: `s-${f.node.id}`, type: 'macvlan', master: f.node.uplink, ipam: ipam('10.212.0.0/24') },
      ],
      ...extra,
    };
    writeFileSync(join(netconf, '00-multus.conflist'), JSON.stringify({ cniVersion, name, plugins: [multus] }));
    const run = (verb: string, netns = f.node.podNetnsPath) => spawnSync('ip', ['netns', 'exec', f.node.nodeNs, cnitool, verb, name, netns], {
      env: { PATH: process.env.PATH, NETCONFPATH: netconf, CNI_PATH: pluginDir, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default' },
      encoding: 'utf8',
    });
    return { name, run, multus };
  }

  /** Nothing of the network left: no pod links, reservations, delegate caches, nor cnitool's own result cache. */
  function expectNothingLeft(name: string, pods: string[]): void {
    for (const pod of pods) expect(f.node.links(pod).filter((l) => l.ifname !== 'lo'), pod).toEqual([]);
    const reservations = existsSync(f.work.ipamDir)
      ? readdirSync(f.work.ipamDir).flatMap((n) => readdirSync(join(f.work.ipamDir, n)).filter((x) => /^\d+\./.test(x))) : [];
    expect(reservations).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
    // cnitool's own result cache is always /var/lib/cni.
    const cached = existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : [];
    expect(cached.filter((x) => x.startsWith(`${name}-`))).toEqual([]);
  }

  it('adds, checks and deletes a multus network given as a conflist', () => {
    const { name, run } = network(REFERENCE_PLUGINS, '1.0.0');
    const add = run('add');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.211.0.2/24' }] });
    expect(f.node.podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1']);

    const check = run('check');
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const del = run('del');
    expect(del.stderr).toBe('');
    expect(del.status).toBe(0);
    expectNothingLeft(name, [f.node.podNs]);
  });

  // CNI 1.1 end to end: cnitool's libcni, multus, and the upstream plugins that know STATUS.
  it.skipIf(upstream.missing !== undefined)(`answers STATUS and cleans up on GC with the upstream plugins ${upstream.version}`, () => {
    const ready = join(f.work.dir, 'ready');
    const { name, run, multus } = network(upstream.dir, '1.1.0', { readinessindicatorfile: ready });
    const notReady = run('status');
    expect(notReady.status).not.toBe(0);
    expect(notReady.stderr).toContain(ready);
    writeFileSync(ready, '');
    const status = run('status');
    expect(status.stderr).toBe('');
    expect(status.status).toBe(0);

    // One pod through libcni (in its cache), one that the runtime has forgotten (multus alone holds it).
    expect(run('add').status).toBe(0);
    const forgotten = f.node.addPod();
    const leak = runMultus({ command: 'ADD', conf: { ...multus, cniVersion: '1.1.0', name }, containerId: `forgotten-${f.node.id}`,
      netns: `/var/run/netns/${forgotten}`, inNetns: f.node.nodeNs, path: upstream.dir });
    expect(leak.status, leak.stdout).toBe(0);
    expect(f.node.links(forgotten).map((l) => l.ifname).sort()).toEqual(['eth0', 'lo', 'net1']);

    // cnitool's gc lists no attachment as valid: libcni DELs the one it cached, multus's GC the one only it knew.
    const gc = run('gc');
    expect(gc.stderr).toBe('');
    expect(gc.status).toBe(0);
    expectNothingLeft(name, [f.node.podNs, forgotten]);
  });
});
