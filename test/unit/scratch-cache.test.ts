import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readScratchCache,
  removeScratchCache,
  scratchCachePath,
  writeScratchCache,
} from '../../src/multus/scratch-cache';
import { delegateFrom, type Delegate } from '../../src/multus/delegate';
import { buildPluginStdin, parseNetworkConfig } from '../../src/delegation/network-config';

// multus-behaviour.md 2.3: `<cniDir>/<containerID>` holds Go Multus's []DelegateNetConf.

const CONTAINER = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

let tmp = '';
let cniDir = '';
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'multus-ts-scratch-'));
  cniDir = join(tmp, 'var', 'lib', 'cni', 'multus');
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function netFromText(text: string, inherited = '1.0.0') {
  return parseNetworkConfig(JSON.parse(text), 'test', inherited, Buffer.from(text));
}

const FLANNEL_TEXT = '{"cniVersion":"0.3.1","name":"cbr0","type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true}}';
const MACVLAN_TEXT =
  '{ "cniVersion": "1.0.0", "name": "macvlan-conf", "type": "macvlan", "master": "eth1", "mode": "bridge",\n' +
  '  "capabilities": {"ips": true, "mac": true}, "ipam": {"type": "static"} }';
const CHAIN_TEXT = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'sriov-net',
  plugins: [
    { type: 'sriov', vlan: 100, ipam: { type: 'host-local', subnet: '10.56.217.0/24' } },
    { type: 'tuning', sysctl: { 'net.ipv4.conf.all.arp_notify': '1' } },
  ],
});

function delegates(): Delegate[] {
  const primary = delegateFrom(netFromText(FLANNEL_TEXT));
  primary.isFilterV4Gateway = false;
  primary.isFilterV6Gateway = false;
  const macvlan: Delegate = {
    net: netFromText(MACVLAN_TEXT),
    name: 'default/macvlan-conf',
    ifnameRequest: 'ext0',
    macRequest: 'c2:11:22:33:44:66',
    ipRequest: ['10.1.1.101/24', 'fd00::101/64'],
    gatewayRequest: ['10.1.1.1'],
    isFilterV4Gateway: false,
    isFilterV6Gateway: true,
  };
  const sriov: Delegate = {
    net: netFromText(CHAIN_TEXT),
    name: 'kube-system/sriov-net',
    infinibandGUIDRequest: 'c2:11:22:33:44:55:66:77',
    deviceID: '0000:03:02.3',
    resourceName: 'intel.com/intel_sriov_netdevice',
    isFilterV4Gateway: true,
    isFilterV6Gateway: true,
  };
  return [primary, macvlan, sriov];
}

describe('scratchCachePath', () => {
  it('is <cniDir>/<containerID>', () => {
    expect(scratchCachePath('/var/lib/cni/multus', 'abc')).toBe('/var/lib/cni/multus/abc');
  });
});

describe('writeScratchCache / readScratchCache', () => {
  it('round-trips delegates with their requests', () => {
    const ds = delegates();
    writeScratchCache(cniDir, CONTAINER, ds);
    const read = readScratchCache(cniDir, CONTAINER, '1.0.0');
    expect(read.state).toBe('found');
    if (read.state !== 'found') return;
    expect(read.delegates).toEqual(ds);
    expect(read.delegates.map((d) => d.net.bytes.toString())).toEqual([FLANNEL_TEXT, MACVLAN_TEXT, CHAIN_TEXT]);
  });

  it('writes the file with mode 0600 in a directory created with mode 0700, leaving no temporary file', () => {
    writeScratchCache(cniDir, CONTAINER, delegates());
    expect(statSync(cniDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(cniDir, CONTAINER)).mode & 0o777).toBe(0o600);
    expect(readdirSync(cniDir)).toEqual([CONTAINER]);
  });

  it('replaces an existing file', () => {
    writeScratchCache(cniDir, CONTAINER, delegates());
    writeScratchCache(cniDir, CONTAINER, delegates().slice(0, 1));
    const read = readScratchCache(cniDir, CONTAINER, '1.0.0');
    expect(read.state === 'found' && read.delegates.length).toBe(1);
    expect(readdirSync(cniDir)).toEqual([CONTAINER]);
  });

  it('writes Go\'s DelegateNetConf layout, with Bytes holding the raw configuration in base64', () => {
    writeScratchCache(cniDir, CONTAINER, delegates());
    const written = JSON.parse(readFileSync(join(cniDir, CONTAINER), 'utf8')) as Array<Record<string, unknown>>;
    expect(written).toHaveLength(3);

    const [flannel, macvlan, sriov] = written as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    expect(Object.keys(flannel)).toEqual(['Conf', 'ConfList', 'Name', 'IsFilterV4Gateway', 'IsFilterV6Gateway', 'Bytes']);
    expect(flannel.Conf).toEqual({ cniVersion: '0.3.1', name: 'cbr0', type: 'flannel', ipam: {}, dns: {} });
    expect(flannel.ConfList).toEqual({});
    expect(flannel.Name).toBe('');
    expect(flannel.IsFilterV4Gateway).toBe(false);
    expect(flannel.IsFilterV6Gateway).toBe(false);
    expect(Buffer.from(flannel.Bytes as string, 'base64').toString()).toBe(FLANNEL_TEXT);

    expect(macvlan).toMatchObject({
      Conf: { cniVersion: '1.0.0', name: 'macvlan-conf', type: 'macvlan', capabilities: { ips: true, mac: true }, ipam: { type: 'static' }, dns: {} },
      ConfList: {},
      Name: 'default/macvlan-conf',
      ifnameRequest: 'ext0',
      macRequest: 'c2:11:22:33:44:66',
      ipRequest: ['10.1.1.101/24', 'fd00::101/64'],
      'default-route': ['10.1.1.1'],
      IsFilterV4Gateway: false,
      IsFilterV6Gateway: true,
    });
    expect(Buffer.from(macvlan.Bytes as string, 'base64').toString()).toBe(MACVLAN_TEXT);

    expect(sriov).toMatchObject({
      Conf: { ipam: {}, dns: {} },
      ConfList: { cniVersion: '1.0.0', name: 'sriov-net' },
      Name: 'kube-system/sriov-net',
      infinibandGUIDRequest: 'c2:11:22:33:44:55:66:77',
      deviceID: '0000:03:02.3',
      resourceName: 'intel.com/intel_sriov_netdevice',
      IsFilterV4Gateway: true,
      IsFilterV6Gateway: true,
    });
    // Go derives "is a conflist" from ConfList.plugins being non-empty.
    expect((sriov.ConfList as { plugins: Array<{ type: string }> }).plugins.map((p) => p.type)).toEqual(['sriov', 'tuning']);
    expect(Buffer.from(sriov.Bytes as string, 'base64').toString()).toBe(CHAIN_TEXT);
    // Bytes is the last field, as in the Go struct.
    expect(Object.keys(sriov).at(-1)).toBe('Bytes');
  });

  it('omits empty requests, as Go\'s omitempty does', () => {
    writeScratchCache(cniDir, CONTAINER, [delegateFrom(netFromText(FLANNEL_TEXT))]);
    const [entry] = JSON.parse(readFileSync(join(cniDir, CONTAINER), 'utf8')) as Array<Record<string, unknown>>;
    for (const k of ['ifnameRequest', 'macRequest', 'infinibandGUIDRequest', 'ipRequest', 'default-route', 'deviceID', 'resourceName']) {
      expect(entry).not.toHaveProperty(k);
    }
  });
});

describe('readScratchCache: a file written by Go Multus', () => {
  // Conflist delegate without cniVersion, as a NetworkAttachmentDefinition often has it (Multus PR #1521).
  const NAD_CHAIN =
    '{"name":"macvlan-chain","plugins":[{"type":"macvlan","master":"eth1","mode":"bridge","mtu":1400,' +
    '"ipam":{"type":"host-local","ranges":[[{"subnet":"10.1.1.0/24","gateway":"10.1.1.1"}]]}},' +
    '{"type":"tuning","capabilities":{"mac":true},"sysctl":{"net.ipv4.conf.IFNAME.arp_filter":"1"}}]}';
  const GO_FILE = JSON.stringify([
    {
      Conf: { cniVersion: '0.3.1', name: 'cbr0', type: 'flannel', ipam: {}, dns: {} },
      ConfList: {},
      Name: '',
      IsFilterV4Gateway: false,
      IsFilterV6Gateway: false,
      Bytes: Buffer.from(FLANNEL_TEXT).toString('base64'),
    },
    {
      conf: { ipam: {}, dns: {} },
      CONFLIST: { name: 'macvlan-chain', plugins: [{ type: 'macvlan', ipam: { type: 'host-local' }, dns: {} }, { type: 'tuning', capabilities: { mac: true }, ipam: {}, dns: {} }] },
      name: 'default/macvlan-chain',
      IfNameRequest: 'ext1',
      MACREQUEST: 'c2:11:22:33:44:66',
      iprequest: ['10.1.1.101/24'],
      'Default-Route': ['10.1.1.1'],
      isfilterv4gateway: true,
      ISFILTERV6GATEWAY: true,
      DeviceId: '0000:03:02.3',
      resourcename: 'intel.com/sriov',
      InfinibandGuidRequest: 'c2:11:22:33:44:55:66:77',
      bytes: Buffer.from(NAD_CHAIN).toString('base64'),
    },
  ]);

  function writeGoFile(text: string): void {
    mkdirSync(cniDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(cniDir, CONTAINER), text, { mode: 0o600 });
  }

  it('reads field names case-insensitively', () => {
    writeGoFile(GO_FILE);
    const read = readScratchCache(cniDir, CONTAINER, '1.0.0');
    expect(read.state).toBe('found');
    if (read.state !== 'found') return;
    const [flannel, chain] = read.delegates as [Delegate, Delegate];

    expect(flannel.name).toBe('');
    expect(flannel.net.name).toBe('cbr0');
    expect(flannel.net.cniVersion).toBe('0.3.1');
    expect(flannel.net.isList).toBe(false);
    expect(flannel.isFilterV4Gateway).toBe(false);
    expect(flannel.ifnameRequest).toBeUndefined();

    expect(chain).toMatchObject({
      name: 'default/macvlan-chain',
      ifnameRequest: 'ext1',
      macRequest: 'c2:11:22:33:44:66',
      ipRequest: ['10.1.1.101/24'],
      gatewayRequest: ['10.1.1.1'],
      isFilterV4Gateway: true,
      isFilterV6Gateway: true,
      deviceID: '0000:03:02.3',
      resourceName: 'intel.com/sriov',
      infinibandGUIDRequest: 'c2:11:22:33:44:55:66:77',
    });
  });

  it('gives a conflist without cniVersion the top-level version, keeping every plugin key', () => {
    writeGoFile(GO_FILE);
    const read = readScratchCache(cniDir, CONTAINER, '1.1.0');
    if (read.state !== 'found') throw new Error(`expected found, got ${read.state}`);
    const net = read.delegates[1]!.net;
    const original = JSON.parse(NAD_CHAIN) as { plugins: Array<Record<string, unknown>> };
    expect(net.name).toBe('macvlan-chain');
    expect(net.isList).toBe(true);
    expect(net.cniVersion).toBe('1.1.0');
    expect(net.plugins).toEqual(original.plugins);
    expect(net.bytes.toString()).toBe(NAD_CHAIN);
    // What the delegate receives on DEL: the version injected, the plugin-specific keys intact.
    const stdin = JSON.parse(buildPluginStdin(net, net.plugins[0]!, undefined, {}).toString());
    expect(stdin).toEqual({ ...original.plugins[0], name: 'macvlan-chain', cniVersion: '1.1.0' });
  });

  it('reads Go\'s base64 with padding and without trailing fields', () => {
    const text = '{"cniVersion":"1.0.0","name":"n","type":"bridge"}';
    writeGoFile(`[{"Conf":{},"ConfList":{},"Name":"","IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"${Buffer.from(text).toString('base64')}"}]`);
    const read = readScratchCache(cniDir, CONTAINER, '1.0.0');
    expect(read.state === 'found' && read.delegates[0]!.net.plugins[0]).toEqual({ cniVersion: '1.0.0', name: 'n', type: 'bridge' });
  });
});

describe('readScratchCache: missing and corrupt files', () => {
  function writeRaw(text: string): void {
    mkdirSync(cniDir, { recursive: true });
    writeFileSync(join(cniDir, CONTAINER), text);
  }

  it('reports a missing file as missing', () => {
    expect(readScratchCache(cniDir, CONTAINER, '1.0.0')).toEqual({ state: 'missing' });
    mkdirSync(cniDir, { recursive: true });
    expect(readScratchCache(cniDir, 'other', '1.0.0')).toEqual({ state: 'missing' });
  });

  const corrupt: Array<[string, string]> = [
    ['garbage', 'this is not JSON'],
    ['an empty file', ''],
    ['a truncated file', '[{"Conf":{},"Bytes":"eyJ'],
    ['an empty array', '[]'],
    ['an object', '{"Bytes":"e30="}'],
    ['null', 'null'],
    ['an entry without Bytes', '[{"Conf":{"name":"x","type":"bridge"},"ConfList":{},"Name":""}]'],
    ['an entry with empty Bytes', '[{"Bytes":""}]'],
    ['an entry that is not an object', '["x"]'],
    ['Bytes that do not decode to JSON', `[{"Bytes":"${Buffer.from('not json').toString('base64')}"}]`],
    ['Bytes that decode to an invalid configuration', `[{"Bytes":"${Buffer.from('{"name":"x"}').toString('base64')}"}]`],
  ];
  for (const [what, text] of corrupt) {
    it(`reports ${what} as corrupt`, () => {
      writeRaw(text);
      const read = readScratchCache(cniDir, CONTAINER, '1.0.0');
      expect(read.state).toBe('corrupt');
      expect(read.state === 'corrupt' && read.reason.length).toBeGreaterThan(0);
    });
  }

  it('reports a path that cannot be read as a file as corrupt, not missing', () => {
    mkdirSync(join(cniDir, CONTAINER), { recursive: true });
    expect(readScratchCache(cniDir, CONTAINER, '1.0.0').state).toBe('corrupt');
  });
});

describe('removeScratchCache', () => {
  it('removes the file and tolerates a file that is already gone', () => {
    writeScratchCache(cniDir, CONTAINER, delegates());
    removeScratchCache(cniDir, CONTAINER);
    expect(existsSync(join(cniDir, CONTAINER))).toBe(false);
    expect(() => removeScratchCache(cniDir, CONTAINER)).not.toThrow();
    expect(() => removeScratchCache(join(tmp, 'never-created'), CONTAINER)).not.toThrow();
  });
});
