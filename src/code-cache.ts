/*
 * Loads one of the executable's bundles with a V8 code cache beside it. The runtime starts a process per pod, and
 * compiling the bundle's code is a good part of what such a short process does besides Node's own start: with the
 * cache V8 skips parsing the bundle and compiling the functions an earlier call ran. Node 20 has no compile cache
 * of its own (module.enableCompileCache came in 22), so this is the part of the CommonJS loader we need, done with
 * node:vm.
 *
 * The cache is written at the exit of a call that found none (or one V8 refused: another Node), so it holds the
 * functions that call compiled. Its name carries the bundle's size and modification time: V8 checks a cache against
 * the source's length only, and a rebuilt bundle of the same length must never meet the old code. It lives next to
 * the bundle, written by the same owner (root) that installs the bundle, so it is trusted no more than the bundle
 * is. Failing to read or write it only costs the compile.
 */
import { readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

const SUFFIX = '.v8cache';

function cachePath(file: string): string {
  const st = statSync(file);
  return `${file}.${st.size}-${Math.floor(st.mtimeMs)}${SUFFIX}`;
}

function save(script: Script, file: string, cacheFile: string): void {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, script.createCachedData(), { mode: 0o644 });
    renameSync(tmp, cacheFile);
    // Caches of earlier builds of this bundle can never be used again.
    const stale = (f: string) => f.startsWith(`${basename(file)}.`) && f.endsWith(SUFFIX) && f !== basename(cacheFile);
    for (const f of readdirSync(dirname(file)).filter(stale)) unlinkSync(join(dirname(file), f));
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
  }
}

/** `require(file)` of a CommonJS bundle, compiled with (and, when missing, leaving behind) its code cache. */
export function requireWithCodeCache<T>(file: string): T {
  const cacheFile = cachePath(file);
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // the first call of this build: compiled from source, and the cache written at exit
  }
  const script = new Script(wrap(readFileSync(file, 'utf8')), { filename: file, ...(cachedData && { cachedData }) });
  if (cachedData === undefined || script.cachedDataRejected) process.once('exit', () => save(script, file, cacheFile));
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}
