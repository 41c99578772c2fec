import { describe, expect, it } from 'vitest';
import { cidrFamily, ipFamily } from '../../src/cni/ip';

// What Go's net.ParseIP and net.ParseCIDR accept (Go 1.17+: no leading zeros in IPv4 fields, no IPv6 zone).
describe('address syntax as Go reads it', () => {
  it('takes dotted IPv4 without leading zeros', () => {
    for (const ip of ['0.0.0.0', '1.2.3.4', '10.0.0.255', '255.255.255.255']) expect(ipFamily(ip), ip).toBe(4);
    for (const ip of ['01.2.3.4', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '1..3.4', '']) {
      expect(ipFamily(ip), ip).toBe(0);
    }
  });

  it('takes IPv6 with one :: standing for at least one group, and a dotted IPv4 tail', () => {
    for (const ip of ['::', '::1', '1::', 'fe80::1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', 'A:b:C:d:E:f:0:1', '::ffff:1.2.3.4',
      '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '2001:db8::ff00:42:8329']) {
      expect(ipFamily(ip), ip).toBe(6);
    }
    for (const ip of ['1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '1:::2', ':1', '1:', '12345::', 'g::', 'fe80::1%eth0', '1::2::3',
      '1:2:3:4:5:6:7:1.2.3.4', '::ffff:01.2.3.4', '1:2:3:4:5:6:7']) {
      expect(ipFamily(ip), ip).toBe(0);
    }
  });

  it('takes a CIDR whose prefix fits its family', () => {
    expect(cidrFamily('10.1.0.0/16')).toBe(4);
    expect(cidrFamily('fd00::/8')).toBe(6);
    expect(cidrFamily('10.1.0.0/33')).toBe(0);
    expect(cidrFamily('fd00::/129')).toBe(0);
    expect(cidrFamily('fe80::%eth0/64')).toBe(0);
    expect(cidrFamily('10.1.0.0/0')).toBe(4);
    expect(cidrFamily('10.1.0.0/32')).toBe(4);
    expect(cidrFamily('::/128')).toBe(6);
    for (const text of ['10.1.0.0', '10.1.0.0/', '/16', '10.1.0.0/1000', '10.1.0.0/16/16', '10.1.0.0//16', '10.1.0.0/1a', '10.1.0.0/-1',
      '10.1.0.0/ 16', '10.1.0.0/16 ', '01.1.0.0/16', '10.1.0/16', '']) {
      expect(cidrFamily(text), text).toBe(0);
    }
  });
});
