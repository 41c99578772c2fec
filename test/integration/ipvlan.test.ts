import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type RunOutcome } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';
import { ipIn, linksIn, PluginDir, runPluginIn, type LinkCall } from '../helpers/link-plugins';
import { referenceSets } from '../helpers/peers';

type Conf = Record<string, unknown>;

// This machine's kernel has no ipvlan: every ADD ends at link creation, which is what we compare with the reference.
// Once against each reference set (Debian's and upstream's).
for (const set of referenceSets()) describe.skipIf(!canUseNamespaces || set.missing !== undefined)(`built-in ipvlan (reference ${set.label})`, () => {
  const f = nodeFixture();
  let bin: PluginDir;
  beforeEach(() => {
    bin = new PluginDir(false, set.dir);
  });
  afterEach(() => bin.remove());

  const conf = (extra: Conf = {}): Conf => ({
    cniVersion: '1.0.0', name: `ipv${f.node.id}`, type: 'ipvlan', master: 'uplink0',
    ipam: { type: 'host-local', subnet: '10.98.0.0/24', dataDir: f.work.ipamDir }, ...extra,
  });
  const chained = (interfaces: Conf[], extra: Conf = {}): Conf => {
    const { master: _m, ipam: _i, ...rest } = conf();
    return { ...rest, prevResult: { cniVersion: '1.0.0', interfaces, ips: [{ interface: 0, address: '10.97.0.5/24' }] }, ...extra };
  };
  const ours = (command: string, c: unknown, o: Partial<LinkCall> = {}): RunOutcome =>
    runPluginIn(f.node.nodeNs, bin.ours('ipvlan'), { command, conf: c, netns: f.node.podNetnsPath, cniPath: bin.cniPath, ...o });
  const reference = (command: string, c: unknown, o: Partial<LinkCall> = {}): RunOutcome =>
    runPluginIn(f.node.nodeNs, join(set.dir, 'ipvlan'), { command, conf: c, netns: f.node.podNetnsPath, cniPath: set.dir, ...o });
  const error = (r: RunOutcome) => {
    expect(r.status).toBe(1);
    return r.json as { code: number; msg: string };
  };
  const podLinkNames = () => linksIn(f.node.podNs).map((l) => l.ifname).filter((n) => n !== 'lo');

  it('fails ADD with the reference error before IPAM runs, so that nothing is reserved or left behind', () => {
    const r = ours('ADD', conf());
    expect(r.json).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'failed to create ipvlan: operation not supported' });
    expect(error(reference('ADD', conf())).msg).toBe('failed to create ipvlan: operation not supported');
    expect(existsSync(f.work.ipamDir)).toBe(false);
    expect(podLinkNames()).toEqual([]);
    for (const mode of ['l2', 'l3', 'l3s']) expect(error(ours('ADD', conf({ mode, mtu: 1400 }))).msg).toBe('failed to create ipvlan: operation not supported');
    expect(existsSync(f.work.ipamDir)).toBe(false);
  });

  it('refuses unknown modes and missing masters like the reference', () => {
    const mode = error(ours('ADD', conf({ mode: 'l4' })));
    expect(mode).toMatchObject({ code: 7, msg: 'unknown ipvlan mode: "l4"' });
    expect(error(reference('ADD', conf({ mode: 'l4' }))).msg).toBe(mode.msg);
    const master = error(ours('ADD', conf({ master: 'nosuch0' })));
    expect(master.msg).toBe('failed to lookup master "nosuch0": Link not found');
    expect(error(reference('ADD', conf({ master: 'nosuch0' }))).msg).toBe(master.msg);
    expect(error(ours('ADD', conf(), { netns: '/run/netns/none' })).msg)
      .toBe('failed to open netns "/run/netns/none": failed to Statfs "/run/netns/none": no such file or directory');
    expect(existsSync(f.work.ipamDir)).toBe(false);
  });

  it('takes the master from a chained prevResult with exactly one named interface', () => {
    const two = chained([{ name: 'a' }, { name: 'b' }]);
    const msg = 'chained master failure. PrevResult lacks a single named interface';
    expect(error(ours('ADD', two)).msg).toBe(msg);
    expect(error(reference('ADD', two)).msg).toBe(msg);
    expect(error(ours('ADD', chained([{ name: '' }]))).msg).toBe(msg);
    expect(error(ours('ADD', chained([{ name: 'nosuch1' }]))).msg).toBe('failed to lookup master "nosuch1": Link not found');
    // uplink0 exists, so creation is reached: the master was resolved from prevResult.
    expect(error(ours('ADD', chained([{ name: 'uplink0' }]))).msg).toBe('failed to create ipvlan: operation not supported');
    expect(error(ours('ADD', chained([{ name: 'uplink0' }], { prevResult: { cniVersion: '1.0.0', interfaces: 'x' } }))).msg)
      .toMatch(/^could not parse prevResult: /);
  });

  it('needs IPAM or addresses from a previous plugin, and says so before creating a link', () => {
    const { ipam: _i, ...noIpam } = conf();
    expect(error(ours('ADD', noIpam))).toMatchObject({ code: 7, msg: 'no plugin name provided' });
    expect(error(ours('ADD', chained([{ name: 'uplink0' }], { prevResult: { cniVersion: '1.0.0', interfaces: [{ name: 'uplink0' }] } }))).msg)
      .toBe('no plugin name provided');
  });

  it('takes the default-route interface as master, and DEL never needs one (the reference DEL fails without it)', () => {
    const { master: _m, ...noMaster } = conf();
    expect(error(ours('ADD', noMaster)).msg).toBe('no default route interface found');
    const noIpamNoMaster = { ...noMaster, ipam: {} };
    expect(ours('DEL', noIpamNoMaster)).toMatchObject({ status: 0, stdout: '' });
    expect(error(reference('DEL', noIpamNoMaster)).msg).toBe('no default route interface found');
    ipIn(f.node.nodeNs, 'addr', 'add', '10.5.0.2/24', 'dev', 'uplink0');
    ipIn(f.node.nodeNs, 'route', 'add', 'default', 'via', '10.5.0.1');
    expect(error(ours('ADD', noMaster)).msg).toBe('failed to create ipvlan: operation not supported');
  });

  it('DEL calls IPAM DEL and deletes the interface whatever its kind, and tolerates what is gone', () => {
    ipIn(f.node.podNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
    expect(ours('DEL', conf())).toMatchObject({ status: 0, stdout: '' });
    expect(podLinkNames()).toEqual([]);
    expect(ours('DEL', conf())).toMatchObject({ status: 0, stdout: '' });
    expect(ours('DEL', conf(), { netns: '' })).toMatchObject({ status: 0, stdout: '' });
    expect(ours('DEL', conf(), { netns: `/run/netns/mt-gone-${f.node.id}` })).toMatchObject({ status: 0, stdout: '' });
  });

  it('CHECK names the interface it cannot find or that is not an ipvlan, in the reference words', () => {
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: f.node.podNetnsPath }], ips: [] };
    const c = { ...conf(), ipam: {}, prevResult };
    expect(error(ours('CHECK', { ...conf(), ipam: {} })).msg).toBe('Required prevResult missing');
    expect(error(ours('CHECK', c)).msg).toBe('Container Interface name in prevResult: eth0 not found');
    expect(error(reference('CHECK', c)).msg).toBe('Container Interface name in prevResult: eth0 not found');
    ipIn(f.node.podNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
    expect(error(ours('CHECK', c)).msg).toBe('Error: Container interface eth0 not of type ipvlan');
    expect(error(ours('CHECK', { ...c, master: 'nosuch0' })).msg).toBe('failed to lookup master "nosuch0": Link not found');
    expect(error(ours('CHECK', { ...c, mode: 'l4' })).msg).toBe('unknown ipvlan mode: "l4"');
  });

  it('STATUS is ready without IPAM', () => {
    expect(ours('STATUS', { ...conf({ cniVersion: '1.1.0' }), ipam: {} }, { containerId: '', netns: '' })).toMatchObject({ status: 0, stdout: '' });
  });
});
