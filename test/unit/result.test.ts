import { describe, it, expect } from 'vitest';
import { convertResult, formatResult, parseResult, type Result } from '../../src/cni/result';
import { caught } from '../helpers/caught';

// host-local, dual stack (cni-contracts.md 8.B): ranges 10.78.0.0/24 and fd99:1::/64.
const dualStack = {
  cniVersion: '1.1.0',
  ips: [
    { address: '10.78.0.2/24', gateway: '10.78.0.1' },
    { address: 'fd99:1::2/64', gateway: 'fd99:1::1' },
  ],
  routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }],
  dns: {},
};

// A 1.1 plugin result that uses every 1.1-only field.
const full11 = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'eth0', mac: '22:3b:70:fc:b9:90', mtu: 1400, sandbox: '/run/netns/c1', socketPath: '/run/vhost.sock', pciID: '0000:04:00.5' },
  ],
  ips: [
    { interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' },
    { interface: 0, address: '10.99.1.10/24' },
  ],
  routes: [
    { dst: '0.0.0.0/0', gw: '10.99.0.1', mtu: 1300, advmss: 1260, priority: 100, table: 0, scope: 0 },
    { dst: 'fd00::/8', gw: 'fd00::1' },
  ],
  dns: { nameservers: ['10.0.0.53'], domain: 'example.org', search: ['a.example.org'], options: ['ndots:5'] },
};


function convert(raw: unknown, to: string, fallback = '1.1.0'): Record<string, unknown> {
  return convertResult(parseResult(raw, fallback), to);
}

describe('parseResult', () => {
  it('reads a 1.1.0 result into the internal shape and keeps its version', () => {
    const r = parseResult(full11, '0.4.0');
    expect(r).toEqual<Result>({
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'eth0', mac: '22:3b:70:fc:b9:90', mtu: 1400, sandbox: '/run/netns/c1', socketPath: '/run/vhost.sock', pciID: '0000:04:00.5' },
      ],
      ips: [
        { interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' },
        { interface: 0, address: '10.99.1.10/24' },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '10.99.0.1', mtu: 1300, advmss: 1260, priority: 100, table: 0, scope: 0 },
        { dst: 'fd00::/8', gw: 'fd00::1' },
      ],
      dns: full11.dns,
    });
  });

  it('gives a result without cniVersion the fallback version (fixupResultVersion)', () => {
    expect(parseResult({ ips: [{ address: '10.0.0.2/24' }] }, '1.0.0').cniVersion).toBe('1.0.0');
    expect(parseResult({ cniVersion: '', ip4: { ip: '10.0.0.2/24' } }, '0.2.0')).toEqual({
      cniVersion: '0.2.0',
      interfaces: [],
      ips: [{ address: '10.0.0.2/24' }],
      routes: [],
      dns: {},
    });
  });

  it('reads the shape of the declared version, not whatever keys are present', () => {
    const r = parseResult({ cniVersion: '0.2.0', ips: [{ address: '10.0.0.2/24' }], ip4: { ip: '10.0.0.3/24' } }, '1.1.0');
    expect(r.ips).toEqual([{ address: '10.0.0.3/24' }]);
  });

  it('ignores the 1.x interface fields in a 0.x result and the 1.1 route fields in a 0.2.0 result, as Go does', () => {
    const r04 = parseResult({ cniVersion: '0.4.0', interfaces: [{ name: 'eth0', mtu: 1400, pciID: 'x' }] }, '0.4.0');
    expect(r04.interfaces).toEqual([{ name: 'eth0', mac: '', sandbox: '' }]);
    const r02 = parseResult({ cniVersion: '0.2.0', ip4: { ip: '10.0.0.2/24', routes: [{ dst: '0.0.0.0/0', mtu: 9000 }] } }, '0.2.0');
    expect(r02.routes).toEqual([{ dst: '0.0.0.0/0' }]);
  });

  it('treats null like an absent field, as Go decoding does', () => {
    const r = parseResult(
      { cniVersion: null, interfaces: null, ips: [{ address: '10.0.0.2/24', gateway: null, interface: null }], routes: null, dns: null },
      '1.0.0',
    );
    expect(r).toEqual({ cniVersion: '1.0.0', interfaces: [], ips: [{ address: '10.0.0.2/24' }], routes: [], dns: {} });
  });

  it('treats an empty gateway as no gateway (Go decodes "" to a nil IP)', () => {
    expect(parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: '' }] }, '1.0.0').ips).toEqual([
      { address: '10.0.0.2/24' },
    ]);
  });

  it('refuses an unknown result version with code 1 and the library text', () => {
    const e = caught(() => parseResult({ cniVersion: '9.9.9' }, '1.0.0'));
    expect(e.code).toBe(1);
    expect(e.message).toBe('unsupported CNI result version "9.9.9"');
    expect(caught(() => parseResult({}, '0.5.0')).message).toBe('unsupported CNI result version "0.5.0"');
  });

  it.each<[string, unknown, string]>([
    ['a non-object result', [], '"result" must be an object, got []'],
    ['a null result', null, '"result" must be an object, got null'],
    ['a numeric cniVersion', { cniVersion: 1 }, '"cniVersion" must be a string, got 1'],
    ['ips that is not an array', { cniVersion: '1.0.0', ips: {} }, '"ips" must be an array, got {}'],
    ['an IP entry that is not an object', { cniVersion: '1.0.0', ips: ['10.0.0.2/24'] }, '"ips[0]" must be an object'],
    ['a missing address', { cniVersion: '1.0.0', ips: [{ gateway: '10.0.0.1' }] }, '"ips[0].address" must be a string, got nothing'],
    ['an address without prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2' }] }, '"ips[0].address" must be an address with a prefix length (CIDR), got "10.0.0.2"'],
    ['an IPv4 prefix over 32', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/33' }] }, '"ips[0].address"'],
    ['an IPv6 prefix over 128', { cniVersion: '1.0.0', ips: [{ address: 'fd00::2/129' }] }, '"ips[0].address"'],
    ['a bad octet', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.300/24' }] }, '"ips[0].address"'],
    ['an IPv6 zone', { cniVersion: '1.0.0', ips: [{ address: 'fe80::1%eth0/64' }] }, '"ips[0].address"'],
    ['a bad gateway', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: 'router' }] }, '"ips[0].gateway" must be an IP address, got "router"'],
    ['a fractional interface index', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: 0.5 }] }, '"ips[0].interface" must be an integer, got 0.5'],
    ['a negative interface index', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', interface: -1 }] }, '"ips[0].interface" must be a non-negative interface index, got -1'],
    ['a 0.4.0 version that contradicts the address', { cniVersion: '0.4.0', ips: [{ version: '4', address: 'fd00::2/64' }] }, '"ips[0].version" must be "6" for address fd00::2/64, got "4"'],
    ['an interface without a name', { cniVersion: '1.0.0', interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }] }, '"interfaces[0].name" must be a string, got nothing'],
    ['a string interface mtu', { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mtu: '1500' }] }, '"interfaces[0].mtu" must be an integer, got "1500"'],
    ['a route without dst', { cniVersion: '1.0.0', routes: [{ gw: '10.0.0.1' }] }, '"routes[0].dst" must be a string, got nothing'],
    ['a route with a bad gw', { cniVersion: '0.3.1', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0' }] }, '"routes[0].gw" must be an IP address, got "10.0.0"'],
    ['a string route table', { cniVersion: '1.1.0', routes: [{ dst: '0.0.0.0/0', table: '100' }] }, '"routes[0].table" must be an integer, got "100"'],
    ['a non-object dns', { cniVersion: '1.0.0', dns: [] }, '"dns" must be an object, got []'],
    ['a non-string nameserver', { cniVersion: '1.0.0', dns: { nameservers: [53] } }, '"dns.nameservers[0]" must be a string, got 53'],
    ['a string search list', { cniVersion: '1.0.0', dns: { search: 'example.org' } }, '"dns.search" must be an array, got "example.org"'],
    ['an ip4 that is not an object', { cniVersion: '0.2.0', ip4: '10.0.0.2/24' }, '"ip4" must be an object, got "10.0.0.2/24"'],
    ['an ip4 holding an IPv6 address', { cniVersion: '0.2.0', ip4: { ip: 'fd00::2/64' } }, '"ip4.ip" must be an IPv4 address, got "fd00::2/64"'],
    ['an ip6 holding an IPv4 address', { cniVersion: '0.1.0', ip6: { ip: '10.0.0.2/24' } }, '"ip6.ip" must be an IPv6 address'],
    ['a bad ip6 route', { cniVersion: '0.2.0', ip6: { ip: 'fd00::2/64', routes: [{ dst: '::' }] } }, '"ip6.routes[0].dst"'],
  ])('rejects %s with code 6 naming the field', (_name, raw, text) => {
    const e = caught(() => parseResult(raw, '1.1.0'));
    expect(e.code).toBe(6);
    expect(e.message).toMatch(/^invalid CNI result: /);
    expect(e.message).toContain(text);
  });
});

describe('convertResult', () => {
  it('converts 1.1.0 to 1.1.0 unchanged', () => {
    expect(convert(full11, '1.1.0')).toEqual(full11);
  });

  it('converts 1.1.0 to 1.0.0 changing only the version string', () => {
    expect(convert(full11, '1.0.0')).toEqual({ ...full11, cniVersion: '1.0.0' });
    expect(convert({ ...full11, cniVersion: '1.0.0' }, '1.1.0')).toEqual(full11);
  });

  it.each(['0.3.0', '0.3.1', '0.4.0'])('converts 1.1.0 to %s: ips gain version, interfaces lose the 1.1 fields, routes stay whole', (v) => {
    const out = convert(full11, v);
    expect(out).toEqual({
      cniVersion: v,
      interfaces: [{ name: 'eth0', mac: '22:3b:70:fc:b9:90', sandbox: '/run/netns/c1' }],
      ips: [
        { version: '4', interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' },
        { version: '4', interface: 0, address: '10.99.1.10/24' },
      ],
      routes: full11.routes,
      dns: full11.dns,
    });
    expect(Object.keys((out.ips as object[])[0])).toEqual(['version', 'interface', 'address', 'gateway']);
    expect(Object.keys(out)).toEqual(['cniVersion', 'interfaces', 'ips', 'routes', 'dns']);
  });

  it('computes the version of each IP from its address family', () => {
    expect(convert(dualStack, '0.4.0').ips).toEqual([
      { version: '4', address: '10.78.0.2/24', gateway: '10.78.0.1' },
      { version: '6', address: 'fd99:1::2/64', gateway: 'fd99:1::1' },
    ]);
  });

  it('converts 0.4.0 to 1.0.0 by dropping the per-IP version', () => {
    const r040 = {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', mac: '02:42:ac:11:00:02', sandbox: '/run/netns/c1' }],
      ips: [{ version: '4', interface: 0, address: '10.1.0.2/16', gateway: '10.1.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.1.0.1'] },
    };
    expect(convert(r040, '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      interfaces: r040.interfaces,
      ips: [{ interface: 0, address: '10.1.0.2/16', gateway: '10.1.0.1' }],
      routes: r040.routes,
      dns: r040.dns,
    });
  });

  it('converts between 0.3.x and 0.4.0 changing only the version string', () => {
    const r030 = { cniVersion: '0.3.0', ips: [{ version: '6', address: 'fd00::5/64' }], dns: {} };
    expect(convert(r030, '0.4.0')).toEqual({ ...r030, cniVersion: '0.4.0' });
    expect(convert({ ...r030, cniVersion: '0.4.0' }, '0.3.1')).toEqual({ ...r030, cniVersion: '0.3.1' });
  });

  it('accepts a 0.x IP without version, deriving it', () => {
    expect(convert({ cniVersion: '0.3.1', ips: [{ address: 'fd00::5/64' }] }, '0.3.1').ips).toEqual([
      { version: '6', address: 'fd00::5/64' },
    ]);
  });

  describe('to 0.1.0 / 0.2.0', () => {
    it.each(['0.1.0', '0.2.0'])('gives the dual-stack example as ip4/ip6 with routes split by family (%s)', (v) => {
      expect(convert(dualStack, v)).toEqual({
        cniVersion: v,
        ip4: {
          ip: '10.78.0.2/24',
          gateway: '10.78.0.1',
          routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }],
        },
        ip6: { ip: 'fd99:1::2/64', gateway: 'fd99:1::1', routes: [{ dst: '::/0' }] },
        dns: {},
      });
    });

    it('keeps only the first IP per family and drops interfaces, indices and the 1.1 route fields', () => {
      expect(convert(full11, '0.2.0')).toEqual({
        cniVersion: '0.2.0',
        ip4: { ip: '10.99.0.10/24', gateway: '10.99.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.99.0.1' }] },
        dns: full11.dns,
      });
    });

    it('drops a route whose family has no IP and omits empty routes and gateway', () => {
      const out = convert({ cniVersion: '1.0.0', ips: [{ address: 'fd00::2/64' }], routes: [{ dst: '10.0.0.0/8' }] }, '0.2.0');
      expect(out).toEqual({ cniVersion: '0.2.0', ip6: { ip: 'fd00::2/64' }, dns: {} });
      expect(Object.keys(out.ip6 as object)).toEqual(['ip']);
    });

    it('refuses a result without IP addresses with the Go text', () => {
      const l2Only = { cniVersion: '1.0.0', interfaces: [{ name: 'eth1', mac: '02:42:ac:11:00:99', sandbox: '/run/netns/c2' }] };
      for (const v of ['0.1.0', '0.2.0']) {
        const e = caught(() => convert(l2Only, v));
        expect(e.code).toBe(999);
        expect(e.message).toBe('cannot convert: no valid IP addresses');
      }
    });
  });

  describe('from 0.1.0 / 0.2.0', () => {
    const r020 = {
      cniVersion: '0.2.0',
      ip4: { ip: '10.78.0.2/24', gateway: '10.78.0.1', routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }] },
      ip6: { ip: 'fd99:1::2/64', gateway: 'fd99:1::1', routes: [{ dst: '::/0' }] },
      dns: {},
    };

    it('turns ip4 then ip6 into ips and merges the routes, ip4 first', () => {
      const merged = [{ dst: '0.0.0.0/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }, { dst: '::/0' }];
      expect(convert(r020, '1.0.0')).toStrictEqual({ cniVersion: '1.0.0', ips: dualStack.ips, routes: merged });
      expect(convert(r020, '0.4.0')).toStrictEqual({ ...convert(dualStack, '0.4.0'), routes: merged });
    });

    it('lists the ip6 first only when there is no ip4', () => {
      expect(convert({ cniVersion: '0.1.0', ip6: r020.ip6 }, '0.3.0')).toEqual({
        cniVersion: '0.3.0',
        ips: [{ version: '6', address: 'fd99:1::2/64', gateway: 'fd99:1::1' }],
        routes: [{ dst: '::/0' }],
        dns: {},
      });
    });

    it('round-trips through 0.2.0', () => {
      expect(convert(convert(r020, '1.1.0'), '0.2.0', '1.1.0')).toEqual(r020);
    });
  });

  it('prints dns always for 0.x, and for 1.x only when it has content', () => {
    const bare = { cniVersion: '1.1.0', ips: [{ address: '10.77.0.2/29', gateway: '10.77.0.1' }] };
    for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0']) expect(convert(bare, v).dns).toEqual({});
    for (const v of ['1.0.0', '1.1.0']) expect(convert(bare, v)).not.toHaveProperty('dns');
    expect(convert({ ...bare, dns: { domain: 'x' } }, '1.0.0').dns).toEqual({ domain: 'x' });
    expect(convert({ ...bare, dns: { nameservers: [], search: [] } }, '1.0.0')).not.toHaveProperty('dns');
  });

  it('omits empty interfaces, ips and routes, and zero-valued omitempty fields', () => {
    expect(convert({ cniVersion: '1.0.0', interfaces: [], ips: [], routes: [] }, '0.4.0')).toEqual({ cniVersion: '0.4.0', dns: {} });
    const r = convert(
      { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mac: '', sandbox: '', mtu: 0 }], routes: [{ dst: '0.0.0.0/0', mtu: 0, priority: 0, table: 0 }] },
      '1.1.0',
    );
    expect(r).toEqual({ cniVersion: '1.1.0', interfaces: [{ name: 'eth0' }], routes: [{ dst: '0.0.0.0/0', table: 0 }] });
  });

  it('converts a result built in code, not only parsed ones', () => {
    const built: Result = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'net1', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' }],
      ips: [{ address: '192.0.2.5/24', interface: 0 }],
      routes: [],
      dns: {},
    };
    expect(convertResult(built, '0.3.1')).toEqual({
      cniVersion: '0.3.1',
      interfaces: [{ name: 'net1', mac: '02:00:00:00:00:01', sandbox: '/run/netns/p' }],
      ips: [{ version: '4', interface: 0, address: '192.0.2.5/24' }],
      dns: {},
    });
  });

  it.each(['1.1.0', '1.0.0', '0.4.0', '0.3.1', '0.3.0'])('round-trips the full example through %s', (v) => {
    const out = convert(full11, v);
    expect(convert(out, v, '9.9.9')).toEqual(out);
  });

  it('refuses an unknown target version with code 1', () => {
    const e = caught(() => convert(dualStack, '2.0.0'));
    expect(e.code).toBe(1);
    expect(e.message).toBe('no converter for CNI result version 1.1.0 to 2.0.0');
  });
});

describe('formatResult', () => {
  it('prints like Go: 4-space indentation, no trailing newline', () => {
    const text = formatResult(
      convert(
        {
          cniVersion: '1.0.0',
          interfaces: [{ name: 'eth0', mac: '22:3b:70:fc:b9:90', sandbox: '/run/netns/cnires-c1' }],
          ips: [{ interface: 0, address: '10.99.0.10/24', gateway: '10.99.0.1' }],
          routes: [{ dst: '0.0.0.0/0' }],
        },
        '0.4.0',
      ),
    );
    expect(text).toBe(
      [
        '{',
        '    "cniVersion": "0.4.0",',
        '    "interfaces": [',
        '        {',
        '            "name": "eth0",',
        '            "mac": "22:3b:70:fc:b9:90",',
        '            "sandbox": "/run/netns/cnires-c1"',
        '        }',
        '    ],',
        '    "ips": [',
        '        {',
        '            "version": "4",',
        '            "interface": 0,',
        '            "address": "10.99.0.10/24",',
        '            "gateway": "10.99.0.1"',
        '        }',
        '    ],',
        '    "routes": [',
        '        {',
        '            "dst": "0.0.0.0/0"',
        '        }',
        '    ],',
        '    "dns": {}',
        '}',
      ].join('\n'),
    );
  });

  it('escapes <, > and & as Go does', () => {
    const text = formatResult({ cniVersion: '1.0.0', dns: { domain: '<a&b>' } });
    expect(text).toContain('"domain": "\\u003ca\\u0026b\\u003e"');
    expect(JSON.parse(text)).toEqual({ cniVersion: '1.0.0', dns: { domain: '<a&b>' } });
  });
});
