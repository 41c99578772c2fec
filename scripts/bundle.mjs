// Bundles the executable's code after the compiler has checked it, into dist/bundle/: main.js (the entry: VERSION
// and the dispatch), builtins.js with its parts builtins-plugins.js and builtins-kube.js (a CNI call: everything it
// can reach, see below), builtins-whole.js (the same in one bundle, for DEL, CHECK and GC), plugins.js and
// host-local.js (the same with less, for a process started as another built-in: src/builtin-bundles.ts) and
// run-human.js (the command line). The runtime starts a process per pod, and with one file per module Node spent
// most of a call resolving, reading and compiling about a hundred files (the CommonJS loader's path and package.json
// look-ups); a bundle costs one read. One process loads main.js and one of builtins.js (with, when needed, its
// parts, which take the modules they share from it), builtins-whole.js, plugins.js, host-local.js and run-human.js,
// so no module exists twice in a process. Inside a bundle, dynamic import() stays lazy (esbuild wraps such modules
// in init functions run on first use). Kept outside, loaded from node_modules only when used: `yaml` and
// `commander` (YAML kubeconfigs, validate, the command line), and native addons (*.node). The bundles sit two
// directories below the project root, as dist/<dir>/*.js do: code that finds the project's files relative to its
// own (build/Release/netns.node, dist/build-info.json, the installer's application root) works in both.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Built afresh: a bundle of an earlier layout (run-cni.js) must not linger for the installer to copy, and the code
// caches of the previous build can never be used again.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
const lazyEntries = /^\.\/run-human$/;
const requireDist = createRequire(import.meta.url);

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Anything else escaped: src/code-cache.ts reads a bundle as Latin-1 (no UTF-8 decoding on a pod's path).
  charset: 'ascii',
  // Minified: every CNI call reads its bundle, V8 reads its code cache (whose size follows the names in it) and
  // runs its top level; for a pod's ADD the bundle went 311 -> 167 kB and its cache 295 -> 279 kB, and loading both
  // took about 1 ms less (see the README's "Performance"). Names are kept where they are data (the error classes
  // set their `name`); a stack trace maps back through the source map written beside each bundle.
  minify: true,
  sourcemap: 'linked',
  // import() becomes require(): a dynamic import() of a CommonJS file goes through the ES module loader, which
  // scans the whole file for its export names first (about as long as the rest of the call).
  supported: { 'dynamic-import': false },
  external: ['yaml', 'commander', '*.node'],
  logLevel: 'warning',
  absWorkingDir: root,
};

await build({
  ...common,
  entryPoints: ['main', 'run-human'].map((name) => join(root, `src/${name}.ts`)),
  outdir: join(root, 'dist/bundle'),
  plugins: [{
    // main.ts's lazy import of run-human loads its bundle instead of copying it in (builtins it loads by path, with
    // its code cache: src/code-cache.ts).
    name: 'lazy-entries',
    setup(b) {
      b.onResolve({ filter: lazyEntries }, (a) => ({ path: `${a.path}.js`, external: true }));
    },
  }],
});

// The CNI bundle, in parts: builtins.js, what a multus call runs up to starting its primary's plugin (its
// configuration, delegation, the lock, the spawn), and parts it loads, each with a code cache of its own, only when
// it needs them: builtins-plugins.js, the built-in plugins and rtnetlink, when a built-in runs or is prepared (while
// the primary's plugin runs); builtins-kube.js, the Kubernetes client, when the configuration has a kubeconfig. V8
// reads a whole code cache and the bundle it belongs to before anything runs: for a pod's ADD (N=1) the plugins were
// 90 of the cache's 296 kB, and a call without Kubernetes never runs the client's 41 kB. builtins.js reaches a part's
// modules only through import() (the registry's loaders, multus's default routes, its Kubernetes context), each of
// which becomes the part's export for that module. A part's modules are initialised when it loads: they are all
// needed then (a part that held both the client and the plugins loaded node:tls into every pod's ADD). Each module
// exists once in a process: a part takes the modules it shares with builtins.js from it (code-cache.ts gives each
// bundle the others), and no module is in two parts.
const PARTS = [
  { name: 'builtins-plugins', holds: (rel) => /^src\/(plugins|netlink)\//.test(rel) && rel !== 'src/netlink/native.ts' },
  { name: 'builtins-kube', holds: (rel) => /^src\/k8s\//.test(rel) && !KUBE_IN_CORE.includes(rel) },
];
// Used before a delegate runs whatever the configuration (names' rules, device-info paths).
const KUBE_IN_CORE = ['src/k8s/names.ts', 'src/k8s/device-info.ts'];
const partOf = (rel) => PARTS.find((part) => part.holds(rel));
const partExport = (rel) => rel.replace(/^src\//, '').replace(/\.ts$/, '').replace(/\W/g, '_');
const srcRel = (abs) => relative(root, abs).split(sep).join('/');
const fromSrc = (rel) => `./${rel.replace(/^src\//, '').replace(/\.ts$/, '')}`;
// A module's exports, as the compiler's output for it has them (types have none).
const exportNames = (rel) => Object.keys(requireDist(join(root, 'dist', rel.replace(/^src\//, '').replace(/\.ts$/, '.js'))));
const cutParts = (partPaths) => ({
  name: 'cut-parts',
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (a) => {
      if (a.pluginData === 'resolving' || a.namespace !== 'file') return undefined;
      const r = await b.resolve(a.path, { kind: a.kind, importer: a.importer, resolveDir: a.resolveDir, pluginData: 'resolving' });
      const part = r.errors.length > 0 ? undefined : partOf(srcRel(r.path));
      if (!part) return undefined;
      if (a.kind !== 'dynamic-import') {
        return { errors: [{ text: `${srcRel(a.importer)} imports ${a.path} statically: builtins.js may reach ${part.name}.js (${srcRel(r.path)}) only through import()` }] };
      }
      partPaths?.get(part.name)?.add(srcRel(r.path));
      return { path: srcRel(r.path), namespace: 'part', pluginData: part.name };
    });
    b.onLoad({ filter: /.*/, namespace: 'part' }, (a) => ({
      contents: `module.exports = require('./${a.pluginData}.js').${partExport(a.path)};`,
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/builtins-\w+\.js$/ }, (a) => ({ path: a.path, external: true }));
  },
});
// Pass 1: the modules builtins.js holds, and those it imports from each part.
const partPaths = new Map(PARTS.map((part) => [part.name, new Set()]));
const core = await build({ ...common, entryPoints: [join(root, 'src/builtins.ts')], write: false, metafile: true, outfile: join(root, 'dist/bundle/builtins.js'), plugins: [cutParts(partPaths)] });
const inCore = new Set(Object.keys(core.metafile.inputs).filter((f) => !f.includes(':')));
// The parts: each with every module builtins.js holds taken from it, its modules initialised when first asked for.
const shared = new Set();
const inParts = new Map();
for (const part of PARTS) {
  const built = await build({
    ...common,
    stdin: {
      contents: ['\'use strict\';', ...[...partPaths.get(part.name)].sort().map((p) => `export * as ${partExport(p)} from '${fromSrc(p)}';`)].join('\n'),
      resolveDir: join(root, 'src'),
      sourcefile: `${part.name}.ts`,
      loader: 'ts',
    },
    outfile: join(root, `dist/bundle/${part.name}.js`),
    metafile: true,
    plugins: [{
      name: 'shared-with-builtins',
      setup(b) {
        b.onResolve({ filter: /^\./ }, async (a) => {
          if (a.pluginData === 'resolving') return undefined;
          const r = await b.resolve(a.path, { kind: a.kind, importer: a.importer, resolveDir: a.resolveDir, pluginData: 'resolving' });
          if (r.errors.length > 0 || !inCore.has(srcRel(r.path))) return undefined;
          shared.add(srcRel(r.path));
          return { path: srcRel(r.path), namespace: 'shared' };
        });
        // Taken once, when the part loads, into bindings of its own: the part's code then refers to them directly, as
        // within one bundle (through a module object, each use was a getter call: 5 ms more CPU in a pod's ADD).
        b.onLoad({ filter: /.*/, namespace: 'shared' }, (a) => ({
          contents: `const m = require('./builtins.js').__shared()[${JSON.stringify(a.path)}];\n${exportNames(a.path).map((n) => `export const ${n} = m.${n};`).join('\n')}\n`,
          loader: 'js',
        }));
        b.onResolve({ filter: /^\.\/builtins\.js$/ }, (a) => ({ path: a.path, external: true }));
      },
    }],
  });
  for (const f of Object.keys(built.metafile.inputs).filter((f) => f.startsWith('src/'))) {
    if (inParts.has(f)) throw new Error(`bundle.mjs: ${f} is in both ${inParts.get(f)}.js and ${part.name}.js: import it from builtins.js's side`);
    inParts.set(f, part.name);
  }
}
// builtins.js itself: the registry, and what the parts take from it: `__shared()`, an object per shared module with
// its exports (none is reassigned: a part takes their values). They are made, and the shared modules initialised,
// only when a part first asks: a module of their own, loaded lazily, so that builtins.js's top level builds none of
// them (namespace objects for the shared modules cost its top level about 0.4 ms).
const sharedList = [...shared].sort();
// A part takes the values: an export that is reassigned later would leave it an old one.
for (const f of sharedList) {
  if (/^export let /m.test(readFileSync(join(root, f), 'utf8'))) throw new Error(`bundle.mjs: ${f} exports a let, which the parts would take the first value of`);
}
const sharedModule = [
  ...sharedList.map((f, i) => `import { ${exportNames(f).map((n) => `${n} as s${i}_${n}`).join(', ')} } from '${fromSrc(f)}';`),
  'export const bindings = {',
  ...sharedList.map((f, i) => `  ${JSON.stringify(f)}: { ${exportNames(f).map((n) => `${n}: s${i}_${n}`).join(', ')} },`),
  '};',
].join('\n');
await build({
  ...common,
  stdin: {
    contents: "'use strict';\nexport * from './builtins';\nexport const __shared = () => require('./builtins-shared').bindings;\n",
    resolveDir: join(root, 'src'),
    sourcefile: 'builtins-entry.ts',
    loader: 'ts',
  },
  outfile: join(root, 'dist/bundle/builtins.js'),
  plugins: [cutParts(), {
    name: 'shared-bindings',
    setup(b) {
      b.onResolve({ filter: /^\.\/builtins-shared$/ }, () => ({ path: 'src/builtins-shared.ts', namespace: 'shared-bindings' }));
      b.onLoad({ filter: /.*/, namespace: 'shared-bindings' }, () => ({ contents: sharedModule, loader: 'ts', resolveDir: join(root, 'src') }));
    },
  }],
});

// builtins-whole.js: the registry with everything in one bundle, for the verbs that run their built-ins at once
// (src/builtin-bundles.ts, bundleFile).
await build({ ...common, entryPoints: [join(root, 'src/builtins-whole.ts')], outfile: join(root, 'dist/bundle/builtins-whole.js') });

// The smaller bundles (src/builtin-bundles.ts): the registry (builtins.ts) once more for each, with the built-ins it
// does not hold left out. Their loaders import their code from a directory of their name (./multus/…,
// ./plugins/macvlan/…); here those imports become a module that throws when loaded, which no call reaches: a process
// that loaded such a bundle runs what it does not hold as a binary (builtins.ts, builtinAt). The tsc output is already
// there (npm run build runs tsc first).
const { BUNDLES, BUILTIN_BUNDLES } = requireDist(join(root, 'dist/builtin-bundles.js'));
for (const [index, bundle] of BUNDLES.entries()) {
  if (index === 0) continue; // builtins.js, built above
  const leftOut = Object.keys(BUILTIN_BUNDLES).filter((name) => BUNDLES.indexOf(BUILTIN_BUNDLES[name]) < index);
  const leftOutImport = new RegExp(`^\\./(plugins/)?(${leftOut.join('|')})/`);
  const replaced = new Set();
  await build({
    ...common,
    entryPoints: [join(root, 'src/builtins.ts')],
    outfile: join(root, `dist/bundle/${bundle}.js`),
    plugins: [{
      name: 'leave-out',
      setup(b) {
        b.onResolve({ filter: leftOutImport }, (a) => {
          if (a.importer !== join(root, 'src/builtins.ts')) return undefined;
          replaced.add(leftOutImport.exec(a.path)[2]);
          return { path: a.path, namespace: 'left-out' };
        });
        b.onLoad({ filter: /.*/, namespace: 'left-out' }, (a) => ({
          contents: `throw new Error(${JSON.stringify(`${a.path} is not in the ${bundle} bundle (src/builtin-bundles.ts)`)});`,
          loader: 'js',
        }));
      },
    }],
  });
  // A loader that stopped importing from its directory would bring its whole code back in unnoticed.
  const kept = leftOut.filter((name) => !replaced.has(name));
  if (kept.length > 0) throw new Error(`bundle.mjs: builtins.ts imports nothing of ${kept.join(', ')} from their directories`);
}
