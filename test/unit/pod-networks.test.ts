import { describe, it, expect } from 'vitest';
import { checkInterfaceNames } from '../../src/multus/pod-networks';
import { delegateFrom, interfaceName, type Delegate } from '../../src/multus/delegate';
import { parseNetworkConfig } from '../../src/delegation/network-config';
import { caught } from '../helpers/caught';


function delegate(netName: string, extra: Partial<Delegate> = {}): Delegate {
  const net = parseNetworkConfig({ cniVersion: '1.0.0', name: netName, type: 'macvlan' }, 'test', '1.0.0');
  return { ...delegateFrom(net), ...extra };
}

describe('interfaceName', () => {
  it('gives the primary the runtime\'s name and the others net1..netN by position', () => {
    const ds = [delegate('a'), delegate('b'), delegate('c'), delegate('d')];
    expect(ds.map((d, i) => interfaceName(d, i, 'eth0'))).toEqual(['eth0', 'net1', 'net2', 'net3']);
  });

  it('honours ifnameRequest, without shifting the positional names of the others', () => {
    const ds = [delegate('a'), delegate('b', { ifnameRequest: 'data0' }), delegate('c')];
    expect(ds.map((d, i) => interfaceName(d, i, 'eth0'))).toEqual(['eth0', 'data0', 'net2']);
  });
});

describe('checkInterfaceNames', () => {
  it('accepts distinct names', () => {
    const ds = [delegate('a'), delegate('b'), delegate('c', { ifnameRequest: 'data0' }), delegate('d')];
    expect(() => checkInterfaceNames(ds, 'eth0')).not.toThrow();
  });

  it('accepts an empty list and a single delegate', () => {
    expect(() => checkInterfaceNames([], 'eth0')).not.toThrow();
    expect(() => checkInterfaceNames([delegate('a')], 'eth0')).not.toThrow();
  });

  it('rejects two delegates that would get the same name, naming both', () => {
    // net2 by request at index 1, net2 by position at index 2.
    const ds = [delegate('a'), delegate('b', { name: 'default/b', ifnameRequest: 'net2' }), delegate('c', { name: 'default/c' })];
    const e = caught(() => checkInterfaceNames(ds, 'eth0'));
    expect(e.code).toBe(7);
    expect(e.message).toBe('networks "default/b" and "default/c" both want interface net2');
  });

  it('rejects a request for the primary\'s interface name', () => {
    const ds = [delegate('primary'), delegate('b', { ifnameRequest: 'eth0' })];
    const e = caught(() => checkInterfaceNames(ds, 'eth0'));
    expect(e.code).toBe(7);
    expect(e.message).toBe('networks "primary" and "b" both want interface eth0');
  });

  it('rejects two identical requests', () => {
    const ds = [delegate('a'), delegate('b', { ifnameRequest: 'ext0' }), delegate('c', { ifnameRequest: 'ext0' })];
    expect(caught(() => checkInterfaceNames(ds, 'eth0')).message).toContain('both want interface ext0');
  });

  it('rejects a requested name that is too long, naming the network', () => {
    const ds = [delegate('a'), delegate('b', { name: 'default/b', ifnameRequest: 'averyveryverylongname' })];
    const e = caught(() => checkInterfaceNames(ds, 'eth0'));
    expect(e.code).toBe(4);
    expect(e.message).toContain('network "default/b"');
    expect(e.message).toContain('interface name is too long');
    expect(e.details).toBe('interface name should be less than 16 characters');
  });

  it('rejects a requested name with invalid characters', () => {
    for (const bad of ['a/b', 'eth:1', 'my if', '.', '..']) {
      const ds = [delegate('a'), delegate('b', { ifnameRequest: bad })];
      expect(caught(() => checkInterfaceNames(ds, 'eth0')).code).toBe(4);
    }
  });

  it('checks the name a position would get, e.g. the 16-byte limit is never hit by netN', () => {
    const ds = Array.from({ length: 12 }, (_, i) => delegate(`n${i}`));
    expect(() => checkInterfaceNames(ds, 'eth0')).not.toThrow();
  });

  it('checks every name before any delegate is attached (it is a pure check that throws on the first problem)', () => {
    const ds = [delegate('a'), delegate('b', { ifnameRequest: 'x'.repeat(16) }), delegate('c', { ifnameRequest: 'net1' })];
    // The too-long name at index 1 is found before anything else: no side effects are possible.
    expect(caught(() => checkInterfaceNames(ds, 'eth0')).message).toContain('interface name is too long');
  });
});
