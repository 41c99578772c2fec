#!/usr/bin/env node
/*
 * The import graph of src/: every static import, `import type`, re-export, dynamic import() and require() of a
 * project file. Prints the circles and the imports that run from a lower layer to a higher one (see LAYERS);
 * exits 1 when there is any. test/unit/import-graph.test.ts runs the same check on every `npm test`.
 *
 *   node scripts/import-graph.mjs [src-dir]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Layer of each top-level part of src/, bottom first; an import may only go to the same layer or a lower one.
 * util/, log/ and grpc/ are leaves every layer may use; netlink/ is the kernel interface the built-in plugins use;
 * kubelet/ (device lookup through the kubelet's sockets) sits beside k8s/.
 */
export const LAYERS = {
  util: 0,
  log: 0,
  grpc: 0,
  cni: 1,
  delegation: 2,
  netlink: 2,
  plugins: 3,
  k8s: 3,
  kubelet: 3,
  multus: 4,
  cli: 5,
  install: 5,
  validate: 5,
  'main.ts': 6,
  // The two entries main.ts loads lazily (each bundled on its own: builtins.ts for a CNI call, run-human.ts for the
  // command line), how it loads the CNI one, and the names of the built-ins with the bundle each is in, which both
  // main.ts and builtins.ts read. builtins-whole.ts is builtins.ts again, the entry of its one-bundle build.
  'builtins.ts': 6,
  'builtins-whole.ts': 6,
  'builtin-bundles.ts': 6,
  'run-human.ts': 6,
  'code-cache.ts': 6,
};

/** Allowed upward imports, each with its reason (the README's architecture section repeats them). */
export const ALLOWED_UPWARD = new Map([
  ['install/options.ts -> builtins.ts', 'the installer links built-ins by name and checks --builtin-plugins against the one registry'],
]);

const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function tsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function resolveImport(from, spec, files) {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  return [`${base}.ts`, join(base, 'index.ts')].find((f) => files.has(f));
}

/** Edges `from → to` between files of `srcDir`, as paths relative to it. */
export function importGraph(srcDir) {
  const files = new Set(tsFiles(srcDir));
  const graph = new Map();
  for (const file of files) {
    // Comments may quote imports; strip them first (block comments, then line comments outside strings).
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const targets = new Set();
    for (const m of text.matchAll(IMPORT)) {
      const target = resolveImport(file, m[1] ?? m[2] ?? m[3], files);
      if (target) targets.add(relative(srcDir, target));
    }
    graph.set(relative(srcDir, file), [...targets].sort());
  }
  return graph;
}

export function layerOf(file) {
  const top = file.split('/')[0];
  return LAYERS[top];
}

/** Every import circle, each as the list of files around it (found by depth-first search, each reported once). */
export function circles(graph) {
  const found = [];
  const seen = new Set();
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        const key = [...loop].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          found.push([...loop, next]);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/** Imports from a lower layer to a higher one (or from a part of src/ that has no layer). */
export function upwardImports(graph) {
  const out = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = layerOf(from);
      const b = layerOf(to);
      if (a === undefined || b === undefined || b > a) out.push({ from, to, allowed: ALLOWED_UPWARD.has(`${from} -> ${to}`) });
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const srcDir = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const graph = importGraph(srcDir);
  const loops = circles(graph);
  const up = upwardImports(graph);
  for (const loop of loops) console.log(`circle: ${loop.join(' -> ')}`);
  for (const u of up) console.log(`${u.allowed ? 'allowed upward' : 'upward'}: ${u.from} -> ${u.to}${u.allowed ? ` (${ALLOWED_UPWARD.get(`${u.from} -> ${u.to}`)})` : ''}`);
  console.log(`${graph.size} files, ${loops.length} circles, ${up.filter((u) => !u.allowed).length} upward imports not allowed`);
  process.exitCode = loops.length > 0 || up.some((u) => !u.allowed) ? 1 : 0;
}
