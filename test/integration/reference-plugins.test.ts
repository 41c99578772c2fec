import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runMultus } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';
import { referenceSets } from '../helpers/peers';

// A pod on a node: the primary network is the reference bridge + host-local, the secondaries reference macvlan;
// once with Debian's plugins and once with upstream's.
for (const set of referenceSets()) describe.skipIf(!canUseNamespaces || set.missing !== undefined)(`multus with the reference plugins ${set.label}, in real namespaces`, () => {
  const f = nodeFixture();

  function multusConf(secondMaster = f.node.uplink, version = '1.0.0'): Record<string, unknown> {
    const ipam = (subnet: string, extra: Record<string, unknown> = {}) => ({ type: 'host-local', subnet, dataDir: f.work.ipamDir, ...extra });
    return {
      cniVersion: version,
      name: 'multus-cni-network',
      type: 'multus',
      cniDir: f.work.cniDir,
      binDir: set.dir,
      delegates: [
        { cniVersion: '1.0.0', name: `prim-${f.node.id}`, type: 'bridge', bridge: `br${f.node.id}`, isGateway: true,
          ipam: ipam('10.201.0.0/24', { routes: [{ dst: '0.0.0.0/0' }] }) },
        { cniVersion: '1.0.0', name: `mva-${f.node.id}`, type: 'macvlan', master: f.node.uplink, mode: 'bridge', ipam: ipam('10.202.0.0/24') },
        { cniVersion: '1.0.0', name: `mvb-${f.node.id}`, type: 'macvlan', master: secondMaster, mode: 'bridge',
          ipam: ipam('10.203.0.0/24', { routes: [{ dst: '10.250.0.0/16', gw: '10.203.0.254' }] }) },
      ],
    };
  }

  const call = (command: string, conf: unknown, containerId = `c${f.node.id}`) =>
    runMultus({ command, conf, containerId, netns: f.node.podNetnsPath, inNetns: f.node.nodeNs,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-${f.node.id}` });

  function reservations(): string[] {
    if (!existsSync(f.work.ipamDir)) return [];
    return readdirSync(f.work.ipamDir).flatMap((net) =>
      readdirSync(join(f.work.ipamDir, net)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).map((f) => `${net}/${f}`));
  }

  it('attaches eth0, net1 and net2 with their addresses and routes, and DEL removes everything', () => {
    const add = call('ADD', multusConf());
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    // The printed result is the primary's: eth0 from the bridge network, in the configuration's version.
    expect(add.json?.cniVersion).toBe('1.0.0');
    expect(add.json?.ips).toEqual([{ interface: 2, address: '10.201.0.2/24', gateway: '10.201.0.1' }]);
    const interfaces = add.json?.interfaces as Array<{ name: string; sandbox?: string }>;
    expect(interfaces.find((i) => i.sandbox)?.name).toBe('eth0');

    const links = Object.fromEntries(f.node.podLinks().map((l) => [l.ifname, l]));
    expect(Object.keys(links).sort()).toEqual(['eth0', 'net1', 'net2']);
    expect(links.eth0!.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['10.201.0.2/24']);
    expect(links.net1!.linkinfo?.info_kind).toBe('macvlan');
    expect(links.net1!.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)).toEqual(['10.202.0.2']);
    expect(links.net2!.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)).toEqual(['10.203.0.2']);
    const routes = f.node.routes(f.node.podNs);
    expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.201.0.1', dev: 'eth0' }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: '10.250.0.0/16', gateway: '10.203.0.254', dev: 'net2' }));
    expect(reservations()).toHaveLength(3);
    expect(existsSync(join(f.work.cniDir, `c${f.node.id}`))).toBe(true);
    expect(readdirSync(join(f.work.cniDir, 'results'))).toHaveLength(3);

    const check = call('CHECK', multusConf());
    expect(check.stdout).toBe('');
    expect(check.status).toBe(0);

    const del = call('DEL', multusConf());
    expect(del.stdout).toBe('');
    expect(del.status).toBe(0);
    expect(f.node.podLinks()).toEqual([]);
    expect(reservations()).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
    expect(readdirSync(join(f.work.cniDir, 'results'))).toEqual([]);

    const again = call('DEL', multusConf());
    expect(again.status).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('rolls everything back when the second secondary has a bad master, with an error naming it', () => {
    const add = call('ADD', multusConf('nosuchdev0'));
    expect(add.status).toBe(1);
    expect(add.stdout).not.toMatch(/\n\s+at /);
    expect(add.json?.code).toBe(999);
    expect(add.json?.msg).toContain(`network "mvb-${f.node.id}" on interface net2`);
    expect(add.json?.msg).toContain('plugin type="macvlan" failed (add)');
    expect(add.json?.msg).toContain('Link not found');
    expect(f.node.podLinks()).toEqual([]);
    expect(f.node.links(f.node.nodeNs).map((l) => l.ifname).filter((n) => n.startsWith('veth'))).toEqual([]);
    expect(reservations()).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
    expect(readdirSync(join(f.work.cniDir, 'results'))).toEqual([]);
    // The runtime's DEL after a failed ADD has nothing left to do and succeeds.
    expect(call('DEL', multusConf('nosuchdev0')).status).toBe(0);
  });

  it('DEL succeeds and releases every address when the pod namespace is already gone', () => {
    expect(call('ADD', multusConf()).status).toBe(0);
    expect(reservations()).toHaveLength(3);
    spawnSync('ip', ['netns', 'del', f.node.podNs]);
    const del = call('DEL', multusConf());
    expect(del.stdout).toBe('');
    expect(del.status).toBe(0);
    expect(reservations()).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
  });

  it('prints the primary result converted to the configuration version', () => {
    const add = call('ADD', multusConf(f.node.uplink, '0.3.1'));
    expect(add.status).toBe(0);
    expect(add.json?.cniVersion).toBe('0.3.1');
    expect(add.json?.ips).toEqual([{ version: '4', interface: 2, address: '10.201.0.2/24', gateway: '10.201.0.1' }]);
    expect(call('DEL', multusConf(f.node.uplink, '0.3.1')).status).toBe(0);
    expect(reservations()).toEqual([]);
  });

  it('keeps two pods on one node apart', () => {
    const second = f.node.addPod();
    const conf = multusConf();
    expect(call('ADD', conf).status).toBe(0);
    const add2 = runMultus({ command: 'ADD', conf, containerId: `d${f.node.id}`, netns: `/var/run/netns/${second}`, inNetns: f.node.nodeNs });
    expect(add2.status).toBe(0);
    expect(add2.json?.ips).toEqual([{ interface: 2, address: '10.201.0.3/24', gateway: '10.201.0.1' }]);
    expect(reservations()).toHaveLength(6);
    expect(call('DEL', conf).status).toBe(0);
    expect(reservations()).toHaveLength(3);
    expect(runMultus({ command: 'DEL', conf, containerId: `d${f.node.id}`, netns: `/var/run/netns/${second}`, inNetns: f.node.nodeNs }).status).toBe(0);
    expect(reservations()).toEqual([]);
  });
});
