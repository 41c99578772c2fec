#!/usr/bin/env node
// The project files an ADD through the built-in macvlan reads through (issue 7: at most 8, listed in the README's
// "Architecture"): runs one real ADD, multus with a built-in macvlan delegate, in a scratch node and pod namespace,
// and prints the call stack V8 records (async frames included) at the first call into the native helper
// (native/netns.c) that names the pod's namespace: the socket that creates the pod's link. It runs the compiler's
// dist/ (one file per source file) instead of the bundle, so each frame names its source file. Needs root; cleans up.
// Usage: node scripts/add-path.mjs
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const id = `${process.pid}`;
const node = `addpath-node-${id}`;
const pod = `addpath-pod-${id}`;
const work = mkdtempSync(join(tmpdir(), 'add-path-'));
const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });

// Wraps every function of the native helper (loaded with process.dlopen): the first call whose first argument is the pod's namespace prints
// the stack, every frame of it.
const hook = `
Error.stackTraceLimit = Infinity;
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  dlopen.call(this, module, filename, ...rest);
  if (!filename.endsWith('netns.node')) return;
  const m = module.exports;
  const traced = {};
  for (const k of Object.getOwnPropertyNames(m)) {
    const f = m[k];
    traced[k] = typeof f !== 'function' ? f : function (...a) {
      if (a[0] === process.env.CNI_NETNS && !globalThis.traced) {
        globalThis.traced = true;
        process.stderr.write('STACK ' + k + '\\n' + new Error().stack + '\\nEND\\n');
      }
      return f.apply(this, a);
    };
  }
  module.exports = traced;
};
require(${JSON.stringify(join(root, 'dist/main.js'))}).main();`;

function cni(command) {
  const conf = {
    cniVersion: '1.0.0', name: 'add-path', type: 'multus', cniDir: join(work, 'multus'), binDir: join(work, 'bin'),
    builtinPlugins: ['macvlan', 'host-local'],
    delegates: [{
      cniVersion: '1.0.0', name: 'net', type: 'macvlan', master: 'uplink0',
      ipam: { type: 'host-local', subnet: '10.244.0.0/24', dataDir: join(work, 'ipam') },
    }],
  };
  const env = {
    PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: `add-path-${id}`, CNI_NETNS: `/var/run/netns/${pod}`,
    CNI_IFNAME: 'eth0', CNI_PATH: join(work, 'bin'),
  };
  const r = spawnSync('ip', ['netns', 'exec', node, process.execPath, '-e', hook],
    { env, input: JSON.stringify(conf), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stdout}${r.stderr}`);
  return r.stderr;
}

try {
  ip('netns', 'add', node);
  ip('netns', 'add', pod);
  ip('-n', node, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
  for (const l of ['lo', 'uplink0', 'uplink1']) ip('-n', node, 'link', 'set', l, 'up');
  const stack = /STACK (\w+)\n([\s\S]*?)\nEND/.exec(cni('ADD'));
  cni('DEL');
  if (!stack) throw new Error('the ADD never called the native helper with the pod namespace');
  const frames = stack[2].split('\n').filter((l) => l.includes(join(root, 'dist')));
  // Outermost first, each file where the chain first enters it.
  const files = [...new Set(frames.map((l) => /\((.*?):\d+:\d+\)/.exec(l)?.[1] ?? l).reverse())]
    .map((f) => relative(join(root, 'dist'), f).replace(/\.js$/, '.ts'));
  console.log(`native helper: ${stack[1]}(CNI_NETNS) from`);
  for (const l of frames) console.log(`  ${l.trim()}`);
  // main.ts starts the CNI call in a .then() (after loading the bundle), where V8's async stack ends.
  const path = ['bin/multus', 'src/main.ts', ...files.map((f) => `src/${f}`), 'native/netns.c'];
  console.log(`\n${path.length} files: ${path.join(' -> ')}`);
} finally {
  spawnSync('ip', ['netns', 'del', pod]);
  spawnSync('ip', ['netns', 'del', node]);
  rmSync(work, { recursive: true, force: true });
}
