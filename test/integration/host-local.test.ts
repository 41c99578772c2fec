import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execPluginSync, type PluginCall } from '../helpers/plugin-exec';
import { uniqueId, ourPluginFixture } from '../helpers/multus';

// Our executable as `host-local`, run the way a runtime runs it. cni-contracts.md 8.A, 8.B, 8.C; expected values are
// what the reference 1.1.1 printed for the same calls (the compat test compares with it directly).

describe('host-local executable', () => {
  const f = ourPluginFixture('host-local');

  /** A network of its own for each test, so that tests never share a range. */
  function network(ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const name = `hl-${uniqueId()}`;
    const conf = { cniVersion: '1.0.0', name, ipam: { type: 'host-local', dataDir: f.work.ipamDir, ...ipam }, ...extra };
    const dir = join(f.work.ipamDir, name);
    const call = (command: string, containerId: string, o: Partial<PluginCall> = {}) =>
      execPluginSync(f.bin, { command, containerId, netns: f.work.fakeNetns, conf, ...o });
    const add = (containerId: string, o: Partial<PluginCall> = {}) => call('ADD', containerId, o);
    const addresses = (containerId: string, o: Partial<PluginCall> = {}) => {
      const r = add(containerId, o);
      expect(r.status, r.stdout).toBe(0);
      return (r.json!.ips as Array<{ address: string }>).map((i) => i.address);
    };
    const files = () => (existsSync(dir) ? readdirSync(dir).sort() : []);
    return { conf, dir, call, add, addresses, files };
  }

  function failure(r: ReturnType<typeof execPluginSync>): { code: unknown; msg: unknown } {
    expect(r.status).toBe(1);
    return { code: r.json?.code, msg: r.json?.msg };
  }

  it('answers VERSION and tells what it is without CNI_COMMAND', () => {
    const v = execPluginSync(f.bin, { command: 'VERSION', conf: '' });
    expect(v.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
    const about = execPluginSync(f.bin, { command: '', conf: '' });
    expect(about.status).toBe(0);
    expect(about.stdout).toBe('');
    expect(about.stderr).toMatch(/^CNI host-local plugin/);
  });

  it('writes the reference store (scenario 25), with our modes', () => {
    const n = network({ subnet: '10.77.0.0/29' });
    expect(n.addresses('ctr-a')).toEqual(['10.77.0.2/29']);
    const b = n.add('ctr-b');
    expect(b.json).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.77.0.3/29', gateway: '10.77.0.1' }] });
    expect(n.files()).toEqual(['10.77.0.2', '10.77.0.3', 'last_reserved_ip.0', 'lock']);
    expect(readFileSync(join(n.dir, '10.77.0.2'))).toEqual(Buffer.from('ctr-a\r\neth0'));
    expect(readFileSync(join(n.dir, 'last_reserved_ip.0'))).toEqual(Buffer.from('10.77.0.3'));
    const mode = (f: string) => statSync(join(n.dir, f)).mode & 0o777;
    const umask = process.umask();
    expect([mode('10.77.0.2'), mode('10.77.0.3'), mode('last_reserved_ip.0')]).toEqual(Array(3).fill(0o600 & ~umask));
    expect(mode('lock')).toBe(0o750 & ~umask);
    expect(statSync(join(n.dir, 'lock')).size).toBe(0);
    expect(statSync(n.dir).mode & 0o777).toBe(0o755 & ~umask);
  });

  it('prints the result in every version (scenarios 16-19)', () => {
    const routes = [{ dst: '0.0.0.0/0' }, { dst: '::/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }];
    const n = network({ ranges: [[{ subnet: '10.78.0.0/24' }], [{ subnet: 'fd99:1::/64' }]], routes });
    const withVersion = (v: string | undefined) => ({ ...n.conf, cniVersion: v });
    expect(n.add('v010', { conf: withVersion(undefined) }).json).toEqual({
      cniVersion: '0.1.0',
      ip4: { ip: '10.78.0.2/24', gateway: '10.78.0.1', routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }] },
      ip6: { ip: 'fd99:1::2/64', gateway: 'fd99:1::1', routes: [{ dst: '::/0' }] },
      dns: {},
    });
    expect(n.add('v020', { conf: withVersion('0.2.0') }).json?.cniVersion).toBe('0.2.0');
    for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
      expect(n.add(`v${v}`, { conf: withVersion(v) }).json).toEqual({
        cniVersion: v,
        ips: [{ version: '4', address: expect.stringMatching(/^10\.78\.0\.\d+\/24$/), gateway: '10.78.0.1' },
          { version: '6', address: expect.stringMatching(/^fd99:1::\d+\/64$/), gateway: 'fd99:1::1' }],
        routes,
        dns: {},
      });
    }
    for (const v of ['1.0.0', '1.1.0']) {
      const r = n.add(`v${v}`, { conf: withVersion(v) }).json!;
      expect(r).toEqual({ cniVersion: v, ips: [expect.objectContaining({ gateway: '10.78.0.1' }), expect.objectContaining({ gateway: 'fd99:1::1' })], routes });
      expect((r.ips as Array<Record<string, unknown>>)[0]).not.toHaveProperty('version');
    }
  });

  it('refuses two IPv4 sets before 0.3.0 (scenario 20)', () => {
    const n = network({ ranges: [[{ subnet: '10.61.0.0/24' }], [{ subnet: '10.62.0.0/24' }]] }, { cniVersion: '0.2.0' });
    expect(failure(n.add('x'))).toEqual({ code: 999, msg: 'CNI version 0.2.0 does not support more than 1 address per family' });
  });

  it('applies CNI_ARGS rules and creates nothing on an argument error (scenarios 13-15)', () => {
    const n = network({ subnet: '10.79.0.0/24' });
    expect(failure(n.add('a1', { args: 'K8S_POD_NAME=foo' }))).toEqual({ code: 999, msg: 'ARGS: unknown args ["K8S_POD_NAME=foo"]' });
    expect(failure(n.add('a1', { args: 'IP=10.79.0.300' }))).toEqual(
      { code: 999, msg: 'ARGS: error parsing value of pair "IP=10.79.0.300": invalid IP address 10.79.0.300' });
    expect(n.files()).toEqual([]);
    const kubelet = 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=x;K8S_POD_UID=u';
    expect(n.addresses('a1', { args: kubelet })).toEqual(['10.79.0.2/24']);
    // DEL does not use CNI_ARGS, so arguments it would refuse do not stop a release.
    expect(n.call('DEL', 'a1', { args: 'K8S_POD_NAME=foo' }).status).toBe(0);
    expect(n.files()).toEqual(['last_reserved_ip.0', 'lock']);
  });

  it('hands out requested addresses from all three sources (scenarios 36-37)', () => {
    const ranges = [[{ subnet: '10.79.0.0/24', rangeStart: '10.79.0.10', rangeEnd: '10.79.0.20' }], [{ subnet: 'fd79::/64' }]];
    const n = network({ ranges });
    expect(n.addresses('r1', { args: 'IP=10.79.0.15' })).toEqual(['10.79.0.15/24', 'fd79::2/64']);
    expect(n.addresses('r2', { args: 'IP=10.79.0.17/24' })).toEqual(['10.79.0.17/24', 'fd79::3/64']);
    expect(n.addresses('r3', { conf: { ...n.conf, args: { cni: { ips: ['10.79.0.19', 'fd79::99'] } } } })).toEqual(['10.79.0.19/24', 'fd79::99/64']);
    expect(n.addresses('r4', { conf: { ...n.conf, runtimeConfig: { ips: ['10.79.0.12/24'] } } })).toEqual(['10.79.0.12/24', 'fd79::9a/64']);
    expect(failure(n.add('r5', { args: 'IP=10.79.0.15' }))).toEqual(
      { code: 999, msg: 'failed to allocate for range 0: requested IP address 10.79.0.15 is not available in range set 10.79.0.10-10.79.0.20' });
    expect(failure(n.add('r5', { args: 'IP=10.79.0.50' }))).toEqual({ code: 999, msg: 'failed to allocate all requested IPs: 10.79.0.50' });
    expect(failure(n.add('r5', { conf: { ...n.conf, runtimeConfig: { ips: ['10.79.0.13', '10.79.0.14'] } } }))).toEqual(
      { code: 999, msg: 'failed to allocate all requested IPs: 10.79.0.14' });
    expect(n.files().filter((f) => f.startsWith('10.'))).toEqual(['10.79.0.12', '10.79.0.15', '10.79.0.17', '10.79.0.19']);
  });

  it('handles gateways, edge ranges, IPv6 defaults and multi-subnet sets (scenarios 33-35, 41)', () => {
    expect(network({ subnet: '10.82.0.0/24', gateway: '10.82.0.254' }).addresses('g')).toEqual(['10.82.0.1/24']);
    expect(failure(network({ subnet: '10.81.0.0/24' }).add('g', { args: 'IP=10.81.0.1' })).msg)
      .toBe("failed to allocate for range 0: requested ip 10.81.0.1 is subnet's gateway");
    expect(network({ subnet: '10.84.0.0/24', rangeStart: '10.84.0.0' }).addresses('e')).toEqual(['10.84.0.0/24']);
    expect(network({ subnet: '10.85.0.0/24', rangeStart: '10.85.0.255', rangeEnd: '10.85.0.255' }).addresses('e')).toEqual(['10.85.0.255/24']);
    const outside = network({ subnet: '10.83.0.0/24', gateway: '192.168.1.1' }).add('e');
    expect(outside.json?.ips).toEqual([{ address: '10.83.0.1/24', gateway: '192.168.1.1' }]);

    const v6 = network({ subnet: 'fd86::/120', rangeStart: 'fd86::fe' });
    expect([v6.addresses('a'), v6.addresses('b')]).toEqual([['fd86::fe/120'], ['fd86::ff/120']]);
    expect(failure(v6.add('c')).msg).toBe('failed to allocate for range 0: no IP addresses available in range set: fd86::fe-fd86::ff');

    const multi = network({ ranges: [[{ subnet: '10.61.0.0/30' }, { subnet: '10.62.0.0/30' }]] });
    expect(multi.addresses('a')).toEqual(['10.61.0.2/30']);
    expect(multi.add('b').json?.ips).toEqual([{ address: '10.62.0.2/30', gateway: '10.62.0.1' }]);
    expect(failure(multi.add('c')).msg).toBe('failed to allocate for range 0: no IP addresses available in range set: 10.61.0.1-10.61.0.2,10.62.0.1-10.62.0.2');
  });

  it('puts runtimeConfig.ipRanges first (scenario 40)', () => {
    const n = network({ ranges: [[{ subnet: 'fd60::/64' }]] }, { runtimeConfig: { ipRanges: [[{ subnet: '10.60.0.0/24' }]] } });
    expect(n.addresses('x')).toEqual(['10.60.0.2/24', 'fd60::2/64']);
    expect(readFileSync(join(n.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.60.0.2');
  });

  it('turns resolvConf into dns, and fails on a missing file before touching the store (scenario 39)', () => {
    const resolv = join(f.work.dir, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 10.0.0.53\nnameserver 10.0.0.54\ndomain example.com\nsearch a b\noptions x y\n');
    expect(network({ subnet: '10.86.0.0/24', resolvConf: resolv }).add('d').json?.dns).toEqual(
      { nameservers: ['10.0.0.53', '10.0.0.54'], domain: 'example.com', search: ['a', 'b'], options: ['x', 'y'] });
    const missing = network({ subnet: '10.87.0.0/24', resolvConf: join(f.work.dir, 'nope') });
    expect(failure(missing.add('d'))).toEqual({ code: 999, msg: `open ${join(f.work.dir, 'nope')}: no such file or directory` });
    expect(existsSync(missing.dir)).toBe(false);
  });

  it('checks and deletes by container and interface (scenarios 29, 42, 43)', () => {
    const n = network({ subnet: '10.88.0.0/24' });
    const fresh = n.call('DEL', 'never', { netns: '' });
    expect([fresh.status, fresh.stdout]).toEqual([0, '']);
    // Nothing to release, and nothing created (the reference creates the directory and its lock file).
    expect(existsSync(n.dir)).toBe(false);
    expect(failure(n.call('CHECK', 'never', { conf: { ...n.conf, cniVersion: '0.4.0' } })))
      .toEqual({ code: 999, msg: 'host-local: Failed to find address added by container never' });
    expect(existsSync(n.dir)).toBe(false);
    n.addresses('ctr-c');
    n.addresses('ctr-d');
    const check = n.call('CHECK', 'ctr-c', { conf: { ...n.conf, cniVersion: '0.4.0' } });
    expect([check.status, check.stdout]).toEqual([0, '']);
    expect(failure(n.call('CHECK', 'ctr-nope'))).toEqual({ code: 999, msg: 'host-local: Failed to find address added by container ctr-nope' });
    expect(n.call('DEL', 'ctr-d', { ifName: 'eth9' }).status).toBe(0);
    expect(n.call('DEL', 'ctr-c', { netns: '' }).status).toBe(0);
    expect(n.call('DEL', 'ctr-c').status).toBe(0);
    expect(n.files()).toEqual(['10.88.0.3', 'last_reserved_ip.0', 'lock']);
    expect(readFileSync(join(n.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.88.0.3');
  });

  it('answers STATUS and garbage-collects with conf 1.1.0', () => {
    const n = network({ subnet: '10.89.0.0/24' }, { cniVersion: '1.1.0' });
    for (const id of ['keep', 'gone']) n.addresses(id);
    const status = execPluginSync(f.bin, { command: 'STATUS', conf: n.conf });
    expect([status.status, status.stdout]).toEqual([0, '']);
    const noList = execPluginSync(f.bin, { command: 'GC', conf: n.conf });
    expect([noList.status, noList.stdout]).toEqual([0, '']);
    expect(n.files()).toEqual(['10.89.0.2', '10.89.0.3', 'last_reserved_ip.0', 'lock']);
    const valid = [{ containerID: 'keep', ifname: 'eth0' }];
    const gc = execPluginSync(f.bin, { command: 'GC', conf: { ...n.conf, 'cni.dev/valid-attachments': valid, 'cni.dev/attachments': valid } });
    expect([gc.status, gc.stdout]).toEqual([0, '']);
    expect(n.files()).toEqual(['10.89.0.2', 'last_reserved_ip.0', 'lock']);
    expect(failure(execPluginSync(f.bin, { command: 'GC', conf: { ...n.conf, cniVersion: '1.0.0' } })).code).toBe(1);
  });

  it('refuses invalid configuration with the reference message (scenario 38)', () => {
    expect(failure(network({ subnet: '10.1.0.0/31' }).add('x'))).toEqual(
      { code: 999, msg: 'invalid range set 0: Network 10.1.0.0/31 too small to allocate from' });
    const noIpam = execPluginSync(f.bin, { command: 'ADD', containerId: 'x', netns: f.work.fakeNetns, conf: { cniVersion: '1.0.0', name: 'hl-noipam' } });
    expect(failure(noIpam)).toEqual({ code: 999, msg: "IPAM config missing 'ipam' key" });
  });
});
