/*
 * The one home of IP address, CIDR and MAC text: what Go's net.ParseIP, net.ParseCIDR and net.ParseMAC accept, and
 * how Go prints addresses. Results, configurations, annotations, network-status, default routes, netlink and
 * host-local all go through here, so that every part agrees with the Go plugins on what an address is and how it
 * is written (host-local's store file names depend on the latter).
 */

export type Family = 4 | 6;

/** The field of dotted IPv4 at text[start, end): decimal 0-255, and (Go 1.17 on) no leading zero. */
function isV4Field(text: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0 || length > 3 || (length > 1 && text.charCodeAt(start) === 0x30)) return false;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
    value = value * 10 + c - 0x30;
  }
  return value <= 255;
}

/**
 * Go's IPv4 syntax, checked by hand: the regular expression took V8 0.2-0.3 ms to compile in every process and as
 * much again to compile to machine code at its second use (every CNI call parses addresses). Walked in place, not
 * split: results, configurations and netlink replies check addresses dozens of times per attachment.
 */
function isIpv4(text: string): boolean {
  let fields = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) !== 0x2e) continue;
    if (++fields > 4 || !isV4Field(text, start, i)) return false;
    start = i + 1;
  }
  return fields === 4;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Go's IPv6 syntax: eight groups, or fewer around one `::` that stands for at least one; an IPv4 tail; no zone. */
function isIpv6(text: string): boolean {
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return false;
  let body = text;
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // A dotted IPv4 tail stands for the last two groups.
    if (!isIpv4(tail)) return false;
    body = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  if (!groups.every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? groups.length <= 7 : groups.length === 8;
}

/**
 * 4 or 6 for an address Go's net.ParseIP accepts, else 0. Our own check rather than node:net's isIP, whose IPv6
 * expression costs milliseconds to compile in every process and which also takes a zone.
 */
export function ipFamily(text: string): 0 | Family {
  if (isIpv4(text)) return 4;
  return isIpv6(text) ? 6 : 0;
}

/** 4 or 6 (the family the address is written in) for an address/prefix Go's net.ParseCIDR accepts, else 0. */
export function cidrFamily(text: string): 0 | Family {
  // One '/', an address before it, one to three digits after it (checked by hand: a match array per CIDR otherwise).
  const slash = text.indexOf('/');
  const digits = text.length - slash - 1;
  if (slash <= 0 || digits < 1 || digits > 3) return 0;
  let prefix = 0;
  for (let i = slash + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return 0;
    prefix = prefix * 10 + c - 0x30;
  }
  const family = ipFamily(text.slice(0, slash));
  return family !== 0 && prefix <= (family === 4 ? 32 : 128) ? family : 0;
}

/** The family of an already validated address or CIDR: only IPv6 text has a colon. */
export function familyOf(text: string): Family {
  return text.includes(':') ? 6 : 4;
}

export interface Cidr {
  /** The address as written (a host address for interfaces, a network for routes). */
  ip: string;
  prefix: number;
  family: Family;
}

/** An already validated CIDR, split. */
export function parseCidr(text: string): Cidr {
  const [ip, prefix] = text.split('/');
  return { ip: ip!, prefix: Number(prefix), family: familyOf(ip!) };
}

/** An address Go's net.ParseIP accepts as 4 or 16 bytes, in the family it is written in. */
export function ipToBytes(ip: string): Buffer {
  const family = ipFamily(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipToBytes(v4[1]!);
    text = `${text.slice(0, v4.index)}${b.readUInt16BE(0).toString(16)}:${b.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The 4 bytes of an IPv4 address, also when written IPv4-mapped in 16 bytes (Go's To4); else undefined. */
export function ipv4Bytes(b: Buffer): Buffer | undefined {
  if (b.length === 4) return b;
  if (b.length !== 16 || b[10] !== 0xff || b[11] !== 0xff) return undefined;
  // The ::ffff:0:0/96 prefix compared byte by byte: a prefix Buffer made when this module loads compiled Buffer.from
  // and its hex decoding in every process.
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return undefined;
  return b.subarray(12);
}

/** Go's net.IP.String(): dotted IPv4 (IPv4-mapped included), else RFC 5952 IPv6 (first longest zero run as ::). */
export function bytesToIp(b: Buffer): string {
  const v4 = ipv4Bytes(b);
  if (v4) return [...v4].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The address with its host bits cleared, as bytes. */
export function maskBytes(ip: Buffer, prefix: number): Buffer {
  const out = Buffer.from(ip);
  // Byte by byte (the first one partly), not bit by bit: an address of every attachment goes through here.
  for (let i = prefix >> 3; i < out.length; i++) out[i] &= ~(0xff >> (i === prefix >> 3 ? prefix & 7 : 0));
  return out;
}

/** The address with its host bits set: the IPv4 broadcast address of its subnet. */
export function broadcastBytes(ip: Buffer, prefix: number): Buffer {
  const out = Buffer.from(ip);
  for (let i = prefix >> 3; i < out.length; i++) out[i] |= 0xff >> (i === prefix >> 3 ? prefix & 7 : 0);
  return out;
}

/** The network of a CIDR in canonical text, e.g. 10.1.2.3/16 → 10.1.0.0/16. */
export function networkOf(cidr: Cidr): string {
  return `${bytesToIp(maskBytes(ipToBytes(cidr.ip), cidr.prefix))}/${cidr.prefix}`;
}

/** Whether a valid address lies in a valid CIDR (Go's IPNet.Contains; an address of the other family never does). */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  if (familyOf(ip) !== cidr.family) return false;
  return maskBytes(ipToBytes(ip), cidr.prefix).equals(maskBytes(ipToBytes(cidr.ip), cidr.prefix));
}

export function sameIp(a: string, b: string): boolean {
  return ipToBytes(a).equals(ipToBytes(b));
}

/** Whether `cidr` is a default route destination (0.0.0.0/0, ::/0). */
export function isDefaultDst(cidr: string): boolean {
  return cidr.endsWith('/0');
}

/** The address part of `address/prefix` text. */
export function bareAddress(cidr: string): string {
  return cidr.split('/')[0]!;
}

/**
 * A link-layer address as Go's net.ParseMAC reads it: groups of two hex digits separated by ":" or "-", or of four
 * separated by "."; 6, 8 or 20 bytes. Undefined when it is not one.
 */
export function parseHardwareAddress(text: string): Buffer | undefined {
  let bytes = 0;
  if (/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$/.test(text) || /^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2})+$/.test(text)) bytes = (text.length + 1) / 3;
  else if (/^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4})+$/.test(text)) bytes = (2 * (text.length + 1)) / 5;
  return [6, 8, 20].includes(bytes) ? Buffer.from(text.replace(/[:.-]/g, ''), 'hex') : undefined;
}

/** A 6-byte (Ethernet) MAC address, in any spelling net.ParseMAC accepts; undefined otherwise. */
export function parseMac(text: string): Buffer | undefined {
  const b = parseHardwareAddress(text);
  return b?.length === 6 ? b : undefined;
}

/** Lower-case hex pairs joined by ":", as Go's net.HardwareAddr.String() prints them. */
export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
