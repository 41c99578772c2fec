/**
 * The protobuf wire format, just enough for hand-written messages of small gRPC APIs (kubelet PodResources, CRI).
 *
 * Encoding takes a flat list of (field number, value) pairs; decoding gives a field number → values view whose
 * accessors apply proto3's rules (absent means the zero value, the last of repeated scalars wins, repeated varints
 * may come packed or not). A message decoder is then a few accessor calls. Not a general protobuf library: no
 * schemas, no groups (wire types 3/4 are refused), no zigzag (no API we speak uses sint types).
 */

/** The input is not a protobuf message of the expected shape. */
export class WireFormatError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'WireFormatError';
  }
}

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;

/**
 * One field to encode. Numbers, bigints and booleans are varints, strings and byte arrays length-delimited (an
 * embedded message is the Buffer `encodeMessage` made). `undefined` is skipped, so optional fields read naturally.
 * Repeat a field number for a repeated field.
 */
export type EncodeValue = number | bigint | boolean | string | Uint8Array | undefined;
export type EncodeField = readonly [fieldNumber: number, value: EncodeValue];

function varintBytes(value: bigint): number[] {
  // Negative int32/int64 values are sent as their 64-bit two's complement, ten bytes, as protobuf does.
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function tagBytes(fieldNumber: number, wireType: number): number[] {
  if (!Number.isInteger(fieldNumber) || fieldNumber < 1 || fieldNumber > 0x1fffffff) {
    throw new RangeError(`protobuf field number ${fieldNumber} is out of range`);
  }
  return varintBytes((BigInt(fieldNumber) << 3n) | BigInt(wireType));
}

export function encodeMessage(fields: readonly EncodeField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [no, value] of fields) {
    if (value === undefined) continue;
    if (typeof value === 'string' || value instanceof Uint8Array) {
      const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
      parts.push(Buffer.from([...tagBytes(no, WireType.LengthDelimited), ...varintBytes(BigInt(body.length))]), Buffer.from(body));
    } else {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`protobuf field ${no}: ${value} is not an integer`);
      const n = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
      parts.push(Buffer.from([...tagBytes(no, WireType.Varint), ...varintBytes(n)]));
    }
  }
  return Buffer.concat(parts);
}

/**
 * One occurrence of a field: where its value lies in the message's buffer (for a varint, its bytes). Values are
 * read only when asked for: slicing a Buffer per field made a kubelet answer mostly garbage-collector work.
 */
export interface WireValue {
  wireType: number;
  start: number;
  end: number;
}

/** Reads a varint at `pos`; returns the value and the position after it. */
function readVarint(buf: Buffer, pos: number, what: string): [bigint, number] {
  let result = 0n;
  for (let shift = 0n, i = pos; i < buf.length && shift < 70n; shift += 7n, i++) {
    const b = buf[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [BigInt.asUintN(64, result), i + 1];
  }
  throw new WireFormatError(`truncated or overlong varint in ${what} at byte ${pos}`);
}

/**
 * The same for tags and lengths, the hot path of decoding, in plain numbers (BigInt arithmetic is several times
 * slower). Values beyond 2^35 are refused: no tag or length gets near that.
 */
function readSmallVarint(buf: Buffer, pos: number, end: number, what: string): [number, number] {
  let result = 0;
  for (let i = pos, factor = 1; i < end && i < pos + 5; i++, factor *= 128) {
    const b = buf[i]!;
    result += (b & 0x7f) * factor;
    if ((b & 0x80) === 0) return [result, i + 1];
  }
  throw new WireFormatError(`truncated or oversized varint in ${what} at byte ${pos}`);
}

/** The position after the varint at `pos`, without reading its value. */
function skipVarint(buf: Buffer, pos: number, end: number, what: string): number {
  for (let i = pos; i < end && i < pos + 10; i++) if ((buf[i]! & 0x80) === 0) return i + 1;
  throw new WireFormatError(`truncated or overlong varint in ${what} at byte ${pos}`);
}

/** Field number → every occurrence, in wire order, with accessors that read values the way protobuf does. */
export class DecodedMessage {
  constructor(
    private readonly buf: Buffer,
    readonly fields: ReadonlyMap<number, readonly WireValue[]>,
  ) {}

  private lengthDelimited(no: number): readonly WireValue[] {
    const all = this.fields.get(no) ?? [];
    for (const v of all) {
      if (v.wireType !== WireType.LengthDelimited) throw new WireFormatError(`field ${no} has wire type ${v.wireType}, expected length-delimited`);
    }
    return all;
  }

  /** The last occurrence wins, as in protobuf; absent is empty. */
  bytes(no: number): Buffer {
    const v = this.lengthDelimited(no).at(-1);
    return v ? this.buf.subarray(v.start, v.end) : Buffer.alloc(0);
  }

  strings(no: number): string[] {
    return this.lengthDelimited(no).map((v) => this.buf.toString('utf8', v.start, v.end));
  }

  string(no: number): string {
    const v = this.lengthDelimited(no).at(-1);
    return v ? this.buf.toString('utf8', v.start, v.end) : '';
  }

  messages(no: number): DecodedMessage[] {
    return this.lengthDelimited(no).map((v) => decodeRange(this.buf, v.start, v.end));
  }

  /** An absent embedded message decodes as an empty one, so chains of accessors need no checks. */
  message(no: number): DecodedMessage {
    const v = this.lengthDelimited(no).at(-1);
    return v ? decodeRange(this.buf, v.start, v.end) : EMPTY;
  }

  /** Repeated unsigned varints, packed (proto3's default) or one per occurrence. */
  bigints(no: number): bigint[] {
    const out: bigint[] = [];
    for (const v of this.fields.get(no) ?? []) {
      if (v.wireType === WireType.Varint) {
        out.push(readVarint(this.buf, v.start, `field ${no}`)[0]);
      } else if (v.wireType === WireType.LengthDelimited) {
        for (let pos = v.start; pos < v.end; ) {
          const [value, next] = readVarint(this.buf.subarray(0, v.end), pos, `packed field ${no}`);
          out.push(value);
          pos = next;
        }
      } else {
        throw new WireFormatError(`field ${no} has wire type ${v.wireType}, expected a varint`);
      }
    }
    return out;
  }

  bigint(no: number): bigint {
    return this.bigints(no).at(-1) ?? 0n;
  }

  /** A uint32/int64-style varint as a JS number; values beyond 2^53 are refused rather than rounded. */
  uints(no: number): number[] {
    return this.bigints(no).map((v) => {
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireFormatError(`field ${no}: ${v} does not fit a JavaScript number`);
      return Number(v);
    });
  }

  uint(no: number): number {
    return this.uints(no).at(-1) ?? 0;
  }

  /** int32/int64 fields: negative values arrive as 64-bit two's complement. */
  int(no: number): number {
    return Number(BigInt.asIntN(64, this.bigint(no)));
  }

  bool(no: number): boolean {
    return this.bigint(no) !== 0n;
  }
}

export function decodeMessage(buf: Buffer): DecodedMessage {
  return decodeRange(buf, 0, buf.length);
}

function decodeRange(buf: Buffer, from: number, end: number): DecodedMessage {
  const fields = new Map<number, WireValue[]>();
  let pos = from;
  while (pos < end) {
    const [tag, afterTag] = readSmallVarint(buf, pos, end, 'field tag');
    const no = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (no < 1 || no > 0x1fffffff) throw new WireFormatError(`invalid field number ${no} at byte ${pos - from}`);
    let value: WireValue;
    if (wireType === WireType.Varint) {
      const next = skipVarint(buf, afterTag, end, `field ${no}`);
      value = { wireType, start: afterTag, end: next };
    } else if (wireType === WireType.LengthDelimited || wireType === WireType.Fixed64 || wireType === WireType.Fixed32) {
      let len: number;
      let start = afterTag;
      if (wireType === WireType.LengthDelimited) [len, start] = readSmallVarint(buf, afterTag, end, `length of field ${no}`);
      else len = wireType === WireType.Fixed64 ? 8 : 4;
      if (len > end - start) throw new WireFormatError(`field ${no} claims ${len} bytes, only ${end - start} remain`);
      value = { wireType, start, end: start + len };
    } else {
      throw new WireFormatError(`unsupported wire type ${wireType} for field ${no} at byte ${pos - from}`);
    }
    pos = value.end;
    const list = fields.get(no);
    if (list) list.push(value);
    else fields.set(no, [value]);
  }
  return new DecodedMessage(buf, fields);
}

const EMPTY = new DecodedMessage(Buffer.alloc(0), new Map());
