import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, WireFormatError } from '../../src/grpc/wire';

const hex = (b: Buffer): string => b.toString('hex');

describe('protobuf wire encoding', () => {
  // The byte sequences are the examples of protobuf's encoding guide.
  it('encodes varints, strings and nested messages as protobuf does', () => {
    expect(hex(encodeMessage([[1, 150]]))).toBe('089601');
    expect(hex(encodeMessage([[2, 'testing']]))).toBe('120774657374696e67');
    expect(hex(encodeMessage([[3, encodeMessage([[1, 150]])]]))).toBe('1a03089601');
  });

  it('encodes a negative int as ten bytes of two\'s complement and booleans as 0/1', () => {
    expect(hex(encodeMessage([[1, -1]]))).toBe('08ffffffffffffffffff01');
    expect(hex(encodeMessage([[1, true], [2, false]]))).toBe('08011000');
  });

  it('skips undefined fields and repeats a field number for repeated fields', () => {
    expect(hex(encodeMessage([[1, undefined], [2, 'a'], [2, 'b']]))).toBe('120161120162');
  });

  it('refuses field numbers and numbers protobuf cannot carry', () => {
    expect(() => encodeMessage([[0, 1]])).toThrow(RangeError);
    expect(() => encodeMessage([[1, 1.5]])).toThrow(RangeError);
  });
});

describe('protobuf wire decoding', () => {
  it('round-trips every encodable kind', () => {
    const inner = encodeMessage([[1, 'dev-1'], [2, 7]]);
    const msg = decodeMessage(encodeMessage([[1, 'pod'], [2, 2n ** 60n], [3, inner], [3, inner], [4, true], [5, -5], [6, Buffer.from([0, 255])]]));
    expect(msg.string(1)).toBe('pod');
    expect(msg.bigint(2)).toBe(2n ** 60n);
    expect(msg.messages(3).map((m) => [m.string(1), m.uint(2)])).toEqual([['dev-1', 7], ['dev-1', 7]]);
    expect(msg.bool(4)).toBe(true);
    expect(msg.int(5)).toBe(-5);
    expect([...msg.bytes(6)]).toEqual([0, 255]);
  });

  it('gives zero values for absent fields, an empty message included', () => {
    const msg = decodeMessage(Buffer.alloc(0));
    expect(msg.string(1)).toBe('');
    expect(msg.uint(2)).toBe(0);
    expect(msg.bool(3)).toBe(false);
    expect(msg.strings(4)).toEqual([]);
    expect(msg.message(5).string(1)).toBe('');
    expect(msg.fields.size).toBe(0);
  });

  it('reads repeated varints packed and unpacked, and the last scalar wins', () => {
    expect(decodeMessage(Buffer.from('2206038e029ea705', 'hex')).uints(4)).toEqual([3, 270, 86942]);
    expect(decodeMessage(encodeMessage([[4, 3], [4, 270]])).uints(4)).toEqual([3, 270]);
    expect(decodeMessage(encodeMessage([[1, 'a'], [1, 'b']])).string(1)).toBe('b');
  });

  it('reads a nested message within its own bounds, packed fields and strings included', () => {
    // inner: field 4 packed [3, 270] with a truncated varint right after the inner message would be misread if the
    // inner decoder looked past its end.
    const inner = Buffer.concat([Buffer.from('2203038e02', 'hex'), encodeMessage([[1, 'in']])]);
    const outer = decodeMessage(encodeMessage([[1, inner], [2, 'out'], [3, 300]]));
    expect(outer.message(1).uints(4)).toEqual([3, 270]);
    expect(outer.message(1).string(1)).toBe('in');
    expect(decodeMessage(outer.bytes(1)).string(1)).toBe('in');
    expect([outer.string(2), outer.uint(3)]).toEqual(['out', 300]);
    const cut = Buffer.from('0a02089612016f', 'hex'); // field 1 = message whose varint 0x96 runs past its 2 bytes
    expect(() => decodeMessage(cut).message(1)).toThrow(WireFormatError);
  });

  it('skips fixed32 and fixed64 fields it is not asked about', () => {
    // field 1 fixed64, field 2 fixed32, field 3 string
    const buf = Buffer.concat([Buffer.from('090102030405060708', 'hex'), Buffer.from('1501020304', 'hex'), encodeMessage([[3, 'x']])]);
    const msg = decodeMessage(buf);
    expect(msg.string(3)).toBe('x');
    expect([...msg.fields.keys()]).toEqual([1, 2, 3]);
  });

  it('refuses truncated input, groups and wrong wire types with a WireFormatError', () => {
    expect(() => decodeMessage(Buffer.from('0896', 'hex'))).toThrow(WireFormatError); // varint cut short
    expect(() => decodeMessage(Buffer.from('1207746573', 'hex'))).toThrow(/claims 7 bytes, only 3 remain/);
    expect(() => decodeMessage(Buffer.from('0b', 'hex'))).toThrow(/wire type 3/);
    expect(() => decodeMessage(Buffer.from('0901020304', 'hex'))).toThrow(WireFormatError); // fixed64 cut short
    expect(() => decodeMessage(encodeMessage([[1, 5]])).string(1)).toThrow(/expected length-delimited/);
    expect(() => decodeMessage(encodeMessage([[1, 2n ** 60n]])).uint(1)).toThrow(/does not fit/);
  });
});
