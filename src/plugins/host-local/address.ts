import { isIPv4, isIPv6 } from 'node:net';
import { Address4, Address6 } from 'ip-address';

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

const V4_MAPPED_HIGH = 0xffffn;
const LOW_32 = 0xffffffffn;

export function bitsOf(family: 4 | 6): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/**
 * Go's net.ParseIP followed by host-local's canonicalizeIP: dotted IPv4 without leading zeros or IPv6 without a
 * zone; `::ffff:a.b.c.d` becomes the IPv4 address, which is also the name its store file gets.
 */
export function parseIp(text: string): IP | undefined {
  // Only text with a colon can be IPv6; the IPv6 check is the expensive one (its pattern compiles on first use).
  if (!text.includes(':')) return isIPv4(text) ? { family: 4, value: new Address4(text).bigInt() } : undefined;
  if (text.includes('%') || !isIPv6(text)) return undefined;
  const value = new Address6(text).bigInt();
  return value >> 32n === V4_MAPPED_HIGH ? { family: 4, value: value & LOW_32 } : { family: 6, value };
}

/** Go's net.ParseCIDR: an address, `/`, and a decimal prefix no longer than the written family allows. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const textBits = m[1]!.includes(':') ? 128 : 32;
  const ip = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (!ip || prefix > textBits) return undefined;
  return { ip, prefix, textBits };
}

/** Go's net.IP.String(): dotted IPv4, RFC 5952 IPv6. This text names the store files, so both plugins must agree. */
export function formatIp(ip: IP): string {
  return ip.family === 4 ? Address4.fromBigInt(ip.value).correctForm() : Address6.fromBigInt(ip.value).correctForm();
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
