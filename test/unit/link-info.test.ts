import { describe, expect, it } from 'vitest';
import { ipvlanLinkInfo, macvlanLinkInfo, newLinkRequest, decodeLinkInfo } from '../../src/netlink/link-info';
import { address, decodeAddress, decodeLink, decodeRoute, deleteGroup, getLink, getLinkByName, route, setLink } from '../../src/netlink/messages';
import { bytesToIp, ipToBytes, networkOf, parseCidr, parseMac } from '../../src/cni/ip';

// Expected bytes are written out by hand from linux/if_link.h and linux/rtnetlink.h, not produced by the encoder.
const hex = (s: string) => s.replace(/\s+/g, '');

describe('RTM_NEWLINK requests for the link plugins', () => {
  it('creates a macvlan in another namespace: name, MTU, MAC, parent, IFLA_NET_NS_FD, kind and mode', () => {
    const bytes = newLinkRequest({
      name: 'veth01234567', parentIndex: 3, netnsFd: 7, mtu: 1400,
      mac: Buffer.from([0x02, 0x42, 0xac, 0x11, 0x00, 0x99]), linkInfo: macvlanLinkInfo('bridge'),
    });
    expect(bytes.toString('hex')).toBe(hex(`
      00 00 0000 00000000 00000000 00000000
      1100 0300 7665746830313233343536 3700 000000
      0800 0400 78050000
      0a00 0100 0242ac110099 0000
      0800 0500 03000000
      0800 1c00 07000000
      1c00 1200 0c00 0100 6d6163766c616e00 0c00 0200 0800 0100 04000000`));
  });

  it('leaves MTU and MAC out when not configured, and adds the broadcast queue length when it is', () => {
    const bytes = newLinkRequest({ name: 'vethaabbccdd', parentIndex: 2, netnsFd: 21, mtu: 0, linkInfo: macvlanLinkInfo('passthru', 2000) });
    expect(bytes.toString('hex')).toBe(hex(`
      00 00 0000 00000000 00000000 00000000
      1100 0300 766574686161626263636464 00 000000
      0800 0500 02000000
      0800 1c00 15000000
      2400 1200 0c00 0100 6d6163766c616e00 1400 0200 0800 0100 08000000 0800 0700 d0070000`));
  });

  it('encodes each macvlan mode as the kernel bit', () => {
    const modeOf = (b: Buffer) => b.readUInt32LE(b.length - 4);
    expect(modeOf(macvlanLinkInfo('private'))).toBe(1);
    expect(modeOf(macvlanLinkInfo('vepa'))).toBe(2);
    expect(modeOf(macvlanLinkInfo('bridge'))).toBe(4);
    expect(modeOf(macvlanLinkInfo('passthru'))).toBe(8);
  });

  it('creates an ipvlan with a u16 mode and no flags attribute', () => {
    const bytes = newLinkRequest({ name: 'veth00000001', parentIndex: 5, netnsFd: 9, mtu: 9000, linkInfo: ipvlanLinkInfo('l3') });
    expect(bytes.toString('hex')).toBe(hex(`
      00 00 0000 00000000 00000000 00000000
      1100 0300 766574683030303030303031 00 000000
      0800 0400 28230000
      0800 0500 05000000
      0800 1c00 09000000
      1c00 1200 0b00 0100 6970766c616e00 00 0c00 0200 0600 0100 0100 0000`));
    expect(ipvlanLinkInfo('l2').subarray(-4).readUInt16LE(0)).toBe(0);
    expect(ipvlanLinkInfo('l3s').subarray(-4).readUInt16LE(0)).toBe(2);
  });

  it('reads kind and mode back from IFLA_LINKINFO as the kernel reports it', () => {
    // The kernel reports more IFLA_MACVLAN_* attributes (flags, queue lengths) than we send.
    const reported = Buffer.from(hex(`0c00 0100 6d6163766c616e00 1c00 0200 0800 0100 02000000 0600 0200 0000 0000 0800 0700 e8030000`), 'hex');
    expect(decodeLinkInfo(reported)).toEqual({ kind: 'macvlan', mode: 'vepa' });
    expect(decodeLinkInfo(ipvlanLinkInfo('l3s').subarray(4))).toEqual({ kind: 'ipvlan', mode: 'l3s' });
    expect(decodeLinkInfo(Buffer.from(hex('0900 0100 7665746800 000000'), 'hex'))).toEqual({ kind: 'veth' });
    expect(decodeLinkInfo(undefined)).toEqual({ kind: '' });
  });
});

describe('rtnetlink messages', () => {
  it('renames and brings up a link by index (RTM_SETLINK)', () => {
    expect(setLink(4, { name: 'eth1' }).toString('hex')).toBe(hex(`00 00 0000 04000000 00000000 00000000 0900 0300 6574683100 000000`));
    expect(setLink(4, { up: true }).toString('hex')).toBe(hex(`00 00 0000 04000000 01000000 01000000`));
    expect(setLink(4, { up: false }).toString('hex')).toBe(hex(`00 00 0000 04000000 00000000 01000000`));
    expect(setLink(4, { mtu: 1400 }).toString('hex')).toBe(hex(`00 00 0000 04000000 00000000 00000000 0800 0400 78050000`));
  });

  it('puts a link in a device group and deletes the whole group with one request (IFLA_GROUP)', () => {
    expect(setLink(4, { group: 0x10001 }).toString('hex')).toBe(hex(`00 00 0000 04000000 00000000 00000000 0800 1b00 01000100`));
    expect(deleteGroup(0x10001).toString('hex')).toBe(hex(`00 00 0000 00000000 00000000 00000000 0800 1b00 01000100`));
  });

  it('adds an IPv4 address with its broadcast, an IPv6 one without', () => {
    expect(address(2, '10.99.0.10/24').toString('hex')).toBe(hex(`
      02 18 00 00 02000000
      0800 0200 0a63000a
      0800 0100 0a63000a
      0800 0400 0a6300ff`));
    expect(address(2, '10.0.0.1/31').length).toBe(8 + 8 + 8);
    expect(address(3, 'fd95::2/64').toString('hex')).toBe(hex(`
      0a 40 00 00 03000000
      1400 0200 fd950000000000000000000000000002
      1400 0100 fd950000000000000000000000000002`));
  });

  it('adds routes in the main table (or another) and deletes them with scope and protocol left open', () => {
    expect(route({ dst: '0.0.0.0/0', gw: '10.99.0.1', oif: 2 }).toString('hex')).toBe(hex(`
      02 00 00 00 fe 03 00 01 00000000
      0800 0500 0a630001
      0800 0400 02000000
      0800 0f00 fe000000`));
    // Host bits of the destination are cleared, as Go's ParseCIDR does.
    expect(route({ dst: '172.30.1.0/16', oif: 2, priority: 100, table: 1000, scope: 253 }).toString('hex')).toBe(hex(`
      02 10 00 00 00 03 fd 01 00000000
      0800 0100 ac1e0000
      0800 0400 02000000
      0800 0600 64000000
      0800 0f00 e8030000`));
    expect(route({ dst: '::/0', gw: 'fe80::1', oif: 7 }, true).toString('hex')).toBe(hex(`
      0a 00 00 00 fe 00 ff 00 00000000
      1400 0500 fe800000000000000000000000000001
      0800 0400 07000000
      0800 0f00 fe000000`));
  });

  it('asks for links without their statistics (IFLA_EXT_MASK with RTEXT_FILTER_SKIP_STATS)', () => {
    expect(getLinkByName('net1').toString('hex')).toBe(hex(`00 00 0000 00000000 00000000 00000000 0900 0300 6e65743100 000000 0800 1d00 08000000`));
    expect(getLink(7).toString('hex')).toBe(hex(`00 00 0000 07000000 00000000 00000000 0800 1d00 08000000`));
  });

  it('decodes links, addresses and routes as the kernel sends them', () => {
    const link = Buffer.from(hex(`
      00 00 0100 05000000 43100100 00000000
      0900 0300 6574683000 000000
      0800 0400 dc050000
      0a00 0100 0242ac110099 0000
      0800 0500 03000000`), 'hex');
    expect(decodeLink(link)).toEqual({ index: 5, name: 'eth0', mtu: 1500, mac: '02:42:ac:11:00:99', up: true, parentIndex: 3 });
    // Attributes it does not read are skipped; IFLA_LINKINFO is kept as sent; a repeated one keeps its last value.
    const withInfo = Buffer.from(hex(`
      00 00 0100 06000000 02100000 00000000
      0800 0400 dc050000
      0800 1000 00000000
      1000 1200 0c00 0100 6d6163766c616e00
      0800 0400 e8030000`), 'hex');
    const decoded = decodeLink(withInfo);
    expect(decoded).toMatchObject({ index: 6, name: '', mtu: 1000, mac: '', up: false });
    expect(decoded.linkInfo?.toString('hex')).toBe(hex('0c00 0100 6d6163766c616e00'));

    // IFA_FLAGS (u32) overrides the 8-bit header flags: here IFA_F_TENTATIVE | IFA_F_PERMANENT.
    const addr = Buffer.from(hex(`0a 40 00 00 05000000 1400 0100 fd950000000000000000000000000002 0800 0800 c0000000`), 'hex');
    expect(decodeAddress(addr)).toEqual({ index: 5, family: 6, ip: 'fd95::2', prefixLen: 64, flags: 0xc0, scope: 0 });

    const multipath = Buffer.from(hex(`02 00 00 00 fe 03 00 01 00000000 0800 0f00 fe000000 0c00 0900 0800 0000 02000000`), 'hex');
    expect(decodeRoute(multipath)).toMatchObject({ family: 4, dst: '0.0.0.0/0', dstLen: 0, table: 254, multipath: true, cloned: false });
    expect(decodeRoute(multipath).oif).toBeUndefined();
  });
});

describe('IP text and bytes', () => {
  it('round-trips addresses in the text form Go prints', () => {
    for (const ip of ['10.1.2.3', 'fd95::2', '::', '::1', 'fe80::a4ca:41ff:feb1:e64d', '2001:db8:0:1:1:1:1:1', '2001:db8::1:0:0:1']) {
      expect(bytesToIp(ipToBytes(ip))).toBe(ip);
    }
    expect(bytesToIp(ipToBytes('2001:0DB8:0000:0000:0001:0000:0000:0001'))).toBe('2001:db8::1:0:0:1');
    expect(networkOf(parseCidr('10.99.0.10/24'))).toBe('10.99.0.0/24');
    expect(networkOf(parseCidr('fd95::2/64'))).toBe('fd95::/64');
  });

  it('parses MACs in the spellings Go accepts, and only 6-byte ones', () => {
    expect(parseMac('02:42:AC:11:00:99')?.toString('hex')).toBe('0242ac110099');
    expect(parseMac('02-42-ac-11-00-99')?.toString('hex')).toBe('0242ac110099');
    expect(parseMac('0242.ac11.0099')?.toString('hex')).toBe('0242ac110099');
    for (const bad of ['zz:zz', '02:42:ac:11:00', '02:42-ac:11:00:99', '02:42:ac:11:00:99:00:01', '']) expect(parseMac(bad)).toBeUndefined();
  });
});
