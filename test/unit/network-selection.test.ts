import { describe, it, expect } from 'vitest';
import { parseHardwareAddress } from '../../src/cni/ip';
import {
  checkDefaultRoutes, checkNetworkSelection, parseDefaultNetworkAnnotation,
  parseNetworkSelection, type NetworkSelection,
} from '../../src/k8s/network-selection';
import { caught } from '../helpers/caught';
import { checkNamespaceIsolation } from '../../src/multus/pod-networks';

/** The CniError for `value`, checked to be a code-7 error that says how to fix it. */
function refused(value: string, ns = 'test') {
  const e = caught(() => parseNetworkSelection(value, ns));
  expect(e.code).toBe(7);
  expect(e.message).toContain(' — fix: ');
  return e;
}

function json(elements: unknown): string {
  return JSON.stringify(elements);
}

describe('parseNetworkSelection: text form (Multus scenario 23)', () => {
  it.each([
    ['root@someIP/root@someOtherIP/root@thirdIP', 'has more than one "/"'],
    ['root@someIP/root@someOtherIP@garbagevalue', 'has more than one "@"'],
    ['root@someIP/root@someOtherIP', 'namespace "root@someIP" in "root@someIP/root@someOtherIP" is not a valid namespace name'],
    ['default/net1@myIfc Name', 'interface "myIfc Name" in "default/net1@myIfc Name"'],
    ['default/net1@very_long_interface_name', 'interface "very_long_interface_name" in "default/net1@very_long_interface_name": interface name is too long'],
  ])('refuses %s, quoting it', (value, expected) => {
    expect(refused(value).message).toContain(expected);
  });

  it.each([
    ['net1', { name: 'net1', namespace: 'test' }],
    ['default/net1', { name: 'net1', namespace: 'default' }],
    ['net1@my_interface', { name: 'net1', namespace: 'test', interface: 'my_interface' }],
    ['default/net1@my_interface', { name: 'net1', namespace: 'default', interface: 'my_interface' }],
  ])('accepts %s', (value, expected) => {
    expect(parseNetworkSelection(value, 'test')).toEqual([expected]);
  });

  it('reads a comma-separated list, trimming items and their parts, in order', () => {
    expect(parseNetworkSelection(' net1 , other/net2@eth1,net1 ', 'test')).toEqual([
      { name: 'net1', namespace: 'test' },
      { name: 'net2', namespace: 'other', interface: 'eth1' },
      { name: 'net1', namespace: 'test' },
    ]);
    expect(parseNetworkSelection('default / net1 @ data0', 'test')).toEqual([{ name: 'net1', namespace: 'default', interface: 'data0' }]);
  });

  it('selects nothing for an empty or blank value', () => {
    expect(parseNetworkSelection('', 'test')).toEqual([]);
    expect(parseNetworkSelection('   ', 'test')).toEqual([]);
  });

  it('accepts NetworkAttachmentDefinition names with dots (custom resource names are DNS subdomains)', () => {
    expect(parseNetworkSelection('default/macvlan.v2', 'test')).toEqual([{ name: 'macvlan.v2', namespace: 'default' }]);
  });

  it('refuses upper case and underscores in names, and over-long namespaces', () => {
    expect(refused('Net1').message).toContain('network name "Net1" in "Net1" is not a valid NetworkAttachmentDefinition name');
    expect(refused('my_net').message).toContain('"my_net"');
    expect(refused(`${'a'.repeat(64)}/net1`).message).toContain('is not a valid namespace name');
  });

  it('refuses empty pieces Multus would only trip over later', () => {
    expect(refused('net1,').message).toContain('item 2: is empty');
    expect(refused('net1,,net2').message).toContain('remove the extra comma');
    expect(refused('/net1').message).toContain('"/net1" has nothing before "/"');
    expect(refused('default/').message).toContain('"default/" has no network name');
    expect(refused('@eth1').message).toContain('"@eth1" has no network name');
    expect(refused('net1@').message).toContain('"net1@" has nothing after "@"');
  });

  it('refuses interface names libcni would refuse', () => {
    expect(refused('net1@a:b').message).toContain('"a:b"');
    expect(refused('net1@..').message).toContain('interface name is . or ..');
    expect(refused('net1@sixteen-chars-xy').message).toContain('too long');
  });

  it('reports every problem, saying how many more there are', () => {
    const { problems } = checkNetworkSelection('Net1,ok,/x,y@', 'test');
    expect(problems.map((p) => p.where)).toEqual([
      'k8s.v1.cni.cncf.io/networks item 1', 'k8s.v1.cni.cncf.io/networks item 3', 'k8s.v1.cni.cncf.io/networks item 4',
    ]);
    expect(refused('Net1,ok,/x,y@').message).toContain('(and 2 more problems;');
  });
});

describe('parseNetworkSelection: JSON form', () => {
  it('is chosen when the value contains [, { or "', () => {
    expect(refused('[adsfasdfasdfasf]').message).toContain('is not valid JSON'); // Multus scenario 22
    expect(refused('"net1"').message).toContain('"net1" is not a JSON list');
  });

  it('reads every network-selection field into a typed element', () => {
    const value = json([{
      name: 'net1',
      namespace: 'other',
      interface: 'data0',
      ips: ['10.1.1.5/24', 'fd00::5'],
      mac: 'c2:b0:57:49:47:f1',
      'infiniband-guid': 'c2:9b:61:8b:6e:4c:0d:9a',
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' }, { hostPort: 53, containerPort: 53 }],
      bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 3000, egressBurst: 4000 },
      'cni-args': { foo: 'bar', n: 1 },
      'default-route': ['10.1.1.1', 'fd00::1'],
      deviceID: '0000:03:00.1',
    }]);
    const expected: NetworkSelection = {
      name: 'net1',
      namespace: 'other',
      interface: 'data0',
      ips: ['10.1.1.5/24', 'fd00::5'],
      mac: 'c2:b0:57:49:47:f1',
      infinibandGUID: 'c2:9b:61:8b:6e:4c:0d:9a',
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '0.0.0.0' }, { hostPort: 53, containerPort: 53 }],
      bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 3000, egressBurst: 4000 },
      cniArgs: { foo: 'bar', n: 1 },
      defaultRoute: ['10.1.1.1', 'fd00::1'],
      deviceID: '0000:03:00.1',
    };
    expect(parseNetworkSelection(value, 'test')).toEqual([expected]);
  });

  it('fills the pod namespace, treats null and "" as absent, and keeps an empty default-route', () => {
    const value = json([{ name: 'a', namespace: '', interface: '', mac: null, ips: [] }, { name: 'b', 'default-route': [] }]);
    expect(parseNetworkSelection(value, 'test')).toEqual([{ name: 'a', namespace: 'test' }, { name: 'b', namespace: 'test', defaultRoute: [] }]);
  });

  it('matches keys ignoring case, as Go does, and reads the pre-3.2 interfaceRequest', () => {
    expect(parseNetworkSelection(json([{ Name: 'a', NameSpace: 'x', interfaceRequest: 'foo' }]), 'test'))
      .toEqual([{ name: 'a', namespace: 'x', interface: 'foo' }]);
    expect(parseNetworkSelection(json([{ name: 'a', interface: 'new', interfaceRequest: 'old' }]), 'test')[0]!.interface).toBe('new');
  });

  it('ignores unknown keys as Multus does, and lists them for validate', () => {
    const value = json([{ name: 'a', 'ipam-claim-reference': 'claim', interfce: 'x' }]);
    expect(parseNetworkSelection(value, 'test')).toEqual([{ name: 'a', namespace: 'test' }]);
    expect(checkNetworkSelection(value, 'test').ignoredKeys.map((k) => k.key)).toEqual(['ipam-claim-reference', 'interfce']);
  });

  it('refuses a single object (Multus does too), saying to add the brackets', () => {
    const e = refused('{"name": "net1"}');
    expect(e.message).toContain('is a single JSON object, not a list');
    expect(e.message).toContain('[{"name": "net1"}]');
  });

  it.each([
    [[5], '[0]: 5 is not an object'],
    [[null], '[0]: null is not an object'],
    [[{}], '"name": null is missing'],
    [[{ name: 7 }], '"name": 7 is not a string'],
    [[{ name: 'other/net1' }], '{"namespace": "other", "name": "net1"}'],
    [[{ name: 'net1@eth1' }], '"name": "net1@eth1" contains "@"'],
    [[{ name: 'Net_1' }], '"name": "Net_1" is not a valid NetworkAttachmentDefinition name'],
    [[{ name: 'a', namespace: 'Kube_System' }], '"namespace": "Kube_System" is not a valid namespace name'],
    [[{ name: 'a', namespace: 3 }], '"namespace": 3 is not a string'],
    [[{ name: 'a', interface: 'my if' }], '"interface": "my if" is not a usable interface name'],
    [[{ name: 'a', interface: 'abcdefghijklmnop' }], 'too long'],
    [[{ name: 'a', ips: '10.1.1.5' }], '"ips": "10.1.1.5" is not a list'],
    [[{ name: 'a', ips: ['10.1.1.300'] }], '"ips": "10.1.1.300" is not an IP address or CIDR'],
    [[{ name: 'a', ips: ['10.1.1.5/33'] }], '"ips": "10.1.1.5/33" is not an IP address or CIDR'],
    [[{ name: 'a', ips: ['fe80::1%eth0'] }], 'is not an IP address or CIDR'],
    [[{ name: 'a', ips: [5] }], '"ips": 5 is not an IP address or CIDR'],
    [[{ name: 'a', mac: 'c2:b0:57:49:47' }], '"mac": "c2:b0:57:49:47" is not a MAC address'],
    [[{ name: 'a', mac: 'c2-b0:57-49-47-f1' }], 'is not a MAC address'],
    [[{ name: 'a', 'infiniband-guid': 'c2:b0:57:49:47:f1' }], '"infiniband-guid": "c2:b0:57:49:47:f1" is not a GUID'],
    [[{ name: 'a', portMappings: {} }], '"portMappings": {} is not a list'],
    [[{ name: 'a', portMappings: [8080] }], '"portMappings[0]": 8080 is not an object'],
    [[{ name: 'a', portMappings: [{ hostPort: 0, containerPort: 80 }] }], '"portMappings[0].hostPort": 0 is not a whole number from 1 to 65535'],
    [[{ name: 'a', portMappings: [{ hostPort: 80, containerPort: '80' }] }], '"portMappings[0].containerPort": "80"'],
    [[{ name: 'a', portMappings: [{ hostPort: 80, containerPort: 70000 }] }], '"portMappings[0].containerPort": 70000'],
    [[{ name: 'a', portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'icmp' }] }], '"portMappings[0].protocol": "icmp" is not a protocol'],
    [[{ name: 'a', portMappings: [{ hostPort: 80, containerPort: 80, hostIP: 'localhost' }] }], '"portMappings[0].hostIP": "localhost" is not an IP address'],
    [[{ name: 'a', bandwidth: [] }], '"bandwidth": [] is not an object'],
    [[{ name: 'a', bandwidth: { ingressRate: -1 } }], '"bandwidth.ingressRate": -1 is not a whole number'],
    [[{ name: 'a', bandwidth: { egressBurst: 1.5 } }], '"bandwidth.egressBurst": 1.5 is not a whole number'],
    [[{ name: 'a', 'cni-args': 'x=y' }], '"cni-args": "x=y" is not an object'],
    [[{ name: 'a', 'cni-args': ['x'] }], '"cni-args": ["x"] is not an object'],
    [[{ name: 'a', 'default-route': '10.1.1.1' }], '"default-route": "10.1.1.1" is not a list'],
    [[{ name: 'a', 'default-route': ['10.1.1.1/24'] }], '"default-route": "10.1.1.1/24" is not an IP address'],
    [[{ name: 'a', deviceID: 5 }], '"deviceID": 5 is not a string'],
  ])('refuses %j', (elements, expected) => {
    expect(refused(json(elements)).message).toContain(expected);
  });

  it('names the element and its network in every message', () => {
    const e = refused(json([{ name: 'ok' }, { name: 'macvlan-conf', mac: 'nope' }]));
    expect(e.message).toMatch(/^k8s\.v1\.cni\.cncf\.io\/networks\[1\] \("macvlan-conf"\): "mac": "nope" is not a MAC address — fix: /);
  });

  it('reports every field problem of every element', () => {
    const { problems, selections } = checkNetworkSelection(json([{ name: 'a', mac: 'x', ips: ['y'] }, { name: 'b' }, { name: 'C' }]), 'test');
    expect(problems).toHaveLength(3);
    expect(selections).toEqual([{ name: 'b', namespace: 'test' }]);
  });
});

describe('duplicate interfaces', () => {
  it('refuses two items asking for the same interface, in either form, naming both', () => {
    const e = refused('a@net5,other/b@net5');
    expect(e.message).toContain('interface "net5" is requested twice, by "test/a@net5" and "other/b@net5"');
    expect(refused(json([{ name: 'a', interface: 'x' }, { name: 'b', interface: 'y' }, { name: 'c', interface: 'x' }])).message)
      .toContain('interface "x" is requested twice');
  });

  it('lets the same network be attached twice (spec §4.2)', () => {
    expect(parseNetworkSelection('net1,net1,net1@data0', 'test')).toHaveLength(3);
  });
});

describe('default-route (Multus scenario 33)', () => {
  it('allows one gateway per family, on one element or two', () => {
    expect(() => parseNetworkSelection(json([{ name: 'a', 'default-route': ['10.1.1.1', 'fd00::1'] }, { name: 'b' }]), 'test')).not.toThrow();
    expect(() => parseNetworkSelection(json([{ name: 'a', 'default-route': ['10.1.1.1'] }, { name: 'b', 'default-route': ['fd00::1'] }]), 'test')).not.toThrow();
  });

  it('refuses two gateways of one family (no ECMP), naming them', () => {
    const e = refused(json([{ name: 'a', 'default-route': ['10.1.1.1'] }, { name: 'b', 'default-route': ['192.168.2.2'] }]));
    expect(e.message).toContain('multus does not support ECMP for default-route: 2 IPv4 gateways are requested: 10.1.1.1 (test/a), 192.168.2.2 (test/b)');
  });

  it('checks the default network\'s element together with the annotation\'s', () => {
    const dflt: NetworkSelection = { name: 'd', namespace: 'kube-system', defaultRoute: ['fd00::1'] };
    const sel: NetworkSelection = { name: 'a', namespace: 'test', defaultRoute: ['fd00::2'] };
    expect(caught(() => checkDefaultRoutes([dflt, sel])).message).toContain('2 IPv6 gateways');
    expect(() => checkDefaultRoutes([dflt, { ...sel, defaultRoute: ['10.0.0.1'] }])).not.toThrow();
  });
});

describe('parseDefaultNetworkAnnotation (Multus scenario 27)', () => {
  it('gives the one network, in multusNamespace unless it names one', () => {
    expect(parseDefaultNetworkAnnotation('net1', 'kube-system')).toEqual({ name: 'net1', namespace: 'kube-system' });
    expect(parseDefaultNetworkAnnotation('[{"name":"net1","namespace":"x","interface":"eth9"}]', 'kube-system'))
      .toEqual({ name: 'net1', namespace: 'x', interface: 'eth9' });
  });

  it('is nothing when empty', () => {
    expect(parseDefaultNetworkAnnotation('', 'kube-system')).toBeUndefined();
  });

  it('refuses more than one network', () => {
    const e = caught(() => parseDefaultNetworkAnnotation('net1,net2', 'kube-system'));
    expect(e.code).toBe(7);
    expect(e.message).toContain('v1.multus-cni.io/default-network: more than one default network is specified: "net1,net2"');
  });

  it('names its own annotation in messages', () => {
    expect(caught(() => parseDefaultNetworkAnnotation('Bad', 'kube-system')).message).toMatch(/^v1\.multus-cni\.io\/default-network item 1: /);
  });
});

describe('checkNamespaceIsolation (Multus scenario 28)', () => {
  const sels = parseNetworkSelection('kube-system/net1', 'test');

  it('refuses a network in another namespace, with Multus\'s message and the fix', () => {
    const e = caught(() => checkNamespaceIsolation(sels, 'test', ['default']));
    expect(e.message).toContain('namespace isolation enabled, annotation violates permission, pod is in namespace test but refers to target namespace kube-system');
    expect(e.message).toContain('add kube-system to "globalNamespaces"');
  });

  it('allows the pod\'s own namespace and the global ones', () => {
    expect(() => checkNamespaceIsolation(sels, 'test', ['kube-system', 'donkey-kong'])).not.toThrow();
    expect(() => checkNamespaceIsolation(parseNetworkSelection('net1,test/net2', 'test'), 'test', [])).not.toThrow();
  });
});

describe('parseHardwareAddress (Go net.ParseMAC)', () => {
  it.each([
    ['00:00:5e:00:53:01', 6], ['00-00-5E-00-53-01', 6], ['0000.5e00.5301', 6], ['02:00:5e:10:00:00:00:01', 8],
    ['00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01', 20], ['0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001', 20],
    ['00:00:5e:00:53', 0], ['00:00:5e:00:53:01:02', 0], ['0:0:5e:0:53:1', 0], ['00:00:5e-00:53:01', 0], ['zz:00:5e:00:53:01', 0], ['', 0],
  ])('%s → %d bytes', (s, n) => {
    expect(parseHardwareAddress(s)?.length ?? 0).toBe(n);
  });
});
