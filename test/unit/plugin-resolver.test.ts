import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPlugin } from '../../src/delegation/plugin-path';
import { ipamTypeOf } from '../../src/plugins/link/config';
import { caught } from '../helpers/caught';

// One resolver for every name that becomes a program: nothing outside the plugin directories, whoever asks.
describe('findPlugin refuses names that leave the plugin directories', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'multus-ts-resolver-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  mkdirSync(join(tmp, 'evil'));
  writeFileSync(join(tmp, 'evil', 'x'), '#!/bin/sh\n');
  writeFileSync(join(bin, 'ok'), '#!/bin/sh\n');

  it.each(['../evil/x', `${tmp}/evil/x`, '..', '.', 'evil/../ok', ' ok', 'ok\n'])('refuses %j with code 2 even when the file exists', (name) => {
    const e = caught(() => findPlugin(name, [bin], 'IPAM', 'ipam.type'));
    expect(e.code).toBe(2);
    expect(e.message).toContain('"ipam.type"');
  });

  it('refuses a name that is not a string with code 7', () => {
    expect(caught(() => findPlugin(5 as unknown as string, [bin])).code).toBe(7);
  });

  it('finds a plain name', () => {
    expect(findPlugin('ok', [bin])).toBe(join(bin, 'ok'));
  });

  it('the built-ins read ipam.type through the same rule', () => {
    expect(caught(() => ipamTypeOf({ ipam: { type: '../evil/x' } })).code).toBe(2);
    expect(caught(() => ipamTypeOf({ ipam: { type: 7 } })).code).toBe(7);
    expect(ipamTypeOf({ ipam: { type: 'host-local' } })).toBe('host-local');
    expect(ipamTypeOf({ ipam: {} })).toBe('');
  });
});
