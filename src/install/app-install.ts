import {
  closeSync, copyFileSync, existsSync, fchmodSync, fsyncSync, lstatSync, openSync, readdirSync, readFileSync, renameSync,
  rmSync, utimesSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { ENTRY_FILE, NODE_FILE, VERSION_DIR, type AppManifest } from './app-files';
import { readlinkOrUndefined, type HostFiles } from './host-files';
import { fsyncDir, makeDirs } from '../util/atomic-file';
import { onHost, type InstallOptions } from './options';

/*
 * Puts the executable on the node: the application in its own version directory, `<cni-bin-dir>/multus` a symlink
 * to it switched in one rename (a runtime exec never sees a half-written file, and there is no "text file busy"),
 * built-in plugin names linked to `multus`, and versions nobody links to any more removed once no ADD can still
 * be running them.
 */

export type AppLayout = Pick<InstallOptions, 'hostPrefix' | 'cniBinDir' | 'installDir' | 'pruneAfterMs'>;

export const MULTUS_LINK = 'multus';
// Linux reads at most this much of a `#!` line (BINPRM_BUF_SIZE before 5.1); longer interpreter paths are cut.
const MAX_SHEBANG = 127;

/** The host path of an installed version's entry point: what `<cni-bin-dir>/multus` points at. */
function entryPointOnHost(o: AppLayout, id: string): string {
  return join(o.installDir, id, ENTRY_FILE);
}

/**
 * The node option bin/multus starts node with: what follows `node` on its `#!/usr/bin/env -S node <option>` line
 * (none for `#!/usr/bin/env node`). Linux hands everything after a `#!` line's interpreter to it as one argument, so
 * the installed copy, which names its node directly, can carry one option and no more.
 */
function nodeOption(firstLine: string): string {
  const m = /^#!\/usr\/bin\/env(?: -S)? node(?: +(\S+))? *$/.exec(firstLine);
  if (!m) {
    throw new CniError(ErrorCode.IoFailure,
      `cannot install the application: the first line of ${ENTRY_FILE} is not "#!/usr/bin/env node" with at most one node option: ${JSON.stringify(firstLine)}`);
  }
  return m[1] ?? '';
}

/** The bundle bin/multus starts (src/main.ts), and the line of bin/multus that does. */
export const MAIN_BUNDLE = 'dist/bundle/main.js';
const MAIN_REQUIRE = `require('../${MAIN_BUNDLE}').main();`;

/**
 * bin/multus's `require` of the main bundle, replaced by the bundle itself, run as require would run it: in Node's
 * module wrapper, with its own directory as __dirname and a require that resolves its relative paths from there
 * (bare names resolve alike from bin/ and dist/bundle/: the application's node_modules). Requiring the file cost
 * every call about 1.1 ms (Node's look-ups of the path and of the package scope's package.json, the read, the
 * compile: 1.45 against 0.36 ms with the same code inline, here).
 */
function inlineMain(body: string, bundle: string, bundleDir: string): string {
  const code = bundle.replace(/\n\/\/# sourceMappingURL=[^\n]*\n?$/, '\n');
  const dir = JSON.stringify(bundleDir);
  const inline = `((module) => {\n(function (exports, require, module, __filename, __dirname) {\n${code}})(module.exports, `
    + `(id) => require(id.startsWith('./') ? ${dir} + id.slice(1) : id), module, ${JSON.stringify(join(bundleDir, basename(MAIN_BUNDLE)))}, ${dir});\n`
    + 'return module.exports;\n})({ exports: {} }).main();';
  return body.replace(MAIN_REQUIRE, () => inline);
}

/**
 * The installed copy of bin/multus runs the copied node binary, so the host needs no Node of its own. Given the main
 * bundle and its directory on the host, it carries the bundle inline when bin/multus requires it as it does.
 */
export function entryScript(source: string, nodeOnHost: string, main?: { bundle: string; dir: string }): string {
  const eol = source.indexOf('\n');
  const option = nodeOption(eol < 0 ? source : source.slice(0, eol));
  const shebang = `#!${nodeOnHost}${option && ` ${option}`}`;
  if (shebang.length > MAX_SHEBANG) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `--install-dir: the node binary's path ${nodeOnHost} is too long for a "#!" line (${MAX_SHEBANG} bytes)`,
      'choose a shorter --install-dir');
  }
  const body = eol < 0 ? '\n' : source.slice(eol);
  return `${shebang}${main && body.includes(MAIN_REQUIRE) ? inlineMain(body, main.bundle, main.dir) : body}`;
}

function copyDurably(src: string, dst: string, executable: boolean): void {
  makeDirs(dirname(dst), 0o755);
  copyFileSync(src, dst);
  syncFile(dst, executable);
}

function syncFile(path: string, executable: boolean): void {
  const fd = openSync(path, 'r+');
  try {
    // Fixed modes: the image's umask or ownership must not leak onto the host.
    fchmodSync(fd, executable ? 0o755 : 0o644);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies the application into `<install-dir>/<id>` unless that version is already there. The copy is made in a
 * temporary directory and renamed into place, so a version directory that exists is complete.
 */
export function installVersion(o: AppLayout, app: AppManifest, files: HostFiles): boolean {
  const base = onHost(o, o.installDir);
  const target = join(base, app.id);
  if (existsSync(target)) return false;
  const nodeOnHost = join(o.installDir, app.id, NODE_FILE);
  const mainBundle = app.files.find((f) => f.rel === MAIN_BUNDLE);
  const bytes = app.files.reduce((n, f) => n + f.size, 0);
  if (files.dryRun) {
    files.io.out(`would install ${app.files.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) into ${target}, `
      + `with ${ENTRY_FILE} starting "#!${nodeOnHost}"\n`);
    return true;
  }
  const tmp = join(base, `.tmp-${app.id}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  makeDirs(tmp, 0o755);
  try {
    for (const f of app.files) {
      const dst = join(tmp, f.rel);
      if (f.rel === ENTRY_FILE) {
        makeDirs(dirname(dst), 0o755);
        const main = mainBundle && { bundle: readFileSync(mainBundle.src, 'utf8'), dir: join(o.installDir, app.id, dirname(MAIN_BUNDLE)) };
        writeFileSync(dst, entryScript(readFileSync(f.src, 'utf8'), nodeOnHost, main));
        syncFile(dst, true);
      } else {
        copyDurably(f.src, dst, f.executable);
      }
    }
    for (const dir of new Set(app.files.map((f) => dirname(join(tmp, f.rel))))) fsyncDir(dir);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // Another installer on this node got there first with the same content: that is the wanted state.
    if (existsSync(target)) return false;
    throw new CniError(ErrorCode.IoFailure, `cannot install the application into ${target}: ${(e as Error).message}`);
  }
  fsyncDir(base);
  files.io.log(`installed ${app.files.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) into ${target}`);
  return true;
}

/** The version directory a link in the bin dir points into, if it points into ours. */
function linkedVersion(o: AppLayout, linkPath: string): string | undefined {
  const target = readlinkOrUndefined(linkPath);
  // Built-in plugin links are relative (to `multus`); only absolute targets can point into the install dir.
  if (target === undefined || !isAbsolute(target)) return undefined;
  const rel = relative(o.installDir, target);
  if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) return undefined;
  return rel.split(sep)[0];
}

/** Points `<cni-bin-dir>/multus` at version `id`; the version it replaces starts its grace period now. */
export function switchMultusLink(o: AppLayout, id: string, files: HostFiles): boolean {
  const link = join(onHost(o, o.cniBinDir), MULTUS_LINK);
  const previous = linkedVersion(o, link);
  if (!files.symlink(link, entryPointOnHost(o, id))) return false;
  if (!files.dryRun && previous !== undefined && previous !== id) {
    const dir = join(onHost(o, o.installDir), previous);
    const now = new Date();
    if (existsSync(dir)) utimesSync(dir, now, now);
  }
  return true;
}

/**
 * Links each built-in plugin name to `multus`, the one switch point for every version change. An existing regular
 * file (the reference plugin) or someone else's symlink is kept unless `force`: an installation that keeps the
 * reference binaries keeps getting them.
 */
export function linkBuiltinPlugins(o: AppLayout, names: readonly string[], force: boolean, files: HostFiles): void {
  const binDir = onHost(o, o.cniBinDir);
  for (const name of names) {
    const path = join(binDir, name);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      files.symlink(path, MULTUS_LINK);
      continue;
    }
    if (st.isDirectory()) {
      files.io.log(`kept ${path}: it is a directory, not a plugin`);
      continue;
    }
    const ours = st.isSymbolicLink() && (readlinkOrUndefined(path) === MULTUS_LINK || linkedVersion(o, path) !== undefined);
    if (ours || force) files.symlink(path, MULTUS_LINK);
    else files.io.log(`kept ${path}: it is ${st.isSymbolicLink() ? 'a symlink' : 'a file'} this installer did not make; --force replaces it with the built-in ${name}`);
  }
}

/**
 * Removes version directories (and interrupted copies) that no link in the bin dir points at and that have not
 * been touched for `pruneAfterMs`: a process started from a version keeps loading its modules after the switch.
 */
export function pruneVersions(o: AppLayout, keep: string, files: HostFiles, now = Date.now()): string[] {
  const base = onHost(o, o.installDir);
  const binDir = onHost(o, o.cniBinDir);
  let entries: string[];
  let links: string[];
  try {
    entries = readdirSync(base);
    links = readdirSync(binDir);
  } catch {
    return [];
  }
  const inUse = new Set([keep, ...links.map((l) => linkedVersion(o, join(binDir, l))).filter((v) => v !== undefined)]);
  const removed: string[] = [];
  for (const entry of entries) {
    if (inUse.has(entry) || !(VERSION_DIR.test(entry) || entry.startsWith('.tmp-'))) continue;
    const path = join(base, entry);
    let mtime: number;
    try {
      mtime = lstatSync(path).mtimeMs;
    } catch {
      continue;
    }
    if (now - mtime < o.pruneAfterMs) continue;
    files.removeTree(path);
    removed.push(entry);
  }
  return removed;
}

/** Removes every link in the bin dir this installer makes: `multus` into the install dir, built-in names to `multus`. */
export function removeOurLinks(o: AppLayout, files: HostFiles): void {
  const binDir = onHost(o, o.cniBinDir);
  let names: string[];
  try {
    names = readdirSync(binDir);
  } catch {
    return;
  }
  // The built-in names go first: removed after `multus`, they would dangle for a moment.
  const ours = names.filter((n) => readlinkOrUndefined(join(binDir, n)) === MULTUS_LINK || linkedVersion(o, join(binDir, n)) !== undefined);
  for (const name of ours.sort((a, b) => Number(a === MULTUS_LINK) - Number(b === MULTUS_LINK))) files.remove(join(binDir, name));
}

/** Removes every version directory (and interrupted copy) in the install dir, then the dir itself when empty. */
export function removeAllVersions(o: AppLayout, files: HostFiles): void {
  const base = onHost(o, o.installDir);
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const entry of entries) if (VERSION_DIR.test(entry) || entry.startsWith('.tmp-')) files.removeTree(join(base, entry));
  files.removeEmptyDir(base);
}
