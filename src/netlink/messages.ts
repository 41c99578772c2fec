import { attr, cString, forEachAttr, parseAttrs, stringAttr, u32Attr } from './attributes';
import { broadcastBytes, bytesToIp, formatMac, ipToBytes, maskBytes, parseCidr, type Family } from '../cni/ip';

const AF_INET = 2;
const AF_INET6 = 10;

function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/*
 * The payloads of the rtnetlink messages we send and read (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h);
 * the message header and the socket are native/netns.c's. A handful of fields is all a pod needs: a general
 * netlink library's generated structs would cost every pod far more to load than these few encoders.
 */

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

// NLM_F_REQUEST and NLM_F_ACK are added to every request by the native helper.
export const NLM_F = { ECHO: 0x8, EXCL: 0x200, CREATE: 0x400, DUMP: 0x300 } as const;

export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, LINKINFO: 18, GROUP: 27, NET_NS_FD: 28, EXT_MASK: 29 } as const;
const IFF_UP = 0x1;
// IFLA_EXT_MASK: leave out the link's statistics (IFLA_STATS, IFLA_STATS64, IFLA_VF_STATS), which nothing here reads
// and which are most of a reply's attributes; the reply is smaller and cheaper to decode.
const RTEXT_FILTER_SKIP_STATS = 1 << 3;

const IFA = { ADDRESS: 1, LOCAL: 2, BROADCAST: 4, FLAGS: 8 } as const;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_TENTATIVE = 0x40;

const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, MULTIPATH: 9, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
const RT_TABLE_UNSPEC = 0;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
// "Any scope" for a delete, as iproute2 sends it.
const RT_SCOPE_NOWHERE = 255;
const RTM_F_CLONED = 0x200;

/** struct ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
export function ifinfomsg(index = 0, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags, 8);
  b.writeUInt32LE(change, 12);
  return b;
}

/** struct ifaddrmsg: family, prefixlen, flags, scope, index (8 bytes). */
function ifaddrmsg(family: number, prefixLen: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt32LE(index, 4);
  return b;
}

interface RtMsg {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

/** struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (12 bytes). */
function rtmsg(m: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(m.family, 0);
  b.writeUInt8(m.dstLen, 1);
  b.writeUInt8(m.table, 4);
  b.writeUInt8(m.protocol, 5);
  b.writeUInt8(m.scope, 6);
  b.writeUInt8(m.type, 7);
  return b;
}

export interface LinkState {
  index: number;
  name: string;
  mtu: number;
  /** Lower-case colon-separated hex, as Go prints a hardware address; '' when the link has none. */
  mac: string;
  up: boolean;
  /** The index of the parent (IFLA_LINK), possibly in another namespace. */
  parentIndex?: number;
  /** IFLA_LINKINFO as sent by the kernel; decodeLinkInfo reads it. */
  linkInfo?: Buffer;
}

/**
 * A link as RTM_NEWLINK describes it. Only the attributes used are read, in one pass: a link has dozens, and a Map
 * of views of them all cost every lookup more than the lookup itself.
 */
export function decodeLink(data: Buffer): LinkState {
  const link: LinkState = { index: data.readInt32LE(4), name: '', mtu: 0, mac: '', up: (data.readUInt32LE(8) & IFF_UP) !== 0 };
  forEachAttr(data, 16, (type, start, end) => {
    switch (type) {
      case IFLA.IFNAME:
        link.name = cString(data.subarray(start, end));
        break;
      case IFLA.MTU:
        link.mtu = data.readUInt32LE(start);
        break;
      case IFLA.ADDRESS:
        link.mac = formatMac(data.subarray(start, end));
        break;
      case IFLA.LINK:
        link.parentIndex = data.readUInt32LE(start);
        break;
      case IFLA.LINKINFO:
        link.linkInfo = data.subarray(start, end);
        break;
    }
  });
  return link;
}

const skipStats = u32Attr(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS);

/** RTM_GETLINK of one link by its name. */
export function getLinkByName(name: string): Buffer {
  return Buffer.concat([ifinfomsg(), stringAttr(IFLA.IFNAME, name), skipStats]);
}

/** RTM_GETLINK of one link by its index, or (with NLM_F_DUMP and no index) of every link. */
export function getLink(index = 0): Buffer {
  return Buffer.concat([ifinfomsg(index), skipStats]);
}

/** RTM_SETLINK changes: a new name, MTU, MAC or device group, and the up flag. */
export interface LinkChange {
  name?: string;
  mtu?: number;
  mac?: Buffer;
  up?: boolean;
  group?: number;
}

export function setLink(index: number, change: LinkChange): Buffer {
  const parts = [change.up === undefined ? ifinfomsg(index) : ifinfomsg(index, change.up ? IFF_UP : 0, IFF_UP)];
  if (change.name !== undefined) parts.push(stringAttr(IFLA.IFNAME, change.name));
  if (change.mtu !== undefined) parts.push(u32Attr(IFLA.MTU, change.mtu));
  if (change.mac !== undefined) parts.push(attr(IFLA.ADDRESS, change.mac));
  if (change.group !== undefined) parts.push(u32Attr(IFLA.GROUP, change.group));
  return Buffer.concat(parts);
}

/** RTM_DELLINK of every link in a device group: the kernel tears them down in one batch. */
export function deleteGroup(group: number): Buffer {
  return Buffer.concat([ifinfomsg(0), u32Attr(IFLA.GROUP, group)]);
}

export interface AddressState {
  index: number;
  family: Family;
  /** The interface's own address (IFA_LOCAL, else IFA_ADDRESS). */
  ip: string;
  prefixLen: number;
  /** IFA_F_* flags, from IFA_FLAGS when present since the header keeps only 8 bits. */
  flags: number;
  scope: number;
}

export function decodeAddress(data: Buffer): AddressState {
  const a = parseAttrs(data.subarray(8));
  const raw = a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS) ?? Buffer.alloc(data.readUInt8(0) === AF_INET ? 4 : 16);
  return {
    index: data.readUInt32LE(4),
    family: data.readUInt8(0) === AF_INET ? 4 : 6,
    ip: bytesToIp(raw),
    prefixLen: data.readUInt8(1),
    flags: a.get(IFA.FLAGS)?.readUInt32LE(0) ?? data.readUInt8(2),
    scope: data.readUInt8(3),
  };
}

export function dumpAddresses(family?: Family): Buffer {
  return ifaddrmsg(family ? afOf(family) : 0, 0, 0);
}

/**
 * An interface address (RTM_NEWADDR/RTM_DELADDR). IPv4 gets its broadcast address, as vishvananda/netlink adds it
 * for the reference plugins (the kernel does not derive one).
 */
export function address(index: number, cidr: string): Buffer {
  const c = parseCidr(cidr);
  const ip = ipToBytes(c.ip);
  const parts = [ifaddrmsg(afOf(c.family), c.prefix, index), attr(IFA.LOCAL, ip), attr(IFA.ADDRESS, ip)];
  if (c.family === 4 && c.prefix < 31) parts.push(attr(IFA.BROADCAST, broadcastBytes(ip, c.prefix)));
  return Buffer.concat(parts);
}

export interface RouteState {
  family: Family;
  /** The destination network as CIDR; a default route is 0.0.0.0/0 or ::/0. */
  dst: string;
  dstLen: number;
  gw?: string;
  oif?: number;
  priority?: number;
  table: number;
  scope: number;
  protocol: number;
  type: number;
  /** A cached clone (e.g. a PMTU exception), not a configured route. */
  cloned: boolean;
  /** Has several next hops (RTA_MULTIPATH) and so no single oif. */
  multipath: boolean;
}

export function decodeRoute(data: Buffer): RouteState {
  const family: Family = data.readUInt8(0) === AF_INET ? 4 : 6;
  const dstLen = data.readUInt8(1);
  const a = parseAttrs(data.subarray(12));
  const dstBytes = a.get(RTA.DST) ?? Buffer.alloc(family === 4 ? 4 : 16);
  const route: RouteState = {
    family,
    dst: `${bytesToIp(dstBytes)}/${dstLen}`,
    dstLen,
    table: a.get(RTA.TABLE)?.readUInt32LE(0) ?? data.readUInt8(4),
    protocol: data.readUInt8(5),
    scope: data.readUInt8(6),
    type: data.readUInt8(7),
    cloned: (data.readUInt32LE(8) & RTM_F_CLONED) !== 0,
    multipath: a.has(RTA.MULTIPATH),
  };
  const gw = a.get(RTA.GATEWAY);
  if (gw) route.gw = bytesToIp(gw);
  const oif = a.get(RTA.OIF);
  if (oif) route.oif = oif.readUInt32LE(0);
  const priority = a.get(RTA.PRIORITY);
  if (priority) route.priority = priority.readUInt32LE(0);
  return route;
}

export function dumpRoutes(family?: Family): Buffer {
  return rtmsg({ family: family ? afOf(family) : 0, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 });
}

/** A route to add or delete: what a CNI result route says, bound to an interface. */
export interface RouteSpec {
  dst: string;
  gw?: string;
  oif: number;
  priority?: number;
  /** Main table when absent. */
  table?: number;
  /** Universe when absent, as the reference plugins add routes. */
  scope?: number;
}

/**
 * RTM_NEWROUTE/RTM_DELROUTE payload. Tables above 255 only fit the RTA_TABLE attribute; a delete leaves the scope
 * and protocol open so that it matches whoever added the route.
 */
export function route(spec: RouteSpec, forDelete = false): Buffer {
  const c = parseCidr(spec.dst);
  const table = spec.table ?? RT_TABLE_MAIN;
  const parts = [
    rtmsg({
      family: afOf(c.family),
      dstLen: c.prefix,
      table: table < 256 ? table : RT_TABLE_UNSPEC,
      protocol: forDelete ? 0 : RTPROT_BOOT,
      scope: spec.scope ?? (forDelete ? RT_SCOPE_NOWHERE : RT_SCOPE_UNIVERSE),
      type: forDelete ? 0 : RTN_UNICAST,
    }),
  ];
  if (c.prefix > 0) parts.push(attr(RTA.DST, maskBytes(ipToBytes(c.ip), c.prefix)));
  if (spec.gw) parts.push(attr(RTA.GATEWAY, ipToBytes(spec.gw)));
  parts.push(u32Attr(RTA.OIF, spec.oif));
  if (spec.priority !== undefined) parts.push(u32Attr(RTA.PRIORITY, spec.priority));
  parts.push(u32Attr(RTA.TABLE, table));
  return Buffer.concat(parts);
}
