import { bitsOf, formatIp, hostMask, offsetIp, type Cidr, type IP } from './address';

/** One range as written in the configuration, decoded but not yet checked. */
export interface RangeSpec {
  subnet?: Cidr;
  rangeStart?: IP;
  rangeEnd?: IP;
  gateway?: IP;
}

/** A checked range with every default filled in: what allocation works with. */
export interface Range {
  /** The network address. */
  readonly network: IP;
  readonly prefix: number;
  readonly rangeStart: IP;
  readonly rangeEnd: IP;
  readonly gateway: IP;
}

interface Bounds {
  network: IP;
  prefix: number;
  rangeStart?: IP;
  rangeEnd?: IP;
}

/**
 * Whether `ip` may be handed out from the range: same family, inside the subnet and between rangeStart and rangeEnd
 * (inclusive). While a range is being checked an unset bound does not limit, which is how the reference validates
 * rangeStart against a rangeEnd that is already given.
 */
export function rangeContains(r: Bounds, ip: IP): boolean {
  if (ip.family !== r.network.family) return false;
  if ((ip.value & ~hostMask(ip.family, r.prefix)) !== r.network.value) return false;
  if (r.rangeStart && ip.value < r.rangeStart.value) return false;
  if (r.rangeEnd && ip.value > r.rangeEnd.value) return false;
  return true;
}

/** The reference's Range.String(), used in every message that names a range set. */
export function rangeText(r: Range): string {
  return `${formatIp(r.rangeStart)}-${formatIp(r.rangeEnd)}`;
}

function cidrText(ip: IP, prefix: number): string {
  return `${formatIp(ip)}/${prefix}`;
}

/**
 * Checks a range and fills in the defaults exactly as the reference does, so that both plugins hand out the same
 * addresses: gateway and rangeStart default to network+1 (the iterator skips the gateway), rangeEnd to the last
 * address (IPv6) or the one before broadcast (IPv4). Throws the reference's message, without the range-set prefix.
 */
export function canonicaliseRange(spec: RangeSpec): Range {
  const subnet = spec.subnet;
  if (!subnet) throw new Error('IP <nil> not v4 nor v6');
  const { ip, prefix, textBits } = subnet;
  // A /31 or /32 (/127, /128) leaves nothing once network and broadcast are set aside.
  if (prefix > textBits - 2) throw new Error(`Network ${cidrText(ip, prefix)} too small to allocate from`);
  // `::ffff:10.0.0.0/104` is an IPv4 address under an IPv6 mask.
  if (bitsOf(ip.family) !== textBits) throw new Error('IPNet IP and Mask version mismatch');
  const host = hostMask(ip.family, prefix);
  const network: IP = { family: ip.family, value: ip.value & ~host };
  if (network.value !== ip.value) {
    throw new Error(`Network has host bits set. For a subnet mask of length ${prefix} the network address is ${formatIp(network)}`);
  }
  const bounds: Bounds = { network, prefix, rangeStart: spec.rangeStart, rangeEnd: spec.rangeEnd };
  // Not checked against the subnet: the reference accepts a gateway anywhere.
  const gateway = spec.gateway ?? offsetIp(network, 1n);
  if (spec.rangeStart && !rangeContains(bounds, spec.rangeStart)) {
    throw new Error(`RangeStart ${formatIp(spec.rangeStart)} not in network ${cidrText(network, prefix)}`);
  }
  const rangeStart = spec.rangeStart ?? offsetIp(network, 1n);
  bounds.rangeStart = rangeStart;
  if (spec.rangeEnd && !rangeContains(bounds, spec.rangeEnd)) {
    throw new Error(`RangeEnd ${formatIp(spec.rangeEnd)} not in network ${cidrText(network, prefix)}`);
  }
  const last = network.value | host;
  const rangeEnd = spec.rangeEnd ?? { family: network.family, value: network.family === 4 ? last - 1n : last };
  return { network, prefix, rangeStart, rangeEnd, gateway };
}

/** Whether two ranges share an address; ranges of different families never do. */
export function rangesOverlap(a: Range, b: Range): boolean {
  if (a.network.family !== b.network.family) return false;
  return rangeContains(a, b.rangeStart) || rangeContains(a, b.rangeEnd) || rangeContains(b, a.rangeStart) || rangeContains(b, a.rangeEnd);
}
