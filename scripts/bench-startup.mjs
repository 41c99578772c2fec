#!/usr/bin/env node
// Start-up cost of the executable, the part every pod pays: `CNI_COMMAND=VERSION bin/multus` against a bare
// `node -e 0`, interleaved so that machine noise hits both alike. Prints medians and the ratio (target <= 1.25).
// Also what loading the CNI bundle costs (dist/bundle/builtins.js through its code cache, as a CNI call loads it,
// without running anything): the part of every CNI call's start beyond VERSION's; and the same for host-local's own
// bundle, which a process started as host-local loads. After `npm run build`.
// Usage: node scripts/bench-startup.mjs [runs]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 40);
const multus = fileURLToPath(new URL('../bin/multus', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const loadBundle = (bundle) => `require(${JSON.stringify(`${dist}code-cache.js`)})
  .requireWithCodeCache(${JSON.stringify(`${dist}bundle/${bundle}.js`)}, 'bench:load', require)`;
const cases = {
  'node -e 0': [process.execPath, ['-e', '0'], {}],
  'multus VERSION': [multus, [], { CNI_COMMAND: 'VERSION' }],
  'CNI bundle loaded': [process.execPath, ['-e', loadBundle('builtins')], {}],
  // What a process started as host-local loads instead (src/builtin-bundles.ts).
  'host-local bundle': [process.execPath, ['-e', loadBundle('host-local')], {}],
};

function timeOnce([cmd, args, env]) {
  const start = process.hrtime.bigint();
  // A runtime's small environment: a developer's shell may carry variables that cost every Node start far more than
  // what is measured here (NODE_EXTRA_CA_CERTS makes Node read a CA bundle: about 60 ms on these machines).
  const r = spawnSync(cmd, args, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (const c of Object.values(cases)) timeOnce(c); // warm the page cache
for (let i = 0; i < runs; i++) for (const [k, c] of Object.entries(cases)) samples[k].push(timeOnce(c));

for (const [k, xs] of Object.entries(samples)) console.log(`${k.padEnd(18)} median ${median(xs).toFixed(1)} ms over ${runs} runs`);
const ratio = median(samples['multus VERSION']) / median(samples['node -e 0']);
console.log(`ratio ${ratio.toFixed(3)} (target <= 1.25) ${ratio <= 1.25 ? 'OK' : 'OVER TARGET'}`);
for (const k of ['CNI bundle loaded', 'host-local bundle']) {
  console.log(`${k} / node -e 0: ${(median(samples[k]) / median(samples['node -e 0'])).toFixed(3)}`);
}
