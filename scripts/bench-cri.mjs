#!/usr/bin/env node
// What a pod costs under a real container runtime: RunPodSandbox, then StopPodSandbox + RemovePodSandbox, through
// one containerd (Debian's 1.6, started by this script as in the CRI tests), timed from the CRI client as kubelet
// sees it. The pod has a primary (bridge + host-local) and N macvlan + host-local secondaries. 00-multus.conf has
// `builtinPlugins: [macvlan, host-local]` (Go Multus ignores the key), and the variants are:
//   multus-ts          our executable; the reference plugins on disk, our built-ins run in-process for the secondaries
//   multus-ts-linked   the same with macvlan and host-local on disk linked to our executable, so the bridge's
//                      host-local is a Node process too (the other way to deploy the built-ins)
//   go-multus          Go Multus's thin plugin (4.2.2, built by scripts/build-peers.sh) with the reference plugins
// The variants alternate pod by pod (one warm-up each, not counted) by switching one symlink that both containerd's
// CNI bin dir and multus's binDir go through; the network configuration is the same for all. Prints medians and
// each variant's ratio to Go Multus, and the median of a bare `node -e 0` measured in between (a Node start-up is
// what each multus-ts process pays first; the number says how loaded the machine was).
// Needs root, containerd, runc, gcc. Usage: node scripts/bench-cri.mjs [pods per variant, 15] [secondaries, 2]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadTs } from './load-ts.mjs';

const runs = Number(process.argv[2] ?? 15);
const secondaries = Number(process.argv[3] ?? 2);

// The containerd and peer helpers of the tests are TypeScript (see load-ts.mjs).
const load = (path) => loadTs(path, import.meta.url);
const { Containerd, canRunContainerd, whyNoContainerd } = await load('../test/helpers/containerd.ts');
const { goMultus, upstreamPlugins } = await load('../test/helpers/peers.ts');
const { MULTUS, REFERENCE_PLUGINS } = await load('../test/helpers/plugin-exec.ts');

if (!canRunContainerd) {
  console.error(`bench-cri: containerd cannot run here: ${whyNoContainerd}`);
  process.exit(1);
}

function ip(...args) {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

const upstream = upstreamPlugins();
const reference = upstream.missing ? REFERENCE_PLUGINS : upstream.dir;
const referenceLabel = upstream.missing ? 'Debian 1.1.1' : `upstream ${upstream.version}`;
const go = goMultus();

const work = mkdtempSync(join(tmpdir(), 'bench-cri-'));
const variants = {
  'multus-ts': { multus: MULTUS, macvlan: join(reference, 'macvlan'), 'host-local': join(reference, 'host-local'), bridge: join(reference, 'bridge') },
  'multus-ts-linked': { multus: MULTUS, macvlan: MULTUS, 'host-local': MULTUS, bridge: join(reference, 'bridge') },
};
if (go.missing) console.log(`Go Multus is not built, so only multus-ts is measured: ${go.missing}`);
else variants['go-multus'] = { multus: go.path('multus'), macvlan: join(reference, 'macvlan'), 'host-local': join(reference, 'host-local'), bridge: join(reference, 'bridge') };
for (const [name, plugins] of Object.entries(variants)) {
  mkdirSync(join(work, name));
  for (const [plugin, target] of Object.entries(plugins)) symlinkSync(target, join(work, name, plugin));
}
const active = join(work, 'active');
function use(variant) {
  const next = join(work, 'active.next');
  symlinkSync(join(work, variant), next);
  renameSync(next, active); // atomic: every plugin lookup sees one variant or the other
}
use('multus-ts');

const id = `${process.pid.toString(36)}`;
const bridge = `bcb${id}`;
const uplink = `bcu${id}`;
ip('link', 'add', uplink, 'type', 'veth', 'peer', 'name', `bcp${id}`);
ip('link', 'set', uplink, 'up');
ip('link', 'set', `bcp${id}`, 'up');

let cd;
try {
  cd = await Containerd.start({
    plugins: { multus: join(active, 'multus') },
    cniConfig: () => {
      const ipam = (n) => ({ type: 'host-local', subnet: `10.246.${n}.0/24`, dataDir: join(work, 'ipam') });
      return {
        cniVersion: '1.0.0', name: `bench-cri-${id}`, type: 'multus', cniDir: join(work, 'multus'), binDir: active,
        builtinPlugins: ['macvlan', 'host-local'],
        delegates: [
          { cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge, isGateway: true, ipam: { ...ipam(0), routes: [{ dst: '0.0.0.0/0' }] } },
          ...Array.from({ length: secondaries }, (_, i) => ({
            cniVersion: '1.0.0', name: `sec${i}`, type: 'macvlan', master: uplink, mode: 'bridge', ipam: ipam(i + 1),
          })),
        ],
      };
    },
  });

  const time = async (f) => {
    const start = process.hrtime.bigint();
    const value = await f();
    return [Number(process.hrtime.bigint() - start) / 1e6, value];
  };
  async function pod(variant) {
    use(variant);
    const spec = { name: `bench-${randomUUID().slice(0, 8)}`, namespace: 'default', uid: randomUUID(), cgroupParent: cd.cgroupParent };
    const [run, sandbox] = await time(() => cd.cri.runPodSandbox(spec));
    const [stop] = await time(() => cd.cri.stopPodSandbox(sandbox));
    const [remove] = await time(() => cd.cri.removePodSandbox(sandbox));
    return { run, stopRemove: stop + remove, stop, remove };
  }

  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) await pod(n); // warm-up: page cache, containerd's first sandbox
  // A bare Node start-up, interleaved: multus-ts pays it per process, and on a loaded machine it is most of the cost.
  const nodeStart = [];
  for (let i = 0; i < runs; i++) {
    for (const n of names) samples[n].push(await pod(n));
    nodeStart.push((await time(async () => spawnSync(process.execPath, ['-e', '0'])))[0]);
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(16) : String(c).padStart(14))).join('');
  console.log(`containerd ${(await cd.cri.version()).runtimeVersion}, reference plugins ${referenceLabel}, ` +
    `${go.missing ? '' : `Go Multus ${go.version}, `}pod = bridge + ${secondaries} macvlan, ${runs} pods per variant, medians in ms`);
  console.log(`node -e 0 meanwhile: ${median(nodeStart).toFixed(0)} ms`);
  console.log(row(['variant', 'RunPodSandbox', 'Stop', 'Remove', 'Stop+Remove']));
  const medians = {};
  for (const n of names) {
    const m = (k) => median(samples[n].map((s) => s[k]));
    medians[n] = { run: m('run'), stopRemove: m('stopRemove') };
    console.log(row([n, m('run').toFixed(0), m('stop').toFixed(0), m('remove').toFixed(0), m('stopRemove').toFixed(0)]));
  }
  if (medians['go-multus']) {
    const base = medians['go-multus'];
    for (const n of names.filter((x) => x !== 'go-multus')) {
      console.log(`${n} / go-multus: RunPodSandbox ${(medians[n].run / base.run).toFixed(2)}, Stop+Remove ${(medians[n].stopRemove / base.stopRemove).toFixed(2)}`);
    }
  }
} finally {
  await cd?.stop();
  spawnSync('ip', ['link', 'del', uplink]);
  spawnSync('ip', ['link', 'del', bridge]);
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
