import { isIPv4, isIPv6 } from 'node:net';

/*
 * IP addresses as netlink carries them (4 or 16 raw bytes) and as CNI results and Go print them (text).
 * Inputs are addresses from validated results and configurations, so a malformed one is a bug.
 */

export type Family = 4 | 6;

export const AF_INET = 2;
const AF_INET6 = 10;

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

export function familyOf(ip: string): Family {
  return isIPv4(ip) ? 4 : 6;
}

export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
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

/** Dotted IPv4, or RFC 5952 IPv6 (the first longest run of two or more zero groups as ::), as Go prints them. */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
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

export interface Cidr {
  /** The address as written (a host address for interfaces, a network for routes). */
  ip: string;
  prefix: number;
  family: Family;
}

export function parseCidr(text: string): Cidr {
  const [ip, prefix] = text.split('/');
  return { ip: ip!, prefix: Number(prefix), family: familyOf(ip!) };
}

/** The address with its host bits cleared, as bytes. */
export function maskBytes(ip: Buffer, prefix: number): Buffer {
  const out = Buffer.from(ip);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3] &= ~(0x80 >> (bit & 7));
  return out;
}

/** The IPv4 broadcast address of an address's subnet, which the kernel wants given explicitly. */
export function broadcastBytes(ip: Buffer, prefix: number): Buffer {
  const out = Buffer.from(ip);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3] |= 0x80 >> (bit & 7);
  return out;
}

/** The network of a CIDR in canonical text, e.g. 10.1.2.3/16 → 10.1.0.0/16. */
export function networkOf(cidr: Cidr): string {
  return `${bytesToIp(maskBytes(ipToBytes(cidr.ip), cidr.prefix))}/${cidr.prefix}`;
}

export function sameIp(a: string, b: string): boolean {
  return ipToBytes(a).equals(ipToBytes(b));
}
