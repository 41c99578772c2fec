import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/plugin-exec';
import { GENERATIONS } from '../../src/code-cache';

// The cache is written when the process exits, so each load runs in a process of its own, as a CNI call does.
let dir: string;
let bundle: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'code-cache-'));
  bundle = join(dir, 'builtins.js');
  writeFileSync(bundle, "const { basename } = require('node:path');\nexports.answer = (x) => `${basename(__filename)} ${x * 2}`;\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(kind = 'multus:ADD', exitCode = 0): string {
  const r = spawnSync(process.execPath, ['-e',
    `process.stdout.write(require(${JSON.stringify(join(ROOT, 'dist/code-cache.js'))})
      .requireWithCodeCache(${JSON.stringify(bundle)}, ${JSON.stringify(kind)}, require).answer(21)); process.exitCode = ${exitCode}`,
  ], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout;
}
const caches = () => readdirSync(dir).filter((f) => f.endsWith('.v8cache')).sort();

describe('loading a bundle with its V8 code cache', () => {
  it('loads it as require would, and leaves a cache named after its size, time and kind of call that the next load takes', () => {
    expect(caches()).toEqual([]);
    expect(load()).toBe('builtins.js 42');
    const [cache] = caches();
    expect(cache).toMatch(/^builtins\.js\.\d+-\d+\.multus:ADD\.v8cache$/);
    expect(readFileSync(join(dir, cache!))[0]).toBe(1);
    // Each later successful call writes it again, counting, until GENERATIONS calls have; then it stays as it is.
    for (let n = 2; n <= GENERATIONS; n++) {
      expect(load()).toBe('builtins.js 42');
      expect(readFileSync(join(dir, cache!))[0]).toBe(n);
    }
    const bytes = readFileSync(join(dir, cache!));
    expect(load()).toBe('builtins.js 42');
    expect(readFileSync(join(dir, cache!))).toEqual(bytes);
    expect(load('multus:ADD', 1)).toBe('builtins.js 42');
    expect(readFileSync(join(dir, cache!))).toEqual(bytes);
  });

  it('keeps what the calls before compiled and adds what a later call compiled', () => {
    // `more` is compiled only when a call runs it: the first call does not, the second does.
    writeFileSync(bundle, `exports.answer = (x) => x * 2;\nexports.more = function more(n) { let s = 0; ${Array.from({ length: 200 }, (_, i) => `s += n * ${i};`).join(' ')} return s; };\n`);
    const run = (call: string): void => {
      const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(ROOT, 'dist/code-cache.js'))}).requireWithCodeCache(${JSON.stringify(bundle)}, 'multus:ADD', require).${call}`], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
    };
    run('answer(1)');
    const first = readFileSync(join(dir, caches()[0]!)).length;
    run('answer(1)');
    // The same functions: the same size.
    expect(readFileSync(join(dir, caches()[0]!)).length).toBe(first);
    run('more(1)');
    const third = readFileSync(join(dir, caches()[0]!)).length;
    expect(third).toBeGreaterThan(first + 500);
    // A call that again runs only `answer` keeps `more`, read from the cache.
    run('answer(1)');
    expect(readFileSync(join(dir, caches()[0]!)).length).toBe(third);
  });

  it('keeps one cache per kind of call, written only by a call that succeeded, its kind a plain word', () => {
    expect(load('host-local:DEL', 1)).toBe('builtins.js 42');
    expect(caches()).toEqual([]);
    load('host-local:DEL');
    load('multus:ADD');
    load('../x ADD');
    expect(caches().map((f) => f.replace(/\.\d+-\d+\./, '.'))).toEqual([
      'builtins.js.___x_ADD.v8cache', 'builtins.js.host-local:DEL.v8cache', 'builtins.js.multus:ADD.v8cache',
    ]);
  });

  it('replaces a cache V8 refuses, and drops the caches of an earlier build', () => {
    load();
    load('multus:DEL');
    const [first] = caches();
    writeFileSync(join(dir, first!), 'not a code cache');
    expect(load()).toBe('builtins.js 42');
    expect(readFileSync(join(dir, first!), 'utf8')).not.toBe('not a code cache');
    // A rebuild of the same length: only the time differs, and the old cache must never meet the new code.
    writeFileSync(bundle, readFileSync(bundle, 'utf8').replace('x * 2', 'x + 2'));
    utimesSync(bundle, new Date(), new Date(Date.now() + 5000));
    expect(load()).toBe('builtins.js 23');
    expect(caches()).toHaveLength(1);
    expect(caches()[0]).not.toBe(first);
  });
});

describe('bundles that require each other', () => {
  // a.js requires b.js when asked; b.js requires a.js back (as builtins-plugins.js takes its shared modules from
  // builtins.js). An exit listener added between the two loads ends the process, as builtins.ts's does.
  const run = (loadB: boolean): string => {
    const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(join(ROOT, 'dist/code-cache.js'))})
      .requireWithCodeCache(${JSON.stringify(join(dir, 'a.js'))}, 'multus:ADD', require);
      process.once('exit', (code) => process.reallyExit(code));
      if (${loadB}) process.stdout.write(a.b().answer());`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout;
  };
  beforeEach(() => {
    writeFileSync(join(dir, 'a.js'), "exports.n = 21;\nexports.b = () => require('./b.js');\n");
    writeFileSync(join(dir, 'b.js'), "const a = require('./a.js');\nexports.answer = () => `${a.n * 2} ${a.b() === exports}`;\n");
  });

  it('loads each once, the one from the other as it is, and each writes a cache of its own', () => {
    expect(run(true)).toBe('42 true');
    expect(caches().map((f) => f.replace(/\.\d+-\d+\./, '.'))).toEqual(['a.js.multus:ADD.v8cache', 'b.js.multus:ADD.v8cache']);
  });

  it('writes the cache of a bundle loaded after the first one\'s cache was complete', () => {
    for (let n = 0; n < GENERATIONS; n++) run(false);
    expect(caches().map((f) => f.replace(/\.\d+-\d+\./, '.'))).toEqual(['a.js.multus:ADD.v8cache']);
    expect(run(true)).toBe('42 true');
    expect(caches().map((f) => f.replace(/\.\d+-\d+\./, '.'))).toEqual(['a.js.multus:ADD.v8cache', 'b.js.multus:ADD.v8cache']);
  });
});
