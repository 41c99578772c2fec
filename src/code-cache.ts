/*
 * Loads one of the executable's bundles with a V8 code cache beside it. The runtime starts a process per pod, and
 * compiling the bundle's code is a good part of what such a short process does besides Node's own start: with the
 * cache V8 skips parsing the bundle and compiling the functions an earlier call ran. Node 20 has no compile cache
 * of its own (module.enableCompileCache came in 22), so this is the part of the CommonJS loader we need, done with
 * node:vm.
 *
 * One cache per kind of call (plugin and verb: `multus:ADD`, `host-local:DEL`), written at the exit of the first call
 * of that kind that succeeded and found none (or one V8 refused: another Node). So it holds the functions such a call
 * compiles, and only those: V8 deserializes the whole cache, and an ADD's code is twice a host-local call's. A cache
 * written by whatever call came first (a STATUS, a failed ADD) would leave every later ADD compiling most of its code.
 * The next successful calls of the kind write it again, up to GENERATIONS writes in all: a call's cache holds what it
 * read from the cache besides what it compiled, so the functions a later call needed and the first did not (a pod
 * with more networks than the first pod's, its second and later networks prepared while the primary runs: 2-3 ms of
 * compiling at N=4 here) join it, and a node's first few pods settle what every later one finds. A byte before V8's
 * data counts the writes.
 * Its name carries the bundle's size and modification time: V8 checks a cache against the source's length only, and
 * a rebuilt bundle of the same length must never meet the old code. It lives next to the bundle, written by the same
 * owner (root) that installs the bundle, so it is trusted no more than the bundle is. Failing to read or write it
 * only costs the compile.
 * A bundle may require a sibling bundle (`./name.js`): the CNI bundle's second part, builtins-plugins.js, which a
 * multus call loads only when it runs or prepares a built-in (scripts/bundle.mjs), and which requires builtins.js back
 * for the modules they share. Each is loaded once, with its own cache of the same kind.
 */
import { constants, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Script } from 'node:vm';
import { nativeHelper } from './netlink/native';
import { MAX_FILE_BYTES } from './util/bounded-read';

const SUFFIX = '.v8cache';
/** How many successful calls of one kind write its cache, each adding what it compiled to what it read. */
export const GENERATIONS = 4;

function save(script: Script, file: string, cacheFile: string, stamp: string, generation: number): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    const data = script.createCachedData();
    const bytes = Buffer.allocUnsafe(data.length + 1);
    bytes[0] = generation;
    data.copy(bytes, 1);
    writeFileSync(tmp, bytes, { mode: 0o644 });
    renameSync(tmp, cacheFile);
    // Caches of earlier builds of this bundle can never be used again.
    const stale = (f: string) => f.startsWith(`${basename(file)}.`) && f.endsWith(SUFFIX) && !f.startsWith(stamp);
    for (const f of readdirSync(dirname(file)).filter(stale)) unlinkSync(join(dirname(file), f));
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

// The bundles this process loaded, by path, and the caches to write at exit, by one listener added when the first
// bundle is loaded: before the one a CNI call adds last (builtins.ts), which ends the process, so that a bundle
// loaded during the call (builtins-plugins.js, while the primary's plugin runs) still writes its cache.
const loadedBundles = new Map<string, unknown>();
const toSave: (() => void)[] = [];
const WRAP_START = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_END = '\n});';
let listening = false;

/**
 * `require(file)` of a CommonJS bundle for a call of `kind`, compiled with (and, when missing and the call succeeds,
 * leaving behind) that kind's code cache. `load` is the caller's own require, which resolves the bundle's requires
 * as its own: the bundles sit side by side (node:module's createRequire alone costs a millisecond to load). A
 * bundle's require of a sibling bundle (`./name.js`: the CNI bundle's plugins part, which in turn requires the CNI
 * bundle for the modules they share) gets that bundle as loaded here, once, with its own cache of the same kind.
 */
export function requireWithCodeCache<T>(file: string, kind: string, load: NodeJS.Require): T {
  const known = loadedBundles.get(file);
  if (known !== undefined) return known as T;
  // This file runs inline in bin/multus, which V8 compiles in every call without a code cache: the steps up to the
  // bundle's compile are written out here rather than as small functions (each one compiled on its first call), and
  // without a regular expression (compiled on its first use).
  if (!listening) {
    listening = true;
    // `on`, not `once` (exit comes once): once's wrapper removes the listener as it runs, and Node's removeListener,
    // compiled on that first use, took the exit 0.2 ms; the index loop spares the array iterator's first use too.
    process.on('exit', (code) => {
      if (code === 0) for (let i = 0; i < toSave.length; i++) toSave[i]!();
    });
  }
  // Both files are read by the native helper, which the call needs anyway (locks, sockets, plugins): with Node's fs
  // and Buffer functions (open, fstat, read, allocUnsafe, subarray, concat, toString), V8 compiled each on its first
  // use in every process. Opened without blocking and only as regular files, read up to a bound, as every state file.
  const fs = nativeHelper();
  const flags = constants.O_RDONLY | constants.O_NONBLOCK;
  const fd = fs.fsOpen(file, flags, 0, true);
  // The bundle is ASCII (esbuild escapes everything else: scripts/bundle.mjs), so Latin-1 reads it as UTF-8 would,
  // without decoding. One string, Node's CommonJS wrapper (module.wrap) and all, so that the bundle sees what a
  // required file sees: joined as strings, the text and the copy V8 flattens it into for the compile were two
  // strings of the bundle's size in the young generation (the parts are below V8's 128 kB for large objects), which
  // made a pod ADD with one network scavenge at its end (1 ms).
  const st = fd < 0 ? fd : fs.fsStat(fd);
  const source = typeof st === 'number' ? st : fs.fsReadLatin1(fd, WRAP_START, WRAP_END, MAX_FILE_BYTES);
  if (fd >= 0) fs.fsClose(fd);
  if (typeof source === 'number') {
    throw new Error(`cannot read ${file}: ${source === -fs.fsErrno.NOT_REGULAR ? 'not a regular file' : fs.fsErrorText(source)}`);
  }
  // The bundle's caches share `<bundle>.<size>-<mtime>.`; what follows is the kind.
  const [size, mtimeMs] = st as [number, number];
  const stamp = `${basename(file)}.${size}-${mtimeMs}.`;
  // The kind comes from the environment: it names a file only as a plain word (\w, `:`, `+` and `-` as they are,
  // anything else as `_`).
  let plainKind = '';
  for (let i = 0; i < kind.length; i++) {
    const c = kind.charCodeAt(i);
    plainKind += (c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 43 || c === 45 ? kind[i] : '_';
  }
  // Joined as text: `file` is an absolute, normalized path (path.join, compiled on first use, would add nothing).
  const dir = dirname(file);
  const cacheFile = `${dir}/${stamp}${plainKind}${SUFFIX}`;
  let cachedData: Uint8Array | undefined;
  let generation = 0;
  // Our own file: a symlink is not followed. Missing or unreadable, the first call of this kind with this build:
  // compiled from source, and the cache written at exit.
  const cacheFd = fs.fsOpen(cacheFile, flags | constants.O_NOFOLLOW, 0, true);
  const bytes = cacheFd < 0 ? cacheFd : fs.fsReadBytes(cacheFd, MAX_FILE_BYTES);
  if (cacheFd >= 0) fs.fsClose(cacheFd);
  if (typeof bytes !== 'number' && bytes.length > 1 && bytes[0]! >= 1 && bytes[0]! <= GENERATIONS) {
    generation = bytes[0]!;
    // A view, not Buffer's subarray (compiled on first use).
    cachedData = new Uint8Array(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1);
  }
  // node:vm when a bundle is compiled, not when main.ts imports this module: VERSION never needs it.
  const { Script: VmScript } = require('node:vm') as typeof import('node:vm');
  const script = new VmScript(source, { filename: file, ...(cachedData && { cachedData }) });
  if (script.cachedDataRejected) generation = 0;
  if (generation < GENERATIONS) toSave.push(() => save(script, file, cacheFile, stamp, generation + 1));
  const bundleRequire = ((id: string) => (id.startsWith('./') && id.endsWith('.js') && !id.includes('/', 2)
    ? requireWithCodeCache(`${dir}/${id.slice(2)}`, kind, load)
    : load(id))) as NodeJS.Require;
  const module = { exports: {} as T };
  // Known before its top level runs, as Node's module cache is: a bundle it requires may require it back.
  loadedBundles.set(file, module.exports);
  try {
    (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, bundleRequire, module, file, dir);
  } catch (e) {
    loadedBundles.delete(file);
    throw e;
  }
  loadedBundles.set(file, module.exports);
  return module.exports;
}
