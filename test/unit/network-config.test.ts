import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPluginStdin, canonicalJson, parseNetworkConfig } from '../../src/delegation/network-config';
import { findPlugin, validatePluginType } from '../../src/delegation/plugin-path';
import { caught } from '../helpers/caught';

// cni-contracts.md 1.3 (configuration, request config) and 2 (libcni FindInPath, conf loading).


const MACVLAN = {
  cniVersion: '1.0.0',
  name: 'macvlan-net',
  type: 'macvlan',
  master: 'eth1',
  ipam: { type: 'host-local', subnet: '10.1.1.0/24' },
};

const CONFLIST = {
  cniVersion: '0.4.0',
  name: 'lcnet',
  plugins: [
    { type: 'macvlan', master: 'mvmaster0', ipam: { type: 'host-local' } },
    { type: 'tuning', sysctl: { 'net.core.somaxconn': '500' } },
  ],
};

describe('parseNetworkConfig: single configuration', () => {
  it('parses a plugin configuration as a one-plugin network', () => {
    const net = parseNetworkConfig(MACVLAN, 'test', '0.3.1');
    expect(net).toEqual({
      name: 'macvlan-net',
      cniVersion: '1.0.0',
      isList: false,
      disableCheck: false,
      plugins: [MACVLAN],
      bytes: Buffer.from(JSON.stringify(MACVLAN)),
    });
  });

  it('keeps the given bytes verbatim', () => {
    const text = '{ "cniVersion": "1.0.0", "name": "macvlan-net", "type": "macvlan" }\n';
    const net = parseNetworkConfig(JSON.parse(text), 'test', '1.0.0', Buffer.from(text));
    expect(net.bytes.toString()).toBe(text);
  });

  it('inherits the version when cniVersion is missing or empty', () => {
    const { cniVersion: _drop, ...noVersion } = MACVLAN;
    expect(parseNetworkConfig(noVersion, 'test', '0.3.1').cniVersion).toBe('0.3.1');
    expect(parseNetworkConfig({ ...MACVLAN, cniVersion: '' }, 'test', '1.1.0').cniVersion).toBe('1.1.0');
  });

  it('refuses a missing or empty name with code 7, naming the configuration', () => {
    const { name: _drop, ...noName } = MACVLAN;
    for (const c of [noName, { ...MACVLAN, name: '' }, { ...MACVLAN, name: 42 }]) {
      const e = caught(() => parseNetworkConfig(c, 'delegates[3]', '1.0.0'));
      expect(e.code).toBe(7);
      expect(e.message).toContain('delegates[3]');
      expect(e.message).toContain('missing network "name"');
    }
  });

  it('refuses a name with invalid characters with code 7', () => {
    for (const name of ['my net', '../x', '-x', 'a/b']) {
      const e = caught(() => parseNetworkConfig({ ...MACVLAN, name }, 'test', '1.0.0'));
      expect(e.code).toBe(7);
      expect(e.message).toContain('invalid characters found in network name');
      expect(e.message).toContain(JSON.stringify(name));
    }
  });

  it('refuses an unsupported version with code 1', () => {
    for (const v of ['2.0.0', '1.0', 'latest']) {
      const e = caught(() => parseNetworkConfig({ ...MACVLAN, cniVersion: v }, 'test', '1.0.0'));
      expect(e.code).toBe(1);
      expect(e.message).toContain(JSON.stringify(v));
    }
  });

  it('refuses a configuration without type with code 7', () => {
    const { type: _drop, ...noType } = MACVLAN;
    const e = caught(() => parseNetworkConfig(noType, 'test', '1.0.0'));
    expect(e.code).toBe(7);
    expect(e.message).toContain('missing "type"');
    expect(caught(() => parseNetworkConfig({ ...MACVLAN, type: '' }, 'test', '1.0.0')).code).toBe(7);
  });

  it('refuses a type that is a path or contains ".." with code 2', () => {
    for (const type of ['/usr/bin/evil', '../../bin/sh', 'a/b', '..', 'foo..bar', 'x\\y', '.hidden', 'a b']) {
      const e = caught(() => parseNetworkConfig({ ...MACVLAN, type }, 'test', '1.0.0'));
      expect(e.code).toBe(2);
      expect(e.message).toContain(JSON.stringify(type));
    }
  });

  it('accepts ordinary plugin names', () => {
    for (const type of ['macvlan', 'host-local', 'sriov', 'ovn_k8s', 'cni-plugin.v2', 'a+b']) {
      expect(validatePluginType(type, 'test')).toBe(type);
    }
  });

  it('refuses a value that is not an object with code 7', () => {
    for (const raw of [null, [], 'x', 3]) {
      expect(caught(() => parseNetworkConfig(raw, 'test', '1.0.0')).code).toBe(7);
    }
  });
});

describe('parseNetworkConfig: conflist', () => {
  it('parses a conflist', () => {
    const net = parseNetworkConfig(CONFLIST, 'test', '1.0.0');
    expect(net.name).toBe('lcnet');
    expect(net.cniVersion).toBe('0.4.0');
    expect(net.isList).toBe(true);
    expect(net.disableCheck).toBe(false);
    expect(net.plugins).toEqual(CONFLIST.plugins);
  });

  it('inherits the version when the list has none', () => {
    const { cniVersion: _drop, ...noVersion } = CONFLIST;
    const net = parseNetworkConfig(noVersion, 'test', '1.1.0');
    expect(net.cniVersion).toBe('1.1.0');
    expect(net.plugins).toEqual(CONFLIST.plugins);
  });

  it('refuses a missing name with code 7', () => {
    const { name: _drop, ...noName } = CONFLIST;
    expect(caught(() => parseNetworkConfig(noName, 'test', '1.0.0')).code).toBe(7);
  });

  it('refuses a bad name with code 7', () => {
    expect(caught(() => parseNetworkConfig({ ...CONFLIST, name: 'bad name' }, 'test', '1.0.0')).code).toBe(7);
  });

  it('refuses an unsupported version with code 1', () => {
    expect(caught(() => parseNetworkConfig({ ...CONFLIST, cniVersion: '0.5.0' }, 'test', '1.0.0')).code).toBe(1);
  });

  it('refuses an empty plugin list or a plugins value that is not a list with code 7', () => {
    for (const plugins of [[], 'macvlan', {}, null]) {
      const e = caught(() => parseNetworkConfig({ ...CONFLIST, plugins }, 'test', '1.0.0'));
      expect(e.code).toBe(7);
      expect(e.message).toContain('"plugins"');
    }
  });

  it('refuses a plugin without type with code 7, naming its index', () => {
    const e = caught(() =>
      parseNetworkConfig({ ...CONFLIST, plugins: [{ type: 'macvlan' }, { sysctl: {} }] }, 'test', '1.0.0'),
    );
    expect(e.code).toBe(7);
    expect(e.message).toContain('plugins[1]');
    expect(e.message).toContain('missing "type"');
  });

  it('refuses a plugin that is not an object with code 7', () => {
    expect(caught(() => parseNetworkConfig({ ...CONFLIST, plugins: ['macvlan'] }, 'test', '1.0.0')).code).toBe(7);
  });

  it('refuses a plugin type with "/" or ".." with code 2', () => {
    for (const type of ['../macvlan', '/opt/cni/bin/macvlan', 'x/..']) {
      const e = caught(() => parseNetworkConfig({ ...CONFLIST, plugins: [{ type: 'macvlan' }, { type }] }, 'test', '1.0.0'));
      expect(e.code).toBe(2);
      expect(e.message).toContain('plugins[1]');
    }
  });

  it('reads disableCheck as a boolean or the strings "true"/"false"', () => {
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: true }, 'test', '1.0.0').disableCheck).toBe(true);
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: false }, 'test', '1.0.0').disableCheck).toBe(false);
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: 'true' }, 'test', '1.0.0').disableCheck).toBe(true);
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: 'false' }, 'test', '1.0.0').disableCheck).toBe(false);
  });

  it('refuses other disableCheck values with code 7', () => {
    for (const v of ['yes', 1, null, {}]) {
      expect(caught(() => parseNetworkConfig({ ...CONFLIST, disableCheck: v }, 'test', '1.0.0')).code).toBe(7);
    }
  });

  // libcni's readBool lower-cases the string before comparing (libcni/conf.go NetworkConfFromBytes).
  it('reads disableCheck "TRUE"/"True" case-insensitively, as libcni does', () => {
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: 'TRUE' }, 'test', '1.0.0').disableCheck).toBe(true);
    expect(parseNetworkConfig({ ...CONFLIST, disableCheck: 'True' }, 'test', '1.0.0').disableCheck).toBe(true);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level, compact, keeping array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }, 3], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1},3]},"b":1}');
  });
});

describe('buildPluginStdin', () => {
  // The observed libcni v1.1.2 stdin of cni-contracts.md 1.3.
  const list = {
    cniVersion: '1.0.0',
    name: 'lcnet',
    plugins: [
      {
        type: 'macvlan',
        master: 'mvmaster0',
        capabilities: { portMappings: false, mac: true, ips: true },
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.97.0.0/24' }]] },
      },
      { type: 'tuning', capabilities: { mac: true } },
    ],
  };
  const capabilityArgs = {
    ips: ['10.97.0.42/24'],
    mac: '02:11:22:33:44:55',
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    bandwidth: { ingressRate: 1000 },
  };

  it('produces the sorted compact JSON libcni sends, with runtimeConfig filtered by capabilities', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    expect(buildPluginStdin(net, net.plugins[0]!, undefined, capabilityArgs).toString()).toBe(
      '{"capabilities":{"ips":true,"mac":true,"portMappings":false},"cniVersion":"1.0.0",' +
        '"ipam":{"ranges":[[{"subnet":"10.97.0.0/24"}]],"type":"host-local"},"master":"mvmaster0","name":"lcnet",' +
        '"runtimeConfig":{"ips":["10.97.0.42/24"],"mac":"02:11:22:33:44:55"},"type":"macvlan"}',
    );
  });

  it('injects the network name and version, overriding the plugin\'s own', () => {
    const net = parseNetworkConfig({ ...list, plugins: [{ type: 'macvlan', name: 'other', cniVersion: '0.3.1' }] }, 'test', '1.0.0');
    const out = JSON.parse(buildPluginStdin(net, net.plugins[0]!, undefined, {}).toString());
    expect(out).toEqual({ type: 'macvlan', name: 'lcnet', cniVersion: '1.0.0' });
  });

  it('injects the inherited version into a plugin of a list without one', () => {
    const { cniVersion: _drop, ...noVersion } = list;
    const net = parseNetworkConfig(noVersion, 'test', '0.4.0');
    const out = JSON.parse(buildPluginStdin(net, net.plugins[1]!, undefined, {}).toString());
    expect(out.cniVersion).toBe('0.4.0');
    expect(out.name).toBe('lcnet');
  });

  it('does not modify the plugin configuration it was given', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    const before = JSON.stringify(net.plugins[0]);
    buildPluginStdin(net, net.plugins[0]!, { cniVersion: '1.0.0' }, capabilityArgs);
    expect(JSON.stringify(net.plugins[0])).toBe(before);
  });

  it('sorts keys at every level, including inside arrays and prevResult', () => {
    const net = parseNetworkConfig(
      { cniVersion: '1.0.0', name: 'n', plugins: [{ type: 't', zeta: { y: 1, x: [{ b: 1, a: 2 }] }, alpha: 1 }] },
      'test',
      '1.0.0',
    );
    const prev = { ips: [{ gateway: '10.0.0.1', address: '10.0.0.2/24' }], cniVersion: '1.0.0' };
    expect(buildPluginStdin(net, net.plugins[0]!, prev, {}).toString()).toBe(
      '{"alpha":1,"cniVersion":"1.0.0","name":"n",' +
        '"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":"10.0.0.1"}]},' +
        '"type":"t","zeta":{"x":[{"a":2,"b":1}],"y":1}}',
    );
  });

  it('injects prevResult only when given', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    expect(JSON.parse(buildPluginStdin(net, net.plugins[1]!, undefined, {}).toString())).not.toHaveProperty('prevResult');
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }] };
    expect(JSON.parse(buildPluginStdin(net, net.plugins[1]!, prev, {}).toString()).prevResult).toEqual(prev);
  });

  it('passes only capabilities that are true and provided', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    // ips true but not provided; mac true and provided; portMappings provided but false; bandwidth not declared.
    const out = JSON.parse(buildPluginStdin(net, net.plugins[0]!, undefined, { mac: 'aa', portMappings: [], bandwidth: {} }).toString());
    expect(out.runtimeConfig).toEqual({ mac: 'aa' });
  });

  it('adds no runtimeConfig key when no capability applies', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [net.plugins[0]!, {}],
      [net.plugins[0]!, { portMappings: [], bandwidth: {} }],
      [{ type: 'bridge' }, capabilityArgs],
      [{ type: 'bridge', capabilities: { mac: false } }, capabilityArgs],
    ];
    for (const [plugin, caps] of cases) {
      expect(JSON.parse(buildPluginStdin(net, plugin, undefined, caps).toString())).not.toHaveProperty('runtimeConfig');
    }
  });

  it('passes capabilities through unchanged, as libcni does', () => {
    const net = parseNetworkConfig(list, 'test', '1.0.0');
    const out = JSON.parse(buildPluginStdin(net, net.plugins[0]!, undefined, capabilityArgs).toString());
    expect(out.capabilities).toEqual({ portMappings: false, mac: true, ips: true });
  });
});

describe('findPlugin', () => {
  let tmp = '';
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'multus-ts-findplugin-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  function dir(name: string): string {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  it('returns the first regular file in path order', () => {
    const a = dir('a');
    const b = dir('b');
    const c = dir('c');
    writeFileSync(join(b, 'macvlan'), '#!/bin/sh\n');
    writeFileSync(join(c, 'macvlan'), '#!/bin/sh\n');
    expect(findPlugin('macvlan', [a, b, c])).toBe(join(b, 'macvlan'));
    expect(findPlugin('macvlan', [c, b])).toBe(join(c, 'macvlan'));
  });

  it('skips a directory with the plugin name', () => {
    const a = dir('a');
    const b = dir('b');
    mkdirSync(join(a, 'macvlan'));
    writeFileSync(join(b, 'macvlan'), '');
    expect(findPlugin('macvlan', [a, b])).toBe(join(b, 'macvlan'));
  });

  it('follows symlinks and skips dangling ones', () => {
    const a = dir('a');
    const b = dir('b');
    const real = dir('real');
    writeFileSync(join(real, 'macvlan-1.1.1'), '');
    symlinkSync(join(tmp, 'nowhere'), join(a, 'macvlan'));
    symlinkSync(join(real, 'macvlan-1.1.1'), join(b, 'macvlan'));
    expect(findPlugin('macvlan', [a, b])).toBe(join(b, 'macvlan'));
  });

  it('does not check the exec bit', () => {
    const a = dir('a');
    writeFileSync(join(a, 'macvlan'), '');
    chmodSync(join(a, 'macvlan'), 0o644);
    expect(findPlugin('macvlan', [a])).toBe(join(a, 'macvlan'));
  });

  it('fails with the libcni message listing the path', () => {
    const a = dir('a');
    const b = dir('b');
    const e = caught(() => findPlugin('x', [a, b]));
    expect(e.message).toBe(`failed to find plugin "x" in path [${a} ${b}]`);
  });

  it('fails for missing directories and an empty path', () => {
    expect(caught(() => findPlugin('x', [join(tmp, 'nope')])).message).toBe(`failed to find plugin "x" in path [${join(tmp, 'nope')}]`);
    expect(caught(() => findPlugin('x', [])).message).toMatch(/no paths provided/);
  });
});
