import { describe, it, expect } from 'vitest';
import { parseResult } from '../../src/cni/result';
import { networkStatusAnnotation, networkStatusEntries } from '../../src/k8s/network-status';
import { caught } from '../helpers/caught';

const SANDBOX = '/var/run/netns/pod1';

describe('networkStatusEntries', () => {
  it('gives a single-interface result one entry with bare IPs, mac, mtu, dns and gateway', () => {
    const result = parseResult({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'net1', mac: 'c2:b0:57:49:47:f1', mtu: 1400, sandbox: SANDBOX }],
      ips: [{ address: '10.1.1.5/24', gateway: '10.1.1.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }, { dst: '10.2.0.0/16', gw: '10.1.1.254' }],
      dns: { nameservers: ['10.1.1.53'], search: ['example.org'] },
    }, '1.0.0');
    expect(networkStatusEntries(result, 'default/macvlan-conf', false)).toEqual([{
      name: 'default/macvlan-conf',
      interface: 'net1',
      ips: ['10.1.1.5'],
      mac: 'c2:b0:57:49:47:f1',
      mtu: 1400,
      dns: { nameservers: ['10.1.1.53'], search: ['example.org'] },
      gateway: ['10.1.1.1'],
    }]);
  });

  it('marks the default network\'s entry', () => {
    const result = parseResult({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: SANDBOX }], ips: [{ address: '10.1.1.5/24', interface: 0 }] }, '1.0.0');
    expect(networkStatusEntries(result, 'kindnet', true)).toEqual([{ name: 'kindnet', interface: 'eth0', ips: ['10.1.1.5'], default: true, dns: {} }]);
  });

  it('leaves out host-side interfaces, as in a bridge result', () => {
    const result = parseResult({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }, { name: 'veth1', mac: '0a:00:00:00:00:02' }, { name: 'eth0', mac: '0a:00:00:00:00:03', sandbox: SANDBOX }],
      ips: [{ version: '4', address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 2 }],
      routes: [{ dst: '0.0.0.0/0' }],
    }, '0.4.0');
    expect(networkStatusEntries(result, 'cbr0', true)).toEqual([{
      name: 'cbr0', interface: 'eth0', ips: ['10.244.0.7'], mac: '0a:00:00:00:00:03', default: true, dns: {}, gateway: ['10.244.0.1'],
    }]);
  });

  it('gives each pod interface its own entry and addresses, default on the gateway\'s (Multus scenario 51)', () => {
    const result = parseResult({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'host0' }, { name: 'net1', mac: '02:00:00:00:00:01', sandbox: SANDBOX }, { name: 'net2', mac: '02:00:00:00:00:02', sandbox: SANDBOX }],
      ips: [
        { address: '10.1.1.5/24', interface: 1 },
        { address: '10.2.2.5/24', gateway: '10.2.2.1', interface: 2 },
        { address: '10.3.3.5/24' },
        { address: '10.9.9.9/24', interface: 0 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.2.2.1' }],
    }, '1.0.0');
    const entries = networkStatusEntries(result, 'ns/multi', true);
    expect(entries).toEqual([
      { name: 'ns/multi', interface: 'net1', ips: ['10.1.1.5'], mac: '02:00:00:00:00:01', dns: {}, gateway: ['10.2.2.1'] },
      // The address without an index goes to the last pod interface; the host interface's address is not the pod's.
      { name: 'ns/multi', interface: 'net2', ips: ['10.2.2.5', '10.3.3.5'], mac: '02:00:00:00:00:02', default: true, dns: {}, gateway: ['10.2.2.1'] },
    ]);
    expect(networkStatusEntries(result, 'ns/multi', false).some((e) => e.default)).toBe(false);
  });

  it('marks the first pod interface when no address has a gateway', () => {
    const result = parseResult({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'a', sandbox: SANDBOX }, { name: 'b', sandbox: SANDBOX }],
      ips: [{ address: '10.1.1.5/24', interface: 1 }],
    }, '1.0.0');
    expect(networkStatusEntries(result, 'x', true).map((e) => [e.interface, e.default])).toEqual([['a', true], ['b', undefined]]);
  });

  it('still gives a minimal entry for a result without interfaces (0.2.0; Multus scenario 50)', () => {
    const result = parseResult({
      cniVersion: '0.2.0',
      ip4: { ip: '10.1.1.5/24', gateway: '10.1.1.1', routes: [{ dst: '0.0.0.0/0' }] },
      dns: {},
    }, '0.2.0');
    expect(networkStatusEntries(result, 'default/old', false)).toEqual([{ name: 'default/old', ips: ['10.1.1.5'], dns: {}, gateway: ['10.1.1.1'] }]);
  });

  it('gives an empty result a name-only entry', () => {
    const result = parseResult({ cniVersion: '1.0.0' }, '1.0.0');
    expect(networkStatusEntries(result, 'default/empty', true)).toEqual([{ name: 'default/empty', default: true, dns: {} }]);
  });

  it('reports dual-stack addresses and one gateway per family', () => {
    const result = parseResult({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net1', sandbox: SANDBOX }],
      ips: [{ address: '10.1.1.5/24', gateway: '10.1.1.1', interface: 0 }, { address: 'fd00::5/64', gateway: 'fd00::1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }, { dst: '::/0', gw: 'fd00::1' }],
    }, '1.1.0');
    const [e] = networkStatusEntries(result, 'ds', false);
    expect(e!.ips).toEqual(['10.1.1.5', 'fd00::5']);
    expect(e!.gateway).toEqual(['10.1.1.1', 'fd00::1']);
  });

  describe('gateway', () => {
    const base = { cniVersion: '1.0.0', interfaces: [{ name: 'net1', sandbox: SANDBOX }] };

    it('comes only from default routes', () => {
      const result = parseResult({ ...base, ips: [{ address: '10.1.1.5/24', gateway: '10.1.1.1', interface: 0 }], routes: [{ dst: '10.0.0.0/8', gw: '10.1.1.1' }] }, '1.0.0');
      expect(networkStatusEntries(result, 'n', false)[0]!.gateway).toBeUndefined();
    });

    it('takes the address\'s gateway of the same family for a default route without gw, and never says <nil>', () => {
      const result = parseResult({
        ...base,
        ips: [{ address: 'fd00::5/64', gateway: 'fd00::1', interface: 0 }, { address: '10.1.1.5/24', gateway: '10.1.1.1', interface: 0 }],
        routes: [{ dst: '0.0.0.0/0' }],
      }, '1.0.0');
      expect(networkStatusEntries(result, 'n', false)[0]!.gateway).toEqual(['10.1.1.1']);
      const none = parseResult({ ...base, ips: [{ address: '10.1.1.5/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] }, '1.0.0');
      const entry = networkStatusEntries(none, 'n', false)[0]!;
      expect(entry.gateway).toBeUndefined();
      expect(networkStatusAnnotation([entry])).not.toContain('nil');
    });

    it('lists a gateway once', () => {
      const result = parseResult({ ...base, routes: [{ dst: '0.0.0.0/0', gw: '10.1.1.1' }, { dst: '0.0.0.0/0', gw: '10.1.1.1', priority: 5 }] }, '1.0.0');
      expect(networkStatusEntries(result, 'n', false)[0]!.gateway).toEqual(['10.1.1.1']);
    });
  });

  it('adds device-info to every entry', () => {
    const info = { type: 'pci', version: '1.1.0', pci: { 'pci-address': '0000:03:00.1' } };
    const result = parseResult({ cniVersion: '1.0.0', interfaces: [{ name: 'net1', sandbox: SANDBOX }] }, '1.0.0');
    expect(networkStatusEntries(result, 'n', false, info)).toEqual([{ name: 'n', interface: 'net1', dns: {}, 'device-info': info }]);
  });

  it('never sees a result of an unknown version: parseResult refuses it first (Multus scenario 49)', () => {
    expect(caught(() => parseResult({ cniVersion: '1.2.3' }, '1.0.0')).code).toBe(1);
  });
});

describe('networkStatusAnnotation', () => {
  it('writes Multus\'s layout: each entry indented by 4 spaces, joined by ",", in NAD-client\'s key order', () => {
    const result = parseResult({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '0a:58:0a:f4:00:07', sandbox: SANDBOX }],
      ips: [{ address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }],
    }, '1.0.0');
    const second = parseResult({ cniVersion: '0.2.0', ip4: { ip: '10.1.1.5/24' } }, '0.2.0');
    const value = networkStatusAnnotation([
      ...networkStatusEntries(result, 'kindnet', true, { type: 'pci', version: '1.0.0' }),
      ...networkStatusEntries(second, 'default/old', false),
    ]);
    expect(value).toBe(`[{
    "name": "kindnet",
    "interface": "eth0",
    "ips": [
        "10.244.0.7"
    ],
    "mac": "0a:58:0a:f4:00:07",
    "default": true,
    "dns": {},
    "device-info": {
        "type": "pci",
        "version": "1.0.0"
    },
    "gateway": [
        "10.244.0.1"
    ]
},{
    "name": "default/old",
    "ips": [
        "10.1.1.5"
    ],
    "dns": {}
}]`);
    expect(JSON.parse(value)).toHaveLength(2);
  });

  it('escapes HTML characters as Go does, and is [] for no entries', () => {
    expect(networkStatusAnnotation([{ name: 'a<b>&', dns: {} }])).toContain('"a\\u003cb\\u003e\\u0026"');
    expect(networkStatusAnnotation([])).toBe('[]');
  });
});
