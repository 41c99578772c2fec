import { describe, expect, it } from 'vitest';
import { formatIp, parseCidr, parseIp } from '../../src/plugins/host-local/address';

// The text of an address names its store file, so it must be Go's net.IP.String() exactly.
describe('host-local addresses', () => {
  it('parses IPv4 and IPv6 like Go and prints them canonically', () => {
    expect(parseIp('10.77.0.2')).toEqual({ family: 4, value: 0x0a4d0002n });
    expect(formatIp(parseIp('10.77.0.2')!)).toBe('10.77.0.2');
    expect(formatIp(parseIp('FD99:0001:0:0::0002')!)).toBe('fd99:1::2');
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('1:0:0:1:0:0:1:1')!)).toBe('1::1:0:0:1:1');
    expect(formatIp(parseIp('1:0:1:0:1:0:1:0')!)).toBe('1:0:1:0:1:0:1:0');
    expect(formatIp(parseIp('::')!)).toBe('::');
    expect(formatIp(parseIp('::a00:1')!)).toBe('::a00:1');
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address, as host-local canonicalises it', () => {
    expect(parseIp('::ffff:10.1.0.77')).toEqual(parseIp('10.1.0.77'));
    expect(formatIp(parseIp('::ffff:a01:4d')!)).toBe('10.1.0.77');
  });

  it('refuses what Go refuses', () => {
    for (const bad of ['', '010.1.1.1', '10.1.1', '10.1.1.256', 'fe80::1%eth0', '10.1.0.0/24', ' 10.1.0.1', 'lock', 'last_reserved_ip.0']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('parses CIDRs, keeping the width the text was written in', () => {
    expect(parseCidr('10.1.0.0/24')).toEqual({ ip: parseIp('10.1.0.0'), prefix: 24, textBits: 32 });
    expect(parseCidr('fd00::/64')).toEqual({ ip: parseIp('fd00::'), prefix: 64, textBits: 128 });
    expect(parseCidr('::ffff:10.0.0.0/104')).toEqual({ ip: parseIp('10.0.0.0'), prefix: 104, textBits: 128 });
    for (const bad of ['10.1.0.0/33', 'fd00::/129', '10.1.0.0', '10.1.0.0/', '/24', '10.1.0.0/2x']) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
  });
});
