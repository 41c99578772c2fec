// Bundles the executable's code after the compiler has checked it, into dist/bundle/: main.js (the entry: VERSION
// and the dispatch), builtins.js (a CNI call: everything it can reach), plugins.js and host-local.js (the same with
// less, for a process started as another built-in: src/builtin-bundles.ts) and run-human.js (the command line). The runtime
// starts a process per pod, and with one file per module Node spent most of a call resolving, reading and compiling
// about a hundred files (the CommonJS loader's path and package.json look-ups); a bundle costs one read. Each
// bundle is whole on its own, and one process loads main.js and at most one of the other two, so no module exists
// twice in a process. Inside a bundle, dynamic import() stays lazy (esbuild wraps such modules in init functions
// run on first use). Kept outside, loaded from node_modules only when used: `yaml` and `commander` (YAML
// kubeconfigs, validate, the command line), and native addons (*.node). The bundles sit two directories below the project root, as dist/<dir>/*.js do: code
// that finds the project's files relative to its own (build/Release/netns.node, dist/build-info.json, the
// installer's application root) works in both.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Built afresh: a bundle of an earlier layout (run-cni.js) must not linger for the installer to copy, and the code
// caches of the previous build can never be used again.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
const lazyEntries = /^\.\/run-human$/;

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
};

await build({
  ...common,
  entryPoints: ['main', 'builtins', 'run-human'].map((name) => join(root, `src/${name}.ts`)),
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

// The smaller bundles (src/builtin-bundles.ts): the registry (builtins.ts) once more for each, with the built-ins it
// does not hold left out. Their loaders import their code from a directory of their name (./multus/…,
// ./plugins/macvlan/…); here those imports become a module that throws when loaded, which no call reaches: a process
// that loaded such a bundle runs what it does not hold as a binary (builtins.ts, builtinAt). The tsc output is already
// there (npm run build runs tsc first).
const { BUNDLES, BUILTIN_BUNDLES } = createRequire(import.meta.url)(join(root, 'dist/builtin-bundles.js'));
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
