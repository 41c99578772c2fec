import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRegularFile } from '../../src/util/bounded-read';
import { nativeHelper } from '../../src/netlink/native';
import { parseJson } from '../../src/cni/json-text';
import { makeDirs } from '../../src/util/atomic-file';
import { caught } from '../helpers/caught';

describe('readRegularFile', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'multus-ts-read-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const at = (name: string) => join(tmp, name);
  writeFileSync(at('file'), 'content');
  mkdirSync(at('dir'));
  execFileSync('mkfifo', [at('fifo')]);
  symlinkSync('/dev/zero', at('zero'));
  symlinkSync(at('file'), at('link'));

  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      return (e as NodeJS.ErrnoException).code;
    }
    return undefined;
  };

  it('reads a regular file', () => {
    expect(readRegularFile(at('file')).toString()).toBe('content');
  });
  it('refuses a directory, a FIFO (without blocking) and a device', () => {
    expect(code(() => readRegularFile(at('dir')))).toBe('ENOTREG');
    expect(code(() => readRegularFile(at('fifo')))).toBe('ENOTREG');
    expect(code(() => readRegularFile(at('zero'), { follow: true }))).toBe('ENOTREG');
  });
  it('does not follow a symlink unless told to', () => {
    expect(code(() => readRegularFile(at('zero')))).toBe('ELOOP');
    expect(code(() => readRegularFile(at('link')))).toBe('ELOOP');
    expect(readRegularFile(at('link'), { follow: true }).toString()).toBe('content');
  });
  it('refuses a file larger than the bound', () => {
    expect(code(() => readRegularFile(at('file'), { maxBytes: 3 }))).toBe('EFBIG');
    expect(readRegularFile(at('file'), { maxBytes: 7 }).toString()).toBe('content');
  });
});

describe('parseJson', () => {
  it('parses what JSON.parse parses', () => {
    expect(parseJson('{"a":[1,{"b":"[[["}]}')).toEqual({ a: [1, { b: '[[[' }] });
    expect(parseJson('"x\\"[["')).toBe('x"[[');
  });
  it('refuses deep nesting with code 6 and the position', () => {
    const e = caught(() => parseJson(`\n  ${'['.repeat(600)}${']'.repeat(600)}`));
    expect(e.code).toBe(6);
    expect(e.message).toBe('JSON nested deeper than 512 levels at line 2, column 515');
    expect(() => parseJson(`${'['.repeat(512)}${']'.repeat(512)}`)).not.toThrow();
    // Brackets inside strings are no nesting, however many; objects count like arrays.
    expect(() => parseJson(`{"s":"${'['.repeat(600)}${'{'.repeat(600)}","a":[{"b":[]}]}`)).not.toThrow();
    expect(caught(() => parseJson(`${'{"a":'.repeat(513)}1${'}'.repeat(513)}`)).message).toBe('JSON nested deeper than 512 levels at line 1, column 2561');
  });
  it('gives a syntax error its line and column, with code 6', () => {
    const e = caught(() => parseJson('{\n "a": 1,\n}'));
    expect(e.code).toBe(6);
    expect(e.message).toMatch(/line 3, column 1\)$/);
  });
});

describe('makeDirs', () => {
  it('fails instead of looping where mkdir says ENOENT for a parent that exists', () => {
    expect(code(() => makeDirs('/proc/multus-ts-unit/x'))).toBe('ENOENT');
    expect(code(() => makeDirs('/dev/null/x'))).toBe('ENOTDIR');
  });
  it('makes every missing component with the mode asked for, and accepts what exists', () => {
    const top = mkdtempSync(join(tmpdir(), 'makedirs-'));
    try {
      makeDirs(join(top, 'a/b/c'), 0o750);
      for (const d of ['a', 'a/b', 'a/b/c']) expect(statSync(join(top, d)).mode & 0o777).toBe(0o750 & ~process.umask());
      makeDirs(join(top, 'a/b/c'));
      writeFileSync(join(top, 'a/file'), '');
      expect(code(() => makeDirs(join(top, 'a/file')))).toBe('ENOTDIR');
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  });
  function code(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (e) {
      return (e as NodeJS.ErrnoException).code;
    }
    return undefined;
  }
});

describe('fsReadBytes (stdin, code caches)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'multus-ts-readfd-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const readAll = (content: Buffer, maxBytes = 1 << 24): Buffer | number => {
    const path = join(tmp, `in-${content.length}`);
    writeFileSync(path, content);
    const fd = openSync(path, 'r');
    try {
      return nativeHelper().fsReadBytes(fd, maxBytes);
    } finally {
      closeSync(fd);
    }
  };
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));

  it('returns everything up to the end, whether it fills no, one or several of its buffers', () => {
    for (const n of [0, 143, 65535, 65536, 65537, 3 * 65536 + 7]) expect((readAll(bytes(n)) as Buffer).equals(bytes(n))).toBe(true);
  });

  it('refuses more than its bound', () => {
    expect((readAll(bytes(70000), 70000) as Buffer).length).toBe(70000);
    expect(readAll(bytes(70001), 70000)).toBe(-nativeHelper().fsErrno.EFBIG);
  });
});

describe('fsReadLatin1, fsStat and fsSameFile (the code cache\'s reads, the netns check)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'multus-ts-readsrc-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const fs = nativeHelper();

  it('reads a file between a prefix and a suffix as Latin-1, up to its bound, and stats it as Node does', () => {
    const path = join(tmp, 'bundle.js');
    const body = Buffer.concat([Buffer.from('x'.repeat(70000)), Buffer.from([0xe9, 0x41])]);
    writeFileSync(path, body);
    const fd = openSync(path, 'r');
    try {
      expect(fs.fsReadLatin1(fd, '(a ', '\n)', 1 << 20)).toBe(`(a ${body.toString('latin1')}\n)`);
      expect(fs.fsReadLatin1(fd, '', '', 1 << 20)).toBe('');
      const st = statSync(path);
      expect(fs.fsStat(fd)).toEqual([st.size, Math.floor(st.mtimeMs)]);
    } finally {
      closeSync(fd);
    }
    const again = openSync(path, 'r');
    try {
      expect(fs.fsReadLatin1(again, '', '', 70001)).toBe(-fs.fsErrno.EFBIG);
    } finally {
      closeSync(again);
    }
    expect(fs.fsStat(1 << 20)).toBeLessThan(0);
  });

  it('tells whether two paths are one file, following symlinks', () => {
    const a = join(tmp, 'a');
    writeFileSync(a, '');
    writeFileSync(join(tmp, 'b'), '');
    symlinkSync(a, join(tmp, 'link'));
    expect(fs.fsSameFile(a, join(tmp, 'link'))).toBe(1);
    expect(fs.fsSameFile(a, join(tmp, 'b'))).toBe(0);
    expect(fs.fsSameFile(a, join(tmp, 'missing'))).toBe(-fs.fsErrno.ENOENT);
    expect(fs.fsSameFile(a, `${a}\0x`)).toBeLessThan(0);
  });
});
