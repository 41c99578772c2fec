import { bytesToIp, cidrFamily, ipFamily, ipToBytes, ipv4Bytes } from '../../cni/ip';

/** An address as a number, so that ranges are plain comparisons; IPv4-mapped IPv6 text is IPv4, as in Go. */
export interface IP {
  readonly family: 4 | 6;
  readonly value: bigint;
}

/** A parsed CIDR. `textBits` is the width the text was written in (32 or 128), which Go keeps as the mask length. */
export interface Cidr {
  readonly ip: IP;
  readonly prefix: number;
  readonly textBits: 32 | 128;
}

export function bitsOf(family: 4 | 6): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/**
 * Go's net.ParseIP followed by host-local's canonicalizeIP: dotted IPv4 without leading zeros or IPv6 without a
 * zone; `::ffff:a.b.c.d` becomes the IPv4 address, which is also the name its store file gets.
 */
export function parseIp(text: string): IP | undefined {
  const family = ipFamily(text);
  if (family === 0) return undefined;
  // Dotted IPv4 is its number directly: the bytes and their hex text cost every call the first use of three of
  // Node's Buffer functions (about 0.3 ms, compiled on first use).
  if (family === 4) return { family: 4, value: BigInt(text.split('.').reduce((n, field) => n * 256 + Number(field), 0)) };
  const bytes = ipToBytes(text);
  const v4 = ipv4Bytes(bytes);
  return v4 ? { family: 4, value: BigInt(`0x${v4.toString('hex')}`) } : { family: 6, value: BigInt(`0x${bytes.toString('hex')}`) };
}

/** Go's net.ParseCIDR: an address, `/`, and a decimal prefix no longer than the written family allows. */
export function parseCidr(text: string): Cidr | undefined {
  // The text's rule is cni/ip.ts's (checked by hand there: a regular expression costs every process its compile).
  const family = cidrFamily(text);
  if (family === 0) return undefined;
  const slash = text.indexOf('/');
  const ip = parseIp(text.slice(0, slash));
  return ip && { ip, prefix: Number(text.slice(slash + 1)), textBits: family === 6 ? 128 : 32 };
}

/** Go's net.IP.String(): dotted IPv4, RFC 5952 IPv6. This text names the store files, so both plugins must agree. */
export function formatIp(ip: IP): string {
  if (ip.family === 4) {
    const n = Number(ip.value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return bytesToIp(Buffer.from(ip.value.toString(16).padStart(32, '0'), 'hex'));
}

export function sameIp(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/** The host bits of a prefix in a family. */
export function hostMask(family: 4 | 6, prefix: number): bigint {
  return (1n << BigInt(bitsOf(family) - prefix)) - 1n;
}

export function offsetIp(ip: IP, delta: bigint): IP {
  return { family: ip.family, value: ip.value + delta };
}
