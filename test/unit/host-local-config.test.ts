import { describe, expect, it } from 'vitest';
import { formatIp } from '../../src/plugins/host-local/address';
import { DEFAULT_DATA_DIR, loadConfig, requestedIps } from '../../src/plugins/host-local/config';
import { rangeSetText } from '../../src/plugins/host-local/range-set';
import { caught } from '../helpers/caught';

// cni-contracts.md 4.1 (keys), 4.2 (defaults, canonicalisation, messages), 4.3 (requested IPs), Appendix B.

function conf(ipam: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'hlnet', ...(ipam ? { ipam: { type: 'host-local', ...ipam } } : {}), ...extra };
}

function sets(ipam: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] {
  return loadConfig(conf(ipam, extra)).rangeSets.map(rangeSetText);
}

function errorOf(ipam: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): string {
  const e = caught(() => loadConfig(conf(ipam, extra)));
  expect(e.code).toBe(999);
  return e.message;
}

describe('host-local configuration: defaults', () => {
  it('starts at network+1 (the gateway, skipped later) and ends before broadcast for IPv4', () => {
    const c = loadConfig(conf({ subnet: '10.77.0.0/29' }));
    expect(c.dataDir).toBe(DEFAULT_DATA_DIR);
    expect(c.name).toBe('hlnet');
    expect(c.resolvConf).toBe('');
    expect(c.routes).toEqual([]);
    const r = c.rangeSets[0]![0]!;
    expect([r.rangeStart, r.rangeEnd, r.gateway].map(formatIp)).toEqual(['10.77.0.1', '10.77.0.6', '10.77.0.1']);
    expect(r.prefix).toBe(29);
  });

  it('ends at the last address for IPv6', () => {
    expect(sets({ subnet: 'fd86::/120' })).toEqual(['fd86::1-fd86::ff']);
    expect(sets({ ranges: [[{ subnet: 'fd86::/120', rangeStart: 'fd86::fe' }]] })).toEqual(['fd86::fe-fd86::ff']);
  });

  it('accepts the network and broadcast addresses and a gateway anywhere when given explicitly', () => {
    expect(sets({ subnet: '10.84.0.0/24', rangeStart: '10.84.0.0' })).toEqual(['10.84.0.0-10.84.0.254']);
    expect(sets({ subnet: '10.85.0.0/24', rangeStart: '10.85.0.255', rangeEnd: '10.85.0.255' })).toEqual(['10.85.0.255-10.85.0.255']);
    expect(formatIp(loadConfig(conf({ subnet: '10.83.0.0/24', gateway: '192.168.1.1' })).rangeSets[0]![0]!.gateway)).toBe('192.168.1.1');
    expect(sets({ subnet: '10.1.0.0/30' })).toEqual(['10.1.0.1-10.1.0.2']);
  });

  it('orders sets runtimeConfig.ipRanges, then the single ipam range, then ipam.ranges', () => {
    expect(sets(
      { subnet: '10.2.0.0/24', ranges: [[{ subnet: 'fd60::/64' }], [{ subnet: '10.3.0.0/30' }, { subnet: '10.4.0.0/30' }]] },
      { runtimeConfig: { ipRanges: [[{ subnet: '10.60.0.0/24' }]] } },
    )).toEqual(['10.60.0.1-10.60.0.254', '10.2.0.1-10.2.0.254', 'fd60::1-fd60::ffff:ffff:ffff:ffff', '10.3.0.1-10.3.0.2,10.4.0.1-10.4.0.2']);
  });

  it('reads keys in any case, as Go does, and keeps routes with canonical addresses', () => {
    const c = loadConfig(conf({
      Subnet: '10.9.0.0/24', DataDir: '/tmp/x', ResolvConf: '/etc/r',
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::0/0' }, { dst: '192.168.50.0/24', gw: '10.9.0.254', priority: 5 }],
    }));
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.resolvConf).toBe('/etc/r');
    expect(sets({ Subnet: '10.9.0.0/24' })).toEqual(['10.9.0.1-10.9.0.254']);
    expect(c.routes).toEqual([{ dst: '0.0.0.0/0' }, { dst: '::/0' }, { dst: '192.168.50.0/24', gw: '10.9.0.254', priority: 5 }]);
  });

  it('ignores a single range without a subnet, as the reference does', () => {
    expect(sets({ rangeStart: '10.1.0.5', ranges: [[{ subnet: '10.2.0.0/24' }]] })).toEqual(['10.2.0.1-10.2.0.254']);
  });
});

describe('host-local configuration: the reference messages', () => {
  const cases: Array<[string, Record<string, unknown> | undefined, string]> = [
    ['no ipam', undefined, "IPAM config missing 'ipam' key"],
    ['no ranges', {}, 'no IP ranges specified'],
    ['empty set', { ranges: [[]] }, 'invalid range set 0: empty range set'],
    ['mixed families', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: 'fd00::/64' }]] }, 'invalid range set 0: mixed address families'],
    ['overlap in a set', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.128/25' }]] },
      'invalid range set 0: subnets 10.1.0.1-10.1.0.254 and 10.1.0.129-10.1.0.254 overlap'],
    ['overlapping sets', { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.0/25' }]] }, 'range set 0 overlaps with 1'],
    ['/31', { subnet: '10.1.0.0/31' }, 'invalid range set 0: Network 10.1.0.0/31 too small to allocate from'],
    ['/127', { subnet: 'fd00::/127' }, 'invalid range set 0: Network fd00::/127 too small to allocate from'],
    ['host bits', { subnet: '10.1.0.1/24' }, 'invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.1.0.0'],
    ['rangeStart outside', { subnet: '10.1.0.0/24', rangeStart: '10.2.0.5' }, 'invalid range set 0: RangeStart 10.2.0.5 not in network 10.1.0.0/24'],
    ['rangeEnd outside', { subnet: '10.1.0.0/24', rangeEnd: '10.2.0.5' }, 'invalid range set 0: RangeEnd 10.2.0.5 not in network 10.1.0.0/24'],
    ['rangeStart after rangeEnd', { subnet: '10.1.0.0/24', rangeStart: '10.1.0.50', rangeEnd: '10.1.0.40' },
      'invalid range set 0: RangeStart 10.1.0.50 not in network 10.1.0.0/24'],
    ['rangeEnd of the other family', { ranges: [[{ subnet: '10.1.0.0/24', rangeEnd: 'fd00::1' }]] }, 'invalid range set 0: RangeEnd fd00::1 not in network 10.1.0.0/24'],
    ['/33', { subnet: '10.1.0.0/33' }, 'invalid CIDR address: 10.1.0.0/33'],
    ['empty subnet', { ranges: [[{ subnet: '' }]] }, 'invalid CIDR address: '],
    ['no subnet in a range', { ranges: [[{ rangeStart: '10.1.0.5' }]] }, 'invalid range set 0: IP <nil> not v4 nor v6'],
    ['mapped subnet', { subnet: '::ffff:10.0.0.0/120' }, 'invalid range set 0: IPNet IP and Mask version mismatch'],
    ['bad gateway', { ranges: [[{ subnet: '10.1.0.0/24', gateway: 'bogus' }]] }, 'invalid IP address: bogus'],
    ['second set fails', { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.1/24' }]] },
      'invalid range set 1: Network has host bits set. For a subnet mask of length 24 the network address is 10.2.0.0'],
  ];
  it.each(cases)('%s', (_name, ipam, msg) => {
    expect(errorOf(ipam)).toBe(msg);
  });

  it('says where a failing set comes from', () => {
    const e = caught(() => loadConfig(conf({ subnet: '10.2.0.0/24' }, { runtimeConfig: { ipRanges: [[{ subnet: '10.2.0.0/25' }]] } })));
    expect(e.message).toBe('range set 0 overlaps with 1');
    expect(e.details).toBe('range set 0 is runtimeConfig.ipRanges[0], range set 1 is ipam (subnet, rangeStart, rangeEnd, gateway)');
  });

  it('refuses two addresses of one family before 0.3.0, naming the version as written', () => {
    const twoV4 = { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] };
    expect(errorOf(twoV4, { cniVersion: '0.2.0' })).toBe('CNI version 0.2.0 does not support more than 1 address per family');
    expect(errorOf(twoV4, { cniVersion: undefined })).toBe('CNI version  does not support more than 1 address per family');
    expect(loadConfig(conf(twoV4, { cniVersion: '0.3.0' })).rangeSets).toHaveLength(2);
    expect(loadConfig(conf({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]] }, { cniVersion: '0.2.0' })).rangeSets).toHaveLength(2);
  });

  it('names the key when a value has the wrong type', () => {
    expect(errorOf({ ranges: [[{ subnet: 24 }]] })).toBe('host-local configuration: "ipam.ranges[0][0].subnet" must be a string, got 24');
    expect(errorOf({ subnet: '10.1.0.0/24', dataDir: 5 })).toBe('host-local configuration: "ipam.dataDir" must be a string, got 5');
    expect(errorOf({ ranges: {} })).toBe('host-local configuration: "ipam.ranges" must be a list, got {}');
    expect(errorOf({ subnet: '10.1.0.0/24', routes: [{ dst: 'x' }] })).toMatch(/^host-local configuration: invalid "ipam.routes": .*routes\[0\]\.dst/);
  });
});

describe('host-local configuration: requested IPs', () => {
  const base = conf({ subnet: '10.79.0.0/24' });
  const texts = (c: Record<string, unknown>, args = '') => requestedIps(c, args).map(formatIp);

  it('merges CNI_ARGS IP, args.cni.ips and runtimeConfig.ips in that order, without duplicates', () => {
    const c = { ...base, args: { cni: { ips: ['10.79.0.19', 'fd79::99'] } }, runtimeConfig: { ips: ['10.79.0.12/24', '10.79.0.19'] } };
    expect(texts(c, 'IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.79.0.17/24')).toEqual(['10.79.0.17', '10.79.0.19', 'fd79::99', '10.79.0.12']);
    expect(texts(base)).toEqual([]);
    expect(texts(base, 'IP=::ffff:10.79.0.5')).toEqual(['10.79.0.5']);
    expect(texts(base, 'IP=10.79.0.5;IP=10.79.0.6')).toEqual(['10.79.0.6']);
  });

  it('reads a comma-separated list in CNI_ARGS IP, as Multus passes a pod\'s addresses', () => {
    expect(texts(base, 'IgnoreUnknown=1;IP=10.79.0.7/24,fd79::7')).toEqual(['10.79.0.7', 'fd79::7']);
    expect(caught(() => requestedIps(base, 'IP=10.79.0.7,bogus')).message)
      .toBe('ARGS: error parsing value of pair "IP=10.79.0.7,bogus": invalid IP address bogus');
  });

  it('applies CNI_ARGS rules exactly: case-sensitive keys, IgnoreUnknown', () => {
    expect(caught(() => requestedIps(base, 'K8S_POD_NAME=foo')).message).toBe('ARGS: unknown args ["K8S_POD_NAME=foo"]');
    expect(caught(() => requestedIps(base, 'ip=10.79.0.5')).message).toBe('ARGS: unknown args ["ip=10.79.0.5"]');
    expect(caught(() => requestedIps(base, 'ignoreunknown=true;K8S_POD_NAME=foo')).message)
      .toBe('ARGS: unknown args ["ignoreunknown=true" "K8S_POD_NAME=foo"]');
    expect(caught(() => requestedIps(base, 'IP')).message).toBe('ARGS: invalid pair "IP"');
    expect(caught(() => requestedIps(base, 'IP=10.79.0.300')).message)
      .toBe('ARGS: error parsing value of pair "IP=10.79.0.300": invalid IP address 10.79.0.300');
  });

  it('refuses a bad address in the configuration with the reference text', () => {
    expect(caught(() => requestedIps({ ...base, args: { cni: { ips: ['x'] } } }, '')).message).toBe('invalid IP address x');
    expect(caught(() => requestedIps({ ...base, runtimeConfig: { ips: ['10.1.0.1/33'] } }, '')).message).toBe('invalid IP address 10.1.0.1/33');
  });
});
