// Bundles the executable's code after the compiler has checked it, into dist/bundle/: main.js (the entry: VERSION
// and the dispatch), builtins.js (a CNI call: everything it can reach), plugins.js (the same without multus, for a
// process started as another built-in; src/builtin-bundles.ts) and run-human.js (the command line). The runtime
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

// plugins.js: the registry (builtins.ts) once more, with the built-ins that src/builtin-bundles.ts puts in no other
// bundle than builtins left out. Their loaders import their code from a directory of their name (./multus/…); here
// those imports become a module that throws when loaded, which no call reaches: a process that loaded plugins.js runs
// those names as binaries (builtins.ts, builtinAt). The tsc output is already there (npm run build runs tsc first).
const { BUILTIN_BUNDLES } = createRequire(import.meta.url)(join(root, 'dist/builtin-bundles.js'));
const leftOut = Object.keys(BUILTIN_BUNDLES).filter((name) => BUILTIN_BUNDLES[name] !== 'plugins');
const leftOutImport = new RegExp(`^\\./(plugins/)?(${leftOut.join('|')})/`);
let stubbed = 0;
await build({
  ...common,
  entryPoints: [join(root, 'src/builtins.ts')],
  outfile: join(root, 'dist/bundle/plugins.js'),
  plugins: [{
    name: 'leave-out',
    setup(b) {
      b.onResolve({ filter: leftOutImport }, (a) => {
        if (a.importer !== join(root, 'src/builtins.ts')) return undefined;
        stubbed++;
        return { path: a.path, namespace: 'left-out' };
      });
      b.onLoad({ filter: /.*/, namespace: 'left-out' }, (a) => ({
        contents: `throw new Error(${JSON.stringify(`${a.path} is not in the plugins bundle (src/builtin-bundles.ts)`)});`,
        loader: 'js',
      }));
    },
  }],
});
// A loader that stopped importing from its directory would bring its whole code back in unnoticed.
if (leftOut.length > 0 && stubbed === 0) throw new Error(`bundle.mjs: builtins.ts imports nothing of ${leftOut.join(', ')} from their directories`);
