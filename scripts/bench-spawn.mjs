#!/usr/bin/env node
// What starting one plugin costs a CNI call's process: a fresh node that starts `/bin/true` with stdin, stdout and
// stderr as pipes and waits for it, through node:child_process (as the spawning runner did: `detached`, stdin
// written, 'close' awaited) against the native helper (native/process.c, as the runner does now), and with the
// helper's _exit at the 'exit' event (as a CNI call ends), beside a bare `node -e 0`. Interleaved, so that machine
// noise hits all alike; prints medians. After `npm run build`. Given another build of the helper (e.g. a copy of
// build/Release/netns.node from an older checkout), it runs that one's two cases too, interleaved with the rest, and
// prints the paired differences: an A/B of native/process.c.
// Usage: node scripts/bench-spawn.mjs [runs] [other-netns.node]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 31);
const addon = fileURLToPath(new URL('../build/Release/netns.node', import.meta.url));
const other = process.argv[3];
const helperAt = (path) => `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(path)});
  const run = m.exports.startPlugin('/bin/true', ['PATH=/usr/bin:/bin'], Buffer.from('{}'), 5000, 4 << 20, 1000, 0);`;
const helper = helperAt(addon);
const cases = {
  'node -e 0': '0',
  'child_process.spawn': `const c = require('node:child_process').spawn('/bin/true', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    c.stdout.on('data', () => {}); c.stderr.on('data', () => {}); c.stdin.on('error', () => {}); c.on('close', () => {});
    c.stdin.end('{}');`,
  'native helper': `${helper} run.done.then(() => {});`,
  'native helper, _exit': `${helper} run.done.then(() => process.once('exit', (code) => m.exports.exitNow(code)));`,
  ...(other ? {
    'other helper': `${helperAt(other)} run.done.then(() => {});`,
    'other helper, _exit': `${helperAt(other)} run.done.then(() => process.once('exit', (code) => m.exports.exitNow(code)));`,
  } : {}),
};

function timeOnce(script) {
  const start = process.hrtime.bigint();
  // A runtime's small environment (see bench-startup.mjs).
  const r = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`the case exited with ${r.status} ${r.signal} ${script.slice(0, 200)}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < runs; i++) {
  const names = Object.keys(cases);
  // Alternate the order so that no case always follows the same one.
  for (const name of i % 2 ? names.reverse() : names) times[name].push(timeOnce(cases[name]));
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const floor = median(times['node -e 0']);
for (const [name, t] of Object.entries(times)) {
  console.log(`${name.padEnd(24)} ${median(t).toFixed(1).padStart(6)} ms   ${name === 'node -e 0' ? '' : `+${(median(t) - floor).toFixed(1)} ms`}`);
}
if (other) {
  for (const name of ['native helper', 'native helper, _exit']) {
    const d = times[name].map((t, i) => t - times[name.replace('native', 'other')][i]);
    console.log(`${name} against the other build: ${median(d) >= 0 ? '+' : ''}${median(d).toFixed(1)} ms (median of paired differences)`);
  }
}
