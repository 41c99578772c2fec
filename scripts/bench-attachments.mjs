#!/usr/bin/env node
// What an extra secondary attachment costs: one pod with a primary (reference bridge) plus N macvlan + host-local
// attachments, ADD then DEL through the real multus executable, with our built-in macvlan/host-local (run
// in-process) versus the reference binaries (one process per plugin), interleaved in one run.
// Prints medians per N and the cost of each extra attachment (target: <= 3 ms on ADD and on DEL).
// Needs root. Usage: node scripts/bench-attachments.mjs [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 7);
const sizes = [1, 4, 16];
const multus = fileURLToPath(new URL('../bin/multus', import.meta.url));
const reference = '/usr/lib/cni';
const work = mkdtempSync(join(tmpdir(), 'bench-attach-'));
const node = `bench-node-${process.pid}`;
const pod = `bench-pod-${process.pid}`;

function sh(...args) {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
}

// Our plugins are this executable under their names; the primary stays the reference bridge in both variants.
const oursDir = join(work, 'ours');
mkdirSync(oursDir);
for (const name of ['macvlan', 'host-local']) symlinkSync(multus, join(oursDir, name));
symlinkSync(join(reference, 'bridge'), join(oursDir, 'bridge'));

function conf(binDir, n, variant) {
  const ipam = (net) => ({ type: 'host-local', subnet: `10.${net}.0.0/16`, dataDir: join(work, `ipam-${variant}`) });
  return JSON.stringify({
    cniVersion: '1.0.0', name: 'bench', type: 'multus', cniDir: join(work, `cni-${variant}`), binDir,
    delegates: [
      { cniVersion: '1.0.0', name: `prim-${variant}`, type: 'bridge', bridge: 'benchbr0', ipam: ipam(100) },
      ...Array.from({ length: n }, (_, i) => ({
        cniVersion: '1.0.0', name: `sec${i}-${variant}`, type: 'macvlan', master: 'uplink0', mode: 'bridge', ipam: ipam(101 + i),
      })),
    ],
  });
}

function timeCall(command, stdin) {
  const start = process.hrtime.bigint();
  const r = spawnSync('ip', ['netns', 'exec', node, multus], {
    input: stdin, encoding: 'utf8',
    env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: 'bench1', CNI_NETNS: `/var/run/netns/${pod}`,
      CNI_IFNAME: 'eth0', CNI_PATH: reference },
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stdout}${r.stderr}`);
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const variants = { builtin: oursDir, reference };
const samples = {};
try {
  sh('ip', 'netns', 'add', node);
  sh('ip', 'netns', 'add', pod);
  sh('ip', '-n', node, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
  for (const l of ['uplink0', 'uplink1']) sh('ip', '-n', node, 'link', 'set', l, 'up');
  for (let r = 0; r < runs + 1; r++) {
    for (const n of sizes) {
      for (const [variant, binDir] of Object.entries(variants)) {
        const stdin = conf(binDir, n, variant);
        const add = timeCall('ADD', stdin);
        const del = timeCall('DEL', stdin);
        if (r === 0) continue; // warm-up
        (samples[`${variant} ${n}`] ??= { add: [], del: [] }).add.push(add);
        samples[`${variant} ${n}`].del.push(del);
      }
    }
  }
} finally {
  spawnSync('ip', ['netns', 'del', pod]);
  spawnSync('ip', ['netns', 'del', node]);
  rmSync(work, { recursive: true, force: true });
}

console.log(`medians over ${runs} runs (ms)`);
console.log('variant     N    ADD     DEL');
for (const [k, s] of Object.entries(samples)) {
  const [variant, n] = k.split(' ');
  console.log(`${variant.padEnd(10)} ${n.padStart(2)} ${median(s.add).toFixed(1).padStart(7)} ${median(s.del).toFixed(1).padStart(7)}`);
}
for (const variant of Object.keys(variants)) {
  const a = samples[`${variant} ${sizes[0]}`];
  const b = samples[`${variant} ${sizes.at(-1)}`];
  const extra = (op) => (median(b[op]) - median(a[op])) / (sizes.at(-1) - sizes[0]);
  console.log(`${variant}: each extra attachment costs ${extra('add').toFixed(1)} ms on ADD, ${extra('del').toFixed(1)} ms on DEL`);
}
const ratio = (op) => median(samples[`reference ${sizes.at(-1)}`][op]) / median(samples[`builtin ${sizes.at(-1)}`][op]);
console.log(`N=${sizes.at(-1)}: built-in is ${ratio('add').toFixed(1)}x faster on ADD, ${ratio('del').toFixed(1)}x on DEL (target: <= 3 ms per extra attachment)`);
