#!/usr/bin/env node
// What the device lookup costs a pod whose NAD names a resource (k8s.v1.cni.cncf.io/resourceName): in a fresh
// process, as multus runs, loading the lookup (gRPC over node:http2, protobuf codec) and one PodResources List
// against a fake kubelet of ours on a unix socket, for a node with 10 and with 110 pods (kubelet's default
// maximum), each pod with two containers holding devices, CPUs and memory; and the same through the checkpoint
// file. A pod without such a NAD pays nothing (nothing of this is loaded). Prints medians.
// Needs `npm run build`. Usage: node scripts/bench-devices.mjs [runs]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'bench-devices-'));
const require = createRequire(import.meta.url);

// The fake kubelet is the tests' (test/helpers/fake-kubelet.ts), compiled here rather than copied.
const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['--ignoreConfig', '--outDir', join(work, 'js'), '--rootDir', root, '--module', 'commonjs',
  '--target', 'ES2022', '--esModuleInterop', '--skipLibCheck', '--types', 'node', join(root, 'test/helpers/fake-kubelet.ts')], { encoding: 'utf8' });
if (tsc.status !== 0) throw new Error(`compiling the fake kubelet failed: ${tsc.stdout}${tsc.stderr}`);
const { startFakeKubelet, encodeListResponse } = require(join(work, 'js/test/helpers/fake-kubelet.js'));

const SRIOV = 'intel.com/sriov_a';
function node(podCount) {
  return Array.from({ length: podCount }, (_, p) => ({
    namespace: `ns${p % 7}`, name: `pod-${p}`,
    containers: ['app', 'sidecar'].map((name, c) => ({
      name, cpuIds: [2 * p, 2 * p + 1], memory: 1 << 28,
      devices: [{ resourceName: SRIOV, ids: [`0000:3b:${String(p).padStart(2, '0')}.${c}`], numa: [p % 2] }],
    })),
  }));
}

// One lookup in a fresh node process, as multus does it: load, ask, and report the two durations in ms.
const probe = `
const t0 = process.hrtime.bigint();
const { podDevices } = require(${JSON.stringify(join(root, 'dist/kubelet/pod-devices.js'))});
const src = JSON.parse(process.argv[1]);
podDevices(src, { namespace: 'ns3', name: 'pod-3', uid: 'uid-3' }).then((found) => {
  const t1 = process.hrtime.bigint();
  if ((found.byResource.get(${JSON.stringify(SRIOV)}) || []).length !== 2) throw new Error('wrong answer');
  return podDevices(src, { namespace: 'ns3', name: 'pod-3', uid: 'uid-3' }).then(() => {
    const t2 = process.hrtime.bigint();
    process.stdout.write(JSON.stringify({ first: Number(t1 - t0) / 1e6, again: Number(t2 - t1) / 1e6 }));
  });
});`;

// Asynchronous: the fake kubelet answers from this process while the probe waits.
function measure(src) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', probe, JSON.stringify(src)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}

async function medians(src) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await measure(src));
  return `load + first lookup ${fmt(median(samples.map((s) => s.first)))}, a second lookup in the same process ${fmt(median(samples.map((s) => s.again)))}`;
}

function baseline() {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, ['-e', '0']);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;

try {
  console.log(`node start-up (node -e 0): ${fmt(median(Array.from({ length: runs }, baseline)))}`);
  for (const pods of [10, 110]) {
    const socketPath = join(work, `kubelet-${pods}.sock`);
    const kubelet = await startFakeKubelet(socketPath, node(pods));
    const answerBytes = encodeListResponse(node(pods)).length;
    console.log(`kubelet List, ${pods} pods (${answerBytes} bytes): ${await medians({ socketPath, checkpointFile: '/nonexistent', deadlineMs: 10_000 })}`);
    await kubelet.close();

    const checkpointFile = join(work, `checkpoint-${pods}`);
    writeFileSync(checkpointFile, JSON.stringify({ Data: { PodDeviceEntries: node(pods).flatMap((p, i) => p.containers.map((c) => ({
      PodUID: `uid-${i}`, ContainerName: c.name, ResourceName: SRIOV, DeviceIDs: { [i % 2]: c.devices[0].ids }, AllocResp: 'CgA=',
    }))), RegisteredDevices: {} }, Checksum: 1 }));
    console.log(`checkpoint file, ${pods} pods: ${await medians({ socketPath: join(work, 'absent.sock'), checkpointFile, deadlineMs: 10_000 })}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
