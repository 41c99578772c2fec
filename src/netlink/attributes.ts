/*
 * Netlink attributes (struct nlattr: u16 length, u16 type, payload padded to 4 bytes), host byte order
 * (little-endian on every machine this runs on).
 */

const NLA_HDRLEN = 4;
// The top two bits of the type are flags (NLA_F_NESTED, NLA_F_NET_BYTEORDER), not part of the type.
const NLA_TYPE_MASK = 0x3fff;

const align4 = (n: number) => (n + 3) & ~3;

export function attr(type: number, payload: Buffer): Buffer {
  const len = NLA_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export function u16Attr(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return attr(type, b);
}

export function u32Attr(type: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return attr(type, b);
}

/** A NUL-terminated string, as the kernel expects names. */
export function stringAttr(type: number, value: string): Buffer {
  return attr(type, Buffer.concat([Buffer.from(value), Buffer.alloc(1)]));
}

export function nestedAttr(type: number, children: Buffer[]): Buffer {
  return attr(type, Buffer.concat(children));
}

/**
 * Calls `fn` with each attribute's type and payload bounds in `buf` from `offset` on, without making a view of each:
 * for decoders that read a few attributes of many.
 */
export function forEachAttr(buf: Buffer, offset: number, fn: (type: number, start: number, end: number) => void): void {
  let off = offset;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    fn(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, off + NLA_HDRLEN, off + len);
    off += align4(len);
  }
}

/** The attributes of a stream, by type; a repeated type keeps its last value. */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  forEachAttr(buf, 0, (type, start, end) => out.set(type, buf.subarray(start, end)));
  return out;
}

export function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
}
