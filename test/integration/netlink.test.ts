import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { ROOT } from '../helpers/multus';
import { ipIn, linkIn, sysctlIn } from '../helpers/link-plugins';
import { Rtnl, withRtnl } from '../../src/netlink/rtnl';
import { macvlanLinkInfo } from '../../src/netlink/link-info';
import { defaultRouteInterface } from '../../src/netlink/default-route';
import { LinkNotFoundError, NetlinkError } from '../../src/netlink/errors';
import { readSysctl, writeSysctl, writeSysctlsIn } from '../../src/netlink/sysctl';
import { RT_TABLE_MAIN } from '../../src/netlink/messages';

// Every socket here is opened inside a test namespace: the host's own network is never touched.
describe.skipIf(!canUseNamespaces)('the netlink layer, in real namespaces', () => {
  let node: TestNode;
  let nodeNs: string;
  beforeEach(() => {
    node = new TestNode();
    nodeNs = `/run/netns/${node.nodeNs}`;
  });
  afterEach(() => node.destroy());

  /** A macvlan on uplink0 created from the node straight into the pod under `name`. */
  async function macvlanInPod(name: string, mode: 'bridge' | 'vepa' = 'bridge'): Promise<void> {
    await withRtnl(nodeNs, async (nl) => {
      const master = await nl.linkByName('uplink0');
      const netnsFd = openSync(node.podNetnsPath, 'r');
      try {
        await nl.createLink({ name, parentIndex: master.index, netnsFd, mtu: 1400, mac: Buffer.from('020000000042', 'hex'), linkInfo: macvlanLinkInfo(mode) });
      } finally {
        closeSync(netnsFd);
      }
    });
  }

  it('finds links by name and index, and names the link it cannot find', async () => {
    await withRtnl(nodeNs, async (nl) => {
      const up = await nl.linkByName('uplink0');
      expect(up).toMatchObject({ name: 'uplink0', mtu: 1500, up: true });
      expect(up.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect((await nl.linkByIndex(up.index)).name).toBe('uplink0');
      expect((await nl.links()).map((l) => l.name).sort()).toEqual(['lo', 'uplink0', 'uplink1']);
      expect(await nl.findLink('nosuch0')).toBeUndefined();
      const err = await nl.linkByName('nosuch0').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LinkNotFoundError);
      expect((err as LinkNotFoundError).reason).toBe('Link not found');
      expect((err as Error).message).toBe('failed to find link "nosuch0": Link not found');
    });
  });

  it('creates a macvlan directly in the pod namespace (IFLA_NET_NS_FD), then renames and configures it there', async () => {
    await macvlanInPod('vethtest0001', 'vepa');
    expect(linkIn(node.nodeNs, 'vethtest0001')).toBeUndefined();
    const created = linkIn(node.podNs, 'vethtest0001');
    expect(created).toMatchObject({ mtu: 1400, address: '02:00:00:00:00:42', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'vepa' } } });

    await withRtnl(node.podNetnsPath, async (nl) => {
      const tmp = await nl.linkByName('vethtest0001');
      expect(tmp.up).toBe(false);
      await nl.setLink(tmp, { name: 'net1' });
      const link = await nl.linkByIndex(tmp.index);
      expect(link.name).toBe('net1');
      await nl.setLink(link, { mtu: 1300, mac: Buffer.from('020000000043', 'hex') });
      await nl.setLink(link, { up: true });
      await nl.addAddress(link, '10.1.0.2/24');
      await nl.addAddress(link, 'fd01::2/64');
      const addrs = (await nl.addresses(link.index)).map((a) => `${a.ip}/${a.prefixLen}`);
      expect(addrs).toEqual(expect.arrayContaining(['10.1.0.2/24', 'fd01::2/64']));
      expect((await nl.addresses(link.index, 4)).map((a) => a.ip)).toEqual(['10.1.0.2']);

      const err = await nl.addAddress(link, '10.1.0.2/24').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetlinkError);
      expect((err as Error).message).toBe('failed to add address 10.1.0.2/24 to net1: file exists');

      await nl.deleteAddress(link, 'fd01::2/64');
      expect((await nl.addresses(link.index, 6)).map((a) => a.ip)).not.toContain('fd01::2');
    });
    const net1 = linkIn(node.podNs, 'net1');
    expect(net1).toMatchObject({ mtu: 1300, address: '02:00:00:00:00:43' });
    expect(net1!.flags).toContain('UP');
    expect(ipIn(node.podNs, '-4', 'addr', 'show', 'net1')).toContain('inet 10.1.0.2/24 brd 10.1.0.255');
  });

  it('refuses a rename onto an existing name with the kernel error, naming both names', async () => {
    await macvlanInPod('vethtest0002');
    await withRtnl(node.podNetnsPath, async (nl) => {
      const link = await nl.linkByName('vethtest0002');
      const err = await nl.setLink(link, { name: 'lo' }).catch((e: unknown) => e);
      expect((err as NetlinkError).reason).toBe('file exists');
      expect((err as Error).message).toBe('failed to rename vethtest0002 to lo: file exists');
      await nl.deleteLink(link);
      expect(await nl.findLink('vethtest0002')).toBeUndefined();
    });
  });

  it('reads a dump that spans many reads whole, and the socket answers the next request after it', async () => {
    // 600 addresses are about 45 kB of replies: the kernel sends a dump in parts of at most 32 kB, each read apart.
    const ips = Array.from({ length: 600 }, (_, i) => `10.77.${i >> 8}.${i & 255}`);
    execFileSync('ip', ['-n', node.nodeNs, '-batch', '-'], { input: ips.map((ip) => `addr add ${ip}/32 dev uplink1\n`).join('') });
    await withRtnl(nodeNs, async (nl) => {
      const uplink1 = await nl.linkByName('uplink1');
      expect((await nl.addresses(uplink1.index, 4)).map((a) => a.ip)).toEqual(ips);
      expect((await nl.linkByIndex(uplink1.index)).name).toBe('uplink1');
    });
  });

  it('adds a default route via a gateway on an interface, lists it, and deletes the default routes of that interface', async () => {
    await macvlanInPod('net1');
    await withRtnl(node.podNetnsPath, async (nl) => {
      const link = await nl.linkByName('net1');
      await nl.setLink(link, { up: true });
      await nl.addAddress(link, '10.2.0.5/24');
      await nl.addRoute({ dst: '0.0.0.0/0', gw: '10.2.0.1', oif: link.index }, link.name);
      await nl.addRoute({ dst: '172.16.0.0/12', gw: '10.2.0.254', oif: link.index, priority: 50 }, link.name);
      const err = await nl.addRoute({ dst: '0.0.0.0/0', gw: '10.2.0.1', oif: link.index }, link.name).catch((e: unknown) => e);
      expect((err as Error).message).toBe('failed to add route 0.0.0.0/0 via 10.2.0.1 dev net1: file exists');
      const unreachable = await nl.addRoute({ dst: '10.50.0.0/16', gw: '192.168.7.1', oif: link.index }, link.name).catch((e: unknown) => e);
      expect((unreachable as NetlinkError).reason).toBe('network is unreachable');

      const main = (await nl.routes(4)).filter((r) => r.table === RT_TABLE_MAIN);
      expect(main).toContainEqual(expect.objectContaining({ dst: '0.0.0.0/0', gw: '10.2.0.1', oif: link.index }));
      expect(main).toContainEqual(expect.objectContaining({ dst: '172.16.0.0/12', gw: '10.2.0.254', priority: 50 }));
      expect(await defaultRouteInterface(nl)).toBe('net1');

      for (const r of main.filter((r) => r.dstLen === 0 && r.oif === link.index)) {
        await nl.deleteRoute({ dst: r.dst, gw: r.gw, oif: link.index, table: r.table }, link.name);
      }
      expect((await nl.routes(4)).filter((r) => r.table === RT_TABLE_MAIN && r.dstLen === 0)).toEqual([]);
      const again = await nl.deleteRoute({ dst: '0.0.0.0/0', oif: link.index }, link.name).catch((e: unknown) => e);
      expect((again as NetlinkError).reason).toBe('no such process');
    });
    expect(ipIn(node.podNs, 'route', 'show')).not.toContain('default');
  });

  describe('the default-route interface (the master when none is configured)', () => {
    beforeEach(() => {
      execFileSync('ip', ['-n', node.nodeNs, 'link', 'add', 'alt0', 'type', 'veth', 'peer', 'name', 'alt1']);
      for (const [dev, addr] of [['uplink0', '10.5.0.2/24'], ['alt0', '10.6.0.2/24'], ['alt1', '10.7.0.2/24']]) {
        ipIn(node.nodeNs, 'link', 'set', dev!, 'up');
        ipIn(node.nodeNs, 'addr', 'add', addr!, 'dev', dev!);
      }
    });
    const pick = () => withRtnl(nodeNs, (nl) => defaultRouteInterface(nl));

    it('is an error without any default route, or with one only outside the main table', async () => {
      await expect(pick()).rejects.toThrow('no default route interface found');
      ipIn(node.nodeNs, 'route', 'add', 'default', 'via', '10.5.0.1', 'table', '100');
      await expect(pick()).rejects.toThrow('no default route interface found');
    });

    it('takes the lowest metric first, IPv4 before IPv6, and device-only routes', async () => {
      ipIn(node.nodeNs, 'route', 'add', 'default', 'via', '10.5.0.1', 'metric', '200');
      ipIn(node.nodeNs, 'route', 'add', 'default', 'via', '10.6.0.1', 'metric', '100');
      expect(await pick()).toBe('alt0');
      ipIn(node.nodeNs, 'route', 'flush', 'default');
      ipIn(node.nodeNs, '-6', 'route', 'add', 'default', 'dev', 'alt1');
      expect(await pick()).toBe('alt1');
      ipIn(node.nodeNs, 'route', 'add', 'default', 'dev', 'uplink0');
      expect(await pick()).toBe('uplink0');
    });

    it('fails like the reference (invalid argument) for a multipath default', async () => {
      ipIn(node.nodeNs, 'route', 'add', 'default', 'nexthop', 'via', '10.5.0.1', 'dev', 'uplink0', 'nexthop', 'via', '10.6.0.1', 'dev', 'alt0');
      await expect(pick()).rejects.toThrow(/invalid argument$/);
    });
  });

  it('reads and writes sysctls of the pod namespace, not of the caller', async () => {
    await macvlanInPod('net1');
    expect(readSysctl('net/ipv4/conf/net1/arp_notify', node.podNetnsPath)).toBe('0');
    writeSysctl('net/ipv4/conf/net1/arp_notify', '1', node.podNetnsPath);
    expect(sysctlIn(node.podNs, 'net.ipv4.conf.net1.arp_notify')).toBe('1');
    expect(() => readSysctl('net/ipv4/conf/net1/arp_notify', nodeNs)).toThrow(/ENOENT/);
  });

  it('writes several sysctls of the pod through its open fd in one visit, naming each that failed', async () => {
    await macvlanInPod('net1');
    const home = readlinkSync('/proc/thread-self/ns/net');
    const fd = openSync(node.podNetnsPath, 'r');
    try {
      const failed = writeSysctlsIn(fd, ['net/ipv4/conf/net1/arp_notify', 'net/ipv4/conf/nosuch/arp_notify', 'net/ipv6/conf/net1/ndisc_notify'], '1');
      expect(failed).toEqual([{ key: 'net/ipv4/conf/nosuch/arp_notify', reason: 'no such file or directory' }]);
    } finally {
      closeSync(fd);
    }
    expect(sysctlIn(node.podNs, 'net.ipv4.conf.net1.arp_notify')).toBe('1');
    expect(sysctlIn(node.podNs, 'net.ipv6.conf.net1.ndisc_notify')).toBe('1');
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(home);
    // Not a namespace: nothing entered, and this thread still at home.
    const notNs = openSync('/proc/self/stat', 'r');
    try {
      expect(() => writeSysctlsIn(notNs, ['net/ipv4/conf/net1/arp_notify'], '0')).toThrow(/setns/);
    } finally {
      closeSync(notNs);
    }
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(home);
  });

  it('returns the created link as the kernel echoes it to a socket on the same port in the pod, else nothing', async () => {
    const netnsFd = openSync(node.podNetnsPath, 'r');
    try {
      await withRtnl(nodeNs, async (host) => {
        const master = await host.linkByName('uplink0');
        const link = (name: string) => ({ name, parentIndex: master.index, netnsFd, mtu: 0, linkInfo: macvlanLinkInfo('bridge') });
        // Two sockets in the pod: the first took this process's pid as its port, as the node's socket did.
        await withRtnl(node.podNetnsPath, async (pod) => withRtnl(node.podNetnsPath, async (otherPort) => {
          const echoed = await host.createLink(link('echo1'), pod);
          expect(echoed).toEqual(await pod.linkByName('echo1'));
          expect(echoed!.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
          // The echo goes to the requester's port number: a socket on another port gets none, and the caller looks up.
          expect(await host.createLink(link('echo2'), otherPort)).toBeUndefined();
          expect(await host.createLink(link('echo3'))).toBeUndefined();
          expect(linkIn(node.podNs, 'echo2')).toBeDefined();
          expect(linkIn(node.podNs, 'echo3')).toBeDefined();
          // Created from the pod's own socket: echoed to it.
          const podMaster = await pod.linkByName('echo3');
          const local = await pod.createLink({ name: 'echo4', parentIndex: podMaster.index, netnsFd, mtu: 0, linkInfo: macvlanLinkInfo('bridge') }, pod);
          expect(local).toEqual(await pod.linkByName('echo4'));
          // A refusal is still thrown, echo or not.
          await expect(host.createLink(link('echo1'), pod)).rejects.toThrow('failed to create link echo1: file exists');
        }));
      });
    } finally {
      closeSync(netnsFd);
    }
  });

  it('sends a batch in one write, checks every answer and throws the first refusal naming its request', async () => {
    await macvlanInPod('net1');
    await withRtnl(node.podNetnsPath, async (nl) => {
      const link = await nl.linkByName('net1');
      await nl.batch().addAddress(link, '10.9.0.2/24').setLink(link, { up: true })
        .addRoute({ dst: '10.10.0.0/16', gw: '10.9.0.1', oif: link.index }, 'net1').run();
      expect(ipIn(node.podNs, '-4', '-o', 'addr', 'show', 'dev', 'net1')).toContain('10.9.0.2/24');
      expect(linkIn(node.podNs, 'net1')!.flags).toContain('UP');
      expect(ipIn(node.podNs, 'route', 'show', '10.10.0.0/16')).toContain('via 10.9.0.1');
      // The second of three is refused (the address is there already): its error, by its own description; the third
      // is still handled by the kernel.
      const err = await nl.batch().addAddress(link, '10.9.0.3/24').addAddress(link, '10.9.0.2/24').addAddress(link, '10.9.0.4/24').run()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetlinkError);
      expect((err as Error).message).toBe('failed to add address 10.9.0.2/24 to net1: file exists');
      expect(ipIn(node.podNs, '-4', '-o', 'addr', 'show', 'dev', 'net1')).toContain('10.9.0.4/24');
      // A request's own error for it, when it has one.
      const wrapped = await nl.batch().setLink(link, { mtu: 99999 }, (e) => new Error(`wrapped: ${e.reason}`)).run().catch((e: unknown) => e);
      expect((wrapped as Error).message).toBe('wrapped: invalid argument');
      // More than one write's worth: all 20 sent and checked.
      const many = nl.batch();
      for (let i = 0; i < 20; i++) many.addAddress(link, `10.11.0.${i + 1}/32`);
      await many.run();
      expect(ipIn(node.podNs, '-4', '-o', 'addr', 'show', 'dev', 'net1').match(/10\.11\.0\./g)).toHaveLength(20);
    });
  });

  it('leaves this thread in its own namespace after every call, failed ones included', async () => {
    const home = readlinkSync('/proc/thread-self/ns/net');
    await withRtnl(node.podNetnsPath, async (nl) => {
      expect(readlinkSync('/proc/thread-self/ns/net')).toBe(home);
      await nl.linkByName('nosuch').catch(() => undefined);
    });
    await expect(withRtnl(node.podNetnsPath, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(() => Rtnl.open('/run/netns/does-not-exist')).toThrow(/does-not-exist/);
    expect(() => writeSysctl('net/ipv4/conf/nosuch/arp_notify', '1', node.podNetnsPath)).toThrow();
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(home);
  });

  it('does not keep the process alive: a socket left open lets node exit once its requests are answered', () => {
    const script = `const { Rtnl } = require(${JSON.stringify(join(ROOT, 'dist/netlink/rtnl.js'))});
      Rtnl.open(${JSON.stringify(nodeNs)}).linkByName('uplink0').then((l) => console.log(l.name));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('uplink0');
    expect(r.status).toBe(0);
  });
});
