import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunOutcome } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';
import { ipIn, linkIn, linksIn, PluginDir, runPluginIn, sysctlIn, type LinkCall } from '../helpers/link-plugins';
import { isBuiltinPlugin } from '../../src/builtins';
import { referenceSets } from '../helpers/peers';

type Conf = Record<string, unknown>;

// Our macvlan (this executable under the name macvlan) in a pod of a TestNode, next to the reference binary
// in a sibling pod of the same node; the master is the node's uplink0. Once against each reference set (Debian's
// and upstream's): the reference macvlan and the host-local both use.
for (const set of referenceSets()) describe.skipIf(!canUseNamespaces || set.missing !== undefined)(`built-in macvlan (reference ${set.label})`, () => {
  const f = nodeFixture();
  let bin: PluginDir;
  beforeEach(() => {
    bin = new PluginDir(false, set.dir);
  });
  afterEach(() => bin.remove());

  const podNs = () => f.node.podNs;
  const refIpamDir = () => join(f.work.dir, 'ref-ipam');
  const ipam = (extra: Conf = {}) => ({
    type: 'host-local', subnet: '10.99.0.0/24', rangeStart: '10.99.0.10', rangeEnd: '10.99.0.20',
    routes: [{ dst: '0.0.0.0/0' }], dataDir: f.work.ipamDir, ...extra,
  });
  const conf = (extra: Conf = {}): Conf => ({ cniVersion: '1.0.0', name: `mv${f.node.id}`, type: 'macvlan', master: 'uplink0', ipam: ipam(), ...extra });
  const l2 = (extra: Conf = {}): Conf => conf({ ipam: {}, ...extra });

  const ours = (command: string, c: unknown, o: Partial<LinkCall> = {}): RunOutcome =>
    runPluginIn(f.node.nodeNs, bin.ours('macvlan'), { command, conf: c, netns: f.node.podNetnsPath, cniPath: bin.cniPath, ...o });
  const reference = (command: string, c: unknown, o: Partial<LinkCall> = {}): RunOutcome =>
    runPluginIn(f.node.nodeNs, join(set.dir, 'macvlan'), { command, conf: c, netns: f.node.podNetnsPath, cniPath: set.dir, ...o });
  /** The same configuration for the reference, with its own IPAM store so that both get the same addresses. */
  const forReference = (c: Conf): Conf => (c.ipam && (c.ipam as Conf).type ? { ...c, ipam: { ...(c.ipam as Conf), dataDir: refIpamDir() } } : c);

  function reservations(dir = f.work.ipamDir): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((net) => readdirSync(join(dir, net)).filter((n) => /^[\d.]+$|:/.test(n)));
  }
  const podLinkNames = (ns = podNs()) => linksIn(ns).map((l) => l.ifname).filter((n) => n !== 'lo').sort();
  const added = (r: RunOutcome) => {
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('"code"');
    expect(r.status).toBe(0);
    return r.json!;
  };
  const failed = (r: RunOutcome) => {
    expect(r.status).toBe(1);
    return r.json as { code: number; msg: string; details?: string };
  };

  /** What the kernel says about an attachment, minus what differs between any two (MACs, indexes, timers). */
  function kernelState(ns: string, ifName: string): Record<string, unknown> {
    const link = linkIn(ns, ifName);
    const addrs = (JSON.parse(ipIn(ns, '-j', 'addr', 'show', 'dev', ifName)) as Array<{ addr_info: Array<Record<string, unknown>> }>)[0]!.addr_info
      .filter((a) => a.scope !== 'link')
      .map((a) => `${a.family as string} ${a.local as string}/${a.prefixlen as number}${a.broadcast ? ` brd ${a.broadcast as string}` : ''}`);
    const routes = (fam: string) => (JSON.parse(ipIn(ns, fam, '-j', 'route', 'show')) as Conf[]).filter((r) => !String(r.dst).startsWith('fe80'));
    return {
      kind: link?.linkinfo?.info_kind, mode: link?.linkinfo?.info_data?.mode, mtu: link?.mtu, up: link?.flags.includes('UP'),
      addrs, routes4: routes('-4'), routes6: routes('-6'), arpNotify: sysctlIn(ns, `net.ipv4.conf.${ifName}.arp_notify`),
    };
  }
  /** A result with what legitimately differs between two attachments taken out; an empty 1.x dns may be there or not. */
  function comparable(result: Conf): Conf {
    const out = JSON.parse(JSON.stringify(result)) as Conf;
    for (const i of (out.interfaces as Conf[] | undefined) ?? []) {
      i.mac = 'MAC';
      i.sandbox = 'SANDBOX';
    }
    if (String(out.cniVersion).startsWith('1.') && JSON.stringify(out.dns) === '{}') delete out.dns;
    return out;
  }

  it('ADD with host-local: the reference result, and a bridge-mode macvlan that is up with its address, route and arp_notify', () => {
    const result = added(ours('ADD', conf()));
    const link = linkIn(podNs(), 'eth0')!;
    expect(result).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: link.address, sandbox: f.node.podNetnsPath }],
      ips: [{ interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
    expect(link.link_index).toBe(linkIn(f.node.nodeNs, 'uplink0')!.ifindex);
    expect(kernelState(podNs(), 'eth0')).toMatchObject({
      kind: 'macvlan', mode: 'bridge', mtu: 1500, up: true, addrs: ['inet 10.99.0.10/24 brd 10.99.0.255'], arpNotify: '1',
      routes4: expect.arrayContaining([expect.objectContaining({ dst: 'default', gateway: '10.99.0.1', dev: 'eth0' })]),
    });
    expect(sysctlIn(podNs(), 'net.ipv6.conf.eth0.ndisc_notify')).toBe('1');
    expect(reservations()).toEqual(['10.99.0.10']);
    // No temporary link is left anywhere.
    expect(podLinkNames()).toEqual(['eth0']);
    expect(linksIn(f.node.nodeNs).map((l) => l.ifname).sort()).toEqual(['lo', 'uplink0', 'uplink1']);
  });

  it('gives the same results and kernel state as the reference binary in a sibling pod, in every result version', () => {
    const sibling = f.node.addPod();
    const siblingPath = `/var/run/netns/${sibling}`;
    for (const version of ['0.2.0', '0.3.1', '0.4.0', '1.0.0']) {
      const c = conf({ cniVersion: version, ipam: ipam({ routes: [{ dst: '0.0.0.0/0' }, { dst: '172.30.0.0/16', gw: '10.99.0.254' }] }) });
      const mine = added(ours('ADD', c, { containerId: `o${version}` }));
      const theirs = added(reference('ADD', forReference(c), { containerId: `r${version}`, netns: siblingPath }));
      expect(comparable(mine), version).toEqual(comparable(theirs));
      expect(kernelState(podNs(), 'eth0'), version).toEqual(kernelState(sibling, 'eth0'));
      added(ours('DEL', c, { containerId: `o${version}` }));
      added(reference('DEL', forReference(c), { containerId: `r${version}`, netns: siblingPath }));
      expect(podLinkNames()).toEqual([]);
      expect(podLinkNames(sibling)).toEqual([]);
    }
    expect(reservations()).toEqual([]);
    expect(reservations(refIpamDir())).toEqual([]);
  });

  it('L2 only (ipam {} or none): interfaces only, the link up without addresses, with the mode, MTU and MAC asked for', () => {
    const sibling = f.node.addPod();
    const c = l2({ cniVersion: '0.3.1', mode: 'private', mtu: 1400, runtimeConfig: { mac: '02:42:ac:11:00:99' } });
    const mine = added(ours('ADD', c));
    expect(mine).toEqual({ cniVersion: '0.3.1', interfaces: [{ name: 'eth0', mac: '02:42:ac:11:00:99', sandbox: f.node.podNetnsPath }], dns: {} });
    const link = linkIn(podNs(), 'eth0')!;
    expect(link).toMatchObject({ mtu: 1400, address: '02:42:ac:11:00:99', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } } });
    expect(link.flags).toContain('UP');
    expect(ipIn(podNs(), '-4', 'addr', 'show', 'dev', 'eth0')).not.toContain('inet ');
    // The reference on the same master: a MAC of its own, the rest alike.
    const theirs = added(reference('ADD', { ...c, runtimeConfig: { mac: '02:42:ac:11:00:98' } }, { netns: `/var/run/netns/${sibling}` }));
    expect(comparable(mine)).toEqual(comparable(theirs));
    expect(kernelState(podNs(), 'eth0')).toEqual(kernelState(sibling, 'eth0'));

    const { ipam: _ignored, ...noIpam } = l2();
    expect(added(ours('ADD', noIpam, { ifName: 'net2' }))).toMatchObject({ interfaces: [{ name: 'net2' }] });
    expect(linkIn(podNs(), 'net2')?.linkinfo?.info_data?.mode).toBe('bridge');
  });

  it('creates vepa links, refuses passthru next to another macvlan with the kernel error, and unknown modes like the reference', () => {
    added(ours('ADD', l2({ mode: 'vepa' })));
    expect(linkIn(podNs(), 'eth0')?.linkinfo?.info_data?.mode).toBe('vepa');
    expect(failed(ours('ADD', l2({ mode: 'passthru' }), { ifName: 'net1' })).msg).toBe('failed to create macvlan: invalid argument');
    expect(podLinkNames()).toEqual(['eth0']);
    for (const mode of ['foo', 'source']) {
      const e = failed(ours('ADD', conf({ mode }), { ifName: 'net2' }));
      expect(e).toMatchObject({ code: 7, msg: `unknown macvlan mode: "${mode}"` });
      expect(failed(reference('ADD', forReference(conf({ mode })), { ifName: 'net2' })).msg).toBe(e.msg);
    }
    expect(podLinkNames()).toEqual(['eth0']);
    expect(reservations()).toEqual([]);
  });

  it('takes the MAC from runtimeConfig, else CNI_ARGS MAC, else the configuration, and refuses a bad one like the reference', () => {
    const cases: Array<[Conf, string, string]> = [
      [l2({ mac: '02:00:00:00:00:01', runtimeConfig: { mac: '02:00:00:00:00:03' } }), 'IgnoreUnknown=1;MAC=02:00:00:00:00:02;K8S_POD_NAME=p', '02:00:00:00:00:03'],
      [l2({ mac: '02:00:00:00:00:01' }), 'MAC=02:00:00:00:00:02', '02:00:00:00:00:02'],
      [l2({ mac: '02:00:00:00:00:01' }), '', '02:00:00:00:00:01'],
    ];
    for (const [c, args, mac] of cases) {
      expect(added(ours('ADD', c, { args })).interfaces).toEqual([{ name: 'eth0', mac, sandbox: f.node.podNetnsPath }]);
      expect(linkIn(podNs(), 'eth0')?.address).toBe(mac);
      added(ours('DEL', c, { args }));
    }
    const bad = failed(ours('ADD', conf(), { args: 'MAC=zz:zz' }));
    expect(bad.msg).toBe('invalid args zz:zz for MAC addr: address zz:zz: invalid MAC address');
    expect(failed(reference('ADD', forReference(conf()), { args: 'MAC=zz:zz' })).msg).toBe(bad.msg);
    const unknownArg = failed(ours('ADD', conf(), { args: 'K8S_POD_NAME=foo' }));
    expect(unknownArg.msg).toBe('ARGS: unknown args ["K8S_POD_NAME=foo"]');
    expect(failed(reference('ADD', forReference(conf()), { args: 'K8S_POD_NAME=foo' })).msg).toBe(unknownArg.msg);
    expect(podLinkNames()).toEqual([]);
    expect(reservations()).toEqual([]);
  });

  it('checks the MTU against the master and the master itself, before creating anything', () => {
    for (const mtu of [9000, -1]) {
      const e = failed(ours('ADD', conf({ mtu })));
      expect(e).toMatchObject({ code: 7, msg: `invalid MTU ${mtu}, must be [0, master MTU(1500)]` });
      expect(failed(reference('ADD', forReference(conf({ mtu })))).msg).toBe(e.msg);
    }
    // The reference says only "Link not found"; we name the master.
    expect(failed(ours('ADD', conf({ master: 'nosuch0' }))).msg).toBe('failed to lookup master "nosuch0": Link not found');
    expect(failed(reference('ADD', forReference(conf({ master: 'nosuch0' })))).msg).toBe('Link not found');
    const noNetns = failed(ours('ADD', conf(), { netns: '/run/netns/none' }));
    expect(noNetns.msg).toBe('failed to open netns "/run/netns/none": failed to Statfs "/run/netns/none": no such file or directory');
    expect(failed(reference('ADD', forReference(conf()), { netns: '/run/netns/none' })).msg)
      .toMatch(/failed to Statfs "\/run\/netns\/none": no such file or directory$/);
    expect(added(ours('ADD', conf({ mtu: 1400 })))).toBeDefined();
    expect(linkIn(podNs(), 'eth0')?.mtu).toBe(1400);
    expect(reservations()).toEqual(['10.99.0.10']);
  });

  it('reports an existing CNI_IFNAME as the failed rename, leaving no temporary link in the pod or on the node', () => {
    ipIn(podNs(), 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1');
    const e = failed(ours('ADD', conf(), { ifName: 'eth1' }));
    expect(e.msg).toBe('failed to rename macvlan to "eth1": file exists');
    expect(podLinkNames()).toEqual(['eth1', 'peer1']);
    expect(linksIn(f.node.nodeNs).map((l) => l.ifname).sort()).toEqual(['lo', 'uplink0', 'uplink1']);
    expect(reservations()).toEqual([]);
  });

  it('takes a CNI_IFNAME that a node link also has, as the reference does, and leaves the node link alone', () => {
    // Older kernels look the name of a new link up where the request comes from (the node): our direct creation under
    // the final name is refused there, and the temporary-name way must take over (ipvlan-kernel.test.ts meets that on
    // Debian's 6.1; newer kernels look in the pod).
    ipIn(f.node.nodeNs, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1');
    added(ours('ADD', conf(), { ifName: 'eth1' }));
    expect(linkIn(podNs(), 'eth1')?.linkinfo?.info_kind).toBe('macvlan');
    expect(podLinkNames()).toEqual(['eth1']);
    expect(linkIn(f.node.nodeNs, 'eth1')?.linkinfo?.info_kind).toBe('veth');
    expect(reservations()).toEqual(['10.99.0.10']);
    expect(ours('DEL', conf(), { ifName: 'eth1' }).status).toBe(0);
    expect(podLinkNames()).toEqual([]);
  });

  it('removes the link when its MAC duplicates another macvlan of the same master', () => {
    const c = l2({ runtimeConfig: { mac: '02:00:00:00:00:77' } });
    added(ours('ADD', c, { ifName: 'eth1' }));
    expect(failed(ours('ADD', c, { ifName: 'eth2' })).msg).toBe('failed to set "eth2" UP: address already in use');
    expect(podLinkNames()).toEqual(['eth1']);
  });

  it('leaves no link and no address behind when IPAM fails, or when anything fails after it (the reference leaks the link)', () => {
    const missing = failed(ours('ADD', conf({ ipam: { type: 'nosuch-ipam' } })));
    expect(missing.msg).toBe(`failed to find plugin "nosuch-ipam" in path [${bin.dir} ${set.dir}]`);
    expect(podLinkNames()).toEqual([]);
    expect(existsSync(f.work.ipamDir)).toBe(false);

    // The address is reserved, then its route cannot be added: everything is undone.
    const badRoute = conf({ ipam: ipam({ routes: [{ dst: '10.50.0.0/16', gw: '192.168.7.1' }] }) });
    expect(failed(ours('ADD', badRoute)).msg).toBe('failed to add route 10.50.0.0/16 via 192.168.7.1 dev eth0: network is unreachable');
    expect(podLinkNames()).toEqual([]);
    expect(reservations()).toEqual([]);
    const sibling = f.node.addPod();
    expect(failed(reference('ADD', forReference(badRoute), { netns: `/var/run/netns/${sibling}` })).msg).toContain('network is unreachable');
    expect(podLinkNames(sibling)).toEqual(['eth0']);

    // A 0.2.0 result needs an address: the L2 link is removed again.
    expect(failed(ours('ADD', l2({ cniVersion: '0.2.0' }))).msg).toBe('cannot convert: no valid IP addresses');
    expect(podLinkNames()).toEqual([]);
  });

  it('DEL removes link and address, and succeeds again, without the netns, with an empty CNI_NETNS and without the master', () => {
    added(ours('ADD', conf()));
    added(ours('DEL', conf()));
    expect(podLinkNames()).toEqual([]);
    expect(reservations()).toEqual([]);
    expect(ours('DEL', conf())).toMatchObject({ status: 0, stdout: '' });

    // A pod whose namespace is gone, or not given: the address is released all the same.
    added(ours('ADD', conf()));
    expect(ours('DEL', conf(), { netns: `/run/netns/mt-gone-${f.node.id}` })).toMatchObject({ status: 0, stdout: '' });
    expect(reservations()).toEqual([]);
    added(ours('ADD', conf(), { ifName: 'net1' }));
    expect(ours('DEL', conf(), { netns: '', ifName: 'net1' })).toMatchObject({ status: 0, stdout: '' });
    expect(reservations()).toEqual([]);
    expect(podLinkNames()).toEqual(['eth0', 'net1']);
    added(ours('DEL', conf()));
    added(ours('DEL', conf(), { ifName: 'net1' }));
    expect(podLinkNames()).toEqual([]);

    added(ours('ADD', conf()));
    ipIn(f.node.nodeNs, 'link', 'del', 'uplink0');
    expect(ours('DEL', conf())).toMatchObject({ status: 0, stdout: '' });
    expect(reservations()).toEqual([]);

    const notANetns = join(f.work.dir, 'plain-file');
    writeFileSync(notANetns, '');
    expect(failed(ours('DEL', l2(), { netns: notANetns })).msg).toMatch(/^unknown FS magic on ".*plain-file": [0-9a-f]+$/);
  });

  it('CHECK passes on an intact attachment and names what changed, in the reference words', () => {
    const result = added(ours('ADD', conf()));
    const mac = (result.interfaces as Conf[])[0]!.mac as string;
    const check = (c: Conf, o: Partial<LinkCall> = {}) => ours('CHECK', c, o);
    const otherPod = `/var/run/netns/${f.node.addPod()}`;
    expect(check({ ...conf(), prevResult: result })).toMatchObject({ status: 0, stdout: '' });

    const cases: Array<[Conf, string, Partial<LinkCall>?]> = [
      [conf(), 'required prevResult missing'],
      [{ ...conf({ mode: 'vepa' }), prevResult: result }, 'container macvlan mode bridge does not match expected value: vepa'],
      [{ ...conf(), prevResult: { ...result, interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: f.node.podNetnsPath }] } },
        `interface eth0 Mac 02:00:00:00:00:01 doesn't match container Mac: ${mac}`],
      [{ ...conf(), prevResult: { ...result, ips: [...(result.ips as Conf[]), { interface: 0, address: '10.99.0.11/24' }] } },
        'Failed to match addr 10.99.0.11/24 on interface eth0'],
      [{ ...conf(), prevResult: { ...result, routes: [{ dst: '172.30.0.0/16', gw: '10.99.0.1' }] } },
        'Expected Route {Dst:{IP:172.30.0.0 Mask:ffff0000} GW:10.99.0.1} not found in routing table'],
      [{ ...conf(), prevResult: result }, `sandbox in prevResult  doesn't match configured netns: ${otherPod}`, { netns: otherPod }],
    ];
    for (const [c, msg, o] of cases) expect(failed(check(c, o)).msg).toBe(msg);

    ipIn(podNs(), 'route', 'del', 'default');
    expect(failed(check({ ...conf(), prevResult: result })).msg)
      .toBe('Expected Route {Dst:{IP:0.0.0.0 Mask:00000000} GW:<nil>} not found in routing table');
    expect(failed(check({ ...conf({ cniVersion: '0.3.1' }), prevResult: result })).code).toBe(1);
  });

  it('takes the default-route interface as master when none is configured', () => {
    const { master: _none, ...noMaster } = conf();
    expect(failed(ours('ADD', noMaster)).msg).toBe('no default route interface found');
    ipIn(f.node.nodeNs, 'addr', 'add', '10.5.0.2/24', 'dev', 'uplink1');
    ipIn(f.node.nodeNs, 'route', 'add', 'default', 'via', '10.5.0.1', 'dev', 'uplink1');
    added(ours('ADD', noMaster));
    expect(linkIn(podNs(), 'eth0')?.link_index).toBe(linkIn(f.node.nodeNs, 'uplink1')!.ifindex);
    // CHECK resolves the master the same way.
    expect(ours('CHECK', { ...noMaster, prevResult: added(ours('ADD', noMaster, { ifName: 'net1', containerId: 'c2' })) }, { ifName: 'net1', containerId: 'c2' }))
      .toMatchObject({ status: 0, stdout: '' });
  });

  it('with linkInContainer, finds the master in the pod and creates the link from there', () => {
    ipIn(podNs(), 'link', 'add', 'pm0', 'type', 'veth', 'peer', 'name', 'pm1');
    ipIn(podNs(), 'link', 'set', 'pm0', 'up');
    ipIn(podNs(), 'link', 'set', 'pm1', 'up');
    expect(failed(ours('ADD', conf({ linkInContainer: true }))).msg).toBe('failed to lookup master "uplink0": Link not found');
    const c = conf({ master: 'pm0', linkInContainer: true });
    const result = added(ours('ADD', c));
    expect(linkIn(podNs(), 'eth0')?.link).toBe('pm0');
    expect(ours('CHECK', { ...c, prevResult: result })).toMatchObject({ status: 0, stdout: '' });
    added(ours('DEL', c));
    expect(podLinkNames()).toEqual(['pm0', 'pm1']);
  });

  it('configures dual stack, enabling IPv6 in the pod and waiting for DAD before the IPv6 default route', () => {
    // A pod namespace where IPv6 starts disabled, as on nodes that turn it off by default.
    for (const key of ['all', 'default', 'lo']) sysctlWrite(podNs(), `net.ipv6.conf.${key}.disable_ipv6`, '1');
    const c = conf({ ipam: { type: 'host-local', dataDir: f.work.ipamDir, ranges: [[{ subnet: '10.95.0.0/24' }], [{ subnet: 'fd95::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] } });
    const result = added(ours('ADD', c));
    expect(result.ips).toEqual([
      { interface: 0, address: '10.95.0.2/24', gateway: '10.95.0.1' },
      { interface: 0, address: 'fd95::2/64', gateway: 'fd95::1' },
    ]);
    expect(sysctlIn(podNs(), 'net.ipv6.conf.lo.disable_ipv6')).toBe('0');
    expect(sysctlIn(podNs(), 'net.ipv6.conf.eth0.disable_ipv6')).toBe('0');
    const v6 = ipIn(podNs(), '-6', 'addr', 'show', 'dev', 'eth0');
    expect(v6).toContain('inet6 fd95::2/64 scope global');
    expect(v6).not.toMatch(/fd95::2\/64 scope global tentative/);
    expect(f.node.routes(podNs(), '-6')).toContainEqual(expect.objectContaining({ dst: 'default', gateway: 'fd95::1', dev: 'eth0' }));
    expect(ours('CHECK', { ...c, prevResult: result })).toMatchObject({ status: 0, stdout: '' });
  });

  it.skipIf(!isBuiltinPlugin('host-local'))('runs our own host-local in-process, and forwards STATUS and GC to it', () => {
    const withOurs = new PluginDir(true, set.dir);
    try {
      const run = (command: string, c: Conf, o: Partial<LinkCall> = {}) => ours(command, c, { cniPath: withOurs.cniPath, ...o });
      const c = conf({ cniVersion: '1.1.0' });
      expect(added(run('ADD', c)).ips).toEqual([{ interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' }]);
      expect(reservations()).toEqual(['10.99.0.10']);
      expect(run('STATUS', c, { containerId: '', netns: '', ifName: '' })).toMatchObject({ status: 0, stdout: '' });
      expect(run('GC', { ...c, 'cni.dev/valid-attachments': [{ containerID: 'ctr1', ifname: 'eth0' }] }, { containerId: '', netns: '', ifName: '' }))
        .toMatchObject({ status: 0, stdout: '' });
      added(run('DEL', c));
      expect(reservations()).toEqual([]);
    } finally {
      withOurs.remove();
    }
  });

  it('STATUS without IPAM is ready, and a configuration older than 1.1.0 cannot ask', () => {
    expect(ours('STATUS', l2({ cniVersion: '1.1.0' }), { containerId: '', netns: '' })).toMatchObject({ status: 0, stdout: '' });
    expect(failed(ours('STATUS', l2(), { containerId: '', netns: '' })).code).toBe(1);
  });

  if (set.cni11) it('answers STATUS like the reference, with and without IPAM, and for a version that cannot ask', () => {
    const noAttachment = { containerId: '', netns: '', ifName: '' };
    for (const c of [l2({ cniVersion: '1.1.0' }), conf({ cniVersion: '1.1.0' }), l2(), conf({ cniVersion: '1.1.0', ipam: { type: 'nosuch-ipam' } })]) {
      const mine = ours('STATUS', c, noAttachment);
      const theirs = reference('STATUS', forReference(c), noAttachment);
      const answer = (r: RunOutcome) => ({ status: r.status, code: r.json?.code, msg: String(r.json?.msg ?? '').replace(bin.dir + ' ', '') });
      expect(answer(mine), JSON.stringify(c)).toEqual(answer(theirs));
    }
  });
});

function sysctlWrite(ns: string, key: string, value: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`]);
}
