import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';

/*
 * What a host needs to run this executable without Node installed: the application's runtime files and the node
 * binary that runs this process. The version directory is named after their content, so the same image always
 * lands in the same directory and a rebuilt one never overwrites files a running ADD is loading.
 */

export interface AppFile {
  /** Path inside the version directory. */
  rel: string;
  /** Where it is copied from. */
  src: string;
  executable: boolean;
  size: number;
}

export interface AppManifest {
  /** `<package version>-<12 hex digits of the content hash>`: the version directory's name. */
  id: string;
  files: AppFile[];
}

/** The checkout or image this code runs from (dist/install or src/install are two levels down). */
const APP_ROOT = resolve(__dirname, '../..');

/** The copied node binary's name in the version directory. */
export const NODE_FILE = 'node';
export const ENTRY_FILE = 'bin/multus';
const NATIVE_HELPER = 'build/Release/netns.node';

/** A directory name this installer creates in the install directory. */
export const VERSION_DIR = /^\d+\.\d+\.\d+[^/]*-[0-9a-f]{12}$/;

interface PackageJson {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/**
 * A V8 code cache (src/code-cache.ts) belongs to the copy that wrote it, its Node and its file times; each installed
 * copy writes its own.
 */
const CODE_CACHE = /\.v8cache(\.\d+\.tmp)?$/;

/** Every file under `dir`, symlinks followed, except the directory names in `skip` at its top level and code caches. */
function filesUnder(dir: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (skip.includes(entry) || CODE_CACHE.test(entry)) continue;
    const path = join(dir, entry);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/** Node's lookup of `name` from a package directory: its own node_modules, then each enclosing one up to `root`. */
function resolvePackage(root: string, fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
    }
    if (dir === root || !dir.startsWith(root)) return undefined;
  }
}

/**
 * The package directories the application needs at run time: `dependencies` and `optionalDependencies`, followed
 * transitively, never devDependencies. A development checkout's node_modules holds the compiler and the test
 * runner too, which a node has no use for.
 */
export function productionPackages(root: string): string[] {
  const found = new Set<string>();
  const visit = (pkgDir: string, who: string): void => {
    const pkg = readPackageJson(pkgDir);
    const deps = [
      ...Object.keys(pkg.dependencies ?? {}).map((name) => ({ name, optional: false })),
      ...Object.keys(pkg.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of deps) {
      const dir = resolvePackage(root, pkgDir, name);
      if (dir === undefined) {
        if (optional) continue;
        throw new CniError(ErrorCode.IoFailure, `cannot install the application: dependency ${name} of ${who} is not installed in ${root}`,
          'run npm ci (npm ci --omit=dev in an image) first');
      }
      if (found.has(dir)) continue;
      found.add(dir);
      visit(dir, name);
    }
  };
  visit(root, 'multus-ts');
  return [...found].sort();
}

function required(root: string, rel: string): string {
  const path = join(root, rel);
  if (!existsSync(path)) {
    throw new CniError(ErrorCode.IoFailure, `cannot install the application: ${path} is missing`, 'run npm ci in the application directory first (it builds dist/ and the native helper)');
  }
  return path;
}

function appFile(rel: string, src: string): AppFile {
  const st = statSync(src);
  return { rel, src, executable: (st.mode & 0o111) !== 0, size: st.size };
}

const CHUNK = 1 << 20;

// Chunked, because the node binary alone is about 100 MB and the DaemonSet's memory limit is small.
function hashFile(hash: ReturnType<typeof createHash>, path: string): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0;) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** Lists the files to install and names their version directory after their content. */
export function appManifest(root = APP_ROOT, nodeBinary = process.execPath): AppManifest {
  const version = readPackageJson(root).version ?? '0.0.0';
  const rels = [
    'package.json',
    ...filesUnder(required(root, 'bin')).map((p) => relative(root, p)),
    ...filesUnder(required(root, 'dist')).map((p) => relative(root, p)),
    relative(root, required(root, NATIVE_HELPER)),
    ...productionPackages(root).flatMap((dir) => filesUnder(dir, ['node_modules']).map((p) => relative(root, p))),
  ];
  if (!rels.includes(ENTRY_FILE)) required(root, ENTRY_FILE);
  const files = [...rels.map((rel) => appFile(rel, join(root, rel))), appFile(NODE_FILE, nodeBinary)];
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(`${f.rel}\0${f.executable ? 'x' : '-'}\0${f.size}\0`);
    hashFile(hash, f.src);
  }
  return { id: `${version}-${hash.digest('hex').slice(0, 12)}`, files };
}
