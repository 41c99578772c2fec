// Bundles the executable's code after the compiler has checked it, into dist/bundle/: main.js (the entry: VERSION
// and the dispatch), builtins.js (a CNI call: everything it can reach) and run-human.js (the command line). The runtime
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
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Built afresh: a bundle of an earlier layout (run-cni.js) must not linger for the installer to copy, and the code
// caches of the previous build can never be used again.
rmSync(join(root, 'dist/bundle'), { recursive: true, force: true });
const lazyEntries = /^\.\/run-human$/;

await build({
  entryPoints: ['main', 'builtins', 'run-human'].map((name) => join(root, `src/${name}.ts`)),
  outdir: join(root, 'dist/bundle'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // import() becomes require(): a dynamic import() of a CommonJS file goes through the ES module loader, which
  // scans the whole file for its export names first (about as long as the rest of the call).
  supported: { 'dynamic-import': false },
  external: ['yaml', 'commander', '*.node'],
  logLevel: 'warning',
  plugins: [{
    // main.ts's lazy import of run-human loads its bundle instead of copying it in (builtins it loads by path, with
    // its code cache: src/code-cache.ts).
    name: 'lazy-entries',
    setup(b) {
      b.onResolve({ filter: lazyEntries }, (a) => ({ path: `${a.path}.js`, external: true }));
    },
  }],
});
