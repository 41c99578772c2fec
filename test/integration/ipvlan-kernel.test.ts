import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/plugin-exec';
import { referenceSets } from '../helpers/peers';

/**
 * This machine's kernel has no ipvlan, so the built-in ipvlan meets a real one here: Debian's kernel booted under
 * qemu (software emulation) from an initramfs holding node, this project and the reference ipvlan and host-local.
 * test/vm/scenarios.mjs runs every mode through both plugins inside the VM and prints what it saw; the comparison
 * is made here.
 */
function vmPrerequisites(): { kernel: string; version: string } | string {
  if (process.getuid?.() !== 0) return 'not running as root';
  const qemu = ['/usr/bin/qemu-system-x86_64'].find(existsSync);
  if (!qemu) return 'qemu-system-x86_64 missing (apt-get install qemu-system-x86)';
  const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => /^vmlinuz-.*-amd64$/.test(f)).sort() : [];
  const kernel = kernels.at(-1);
  if (!kernel) return 'no Debian kernel in /boot (apt-get install linux-image-amd64)';
  const version = kernel.slice('vmlinuz-'.length);
  if (!existsSync(`/lib/modules/${version}/kernel/drivers/net/ipvlan/ipvlan.ko`)) return `no ipvlan module for ${version}`;
  if (!existsSync('/bin/busybox') || !existsSync('/usr/bin/cpio')) return 'busybox-static and cpio are needed';
  return { kernel: `/boot/${kernel}`, version };
}

const vm = vmPrerequisites();
if (typeof vm === 'string' && process.env.CI) throw new Error(`the ipvlan VM cannot run on CI: ${vm}`);

interface Call {
  status: number;
  out: Record<string, unknown> | string | undefined;
  stderr: string;
}
interface PodState {
  links: Array<{ ifname: string; kind: string; mode: string; mtu: number; address: string }>;
  addrs: Array<{ ifname: string; addrs: string[] }>;
  routes: Array<Record<string, unknown>>;
  store: Record<string, string>;
}
interface Scenario {
  mode: string;
  /** `ours`, or the label of a reference set. */
  impl: string;
  add: Call;
  afterAdd: PodState;
  check: Call;
  del: Call;
  afterDel: PodState;
  delAgain: Call;
  /** The kinds of the node's links named net1 after the scenario (where CNI_IFNAME is taken). */
  nodeNet1?: string[];
}

/** Boots the VM once with the given reference plugin sets (label → directory) and returns the scenarios it ran. */
function boot(kernel: string, version: string, references: Record<string, string>, scratch: string): Promise<Scenario[]> {
  const initrd = join(scratch, 'initrd.cpio');
  const console = join(scratch, 'console.log');
  return new Promise((resolve, reject) => {
    const sets = Object.entries(references).map(([label, dir]) => `${label}=${dir}`);
    const build = spawn('bash', [join(ROOT, 'test/vm/build-initramfs.sh'), initrd, version, ...sets], { stdio: 'inherit' });
    build.on('close', (code) => {
      if (code !== 0) return reject(new Error(`building the initramfs failed (${code})`));
      // No KVM here: TCG. The kernel powers the machine off when the scenarios end; panic=-1 turns a failed init into
      // an exit instead of a hang.
      const qemu = spawn('qemu-system-x86_64', [
        '-m', '2048', '-cpu', 'max', '-smp', '1', '-display', 'none', '-monitor', 'none', '-no-reboot',
        '-serial', `file:${console}`, '-kernel', kernel, '-initrd', initrd,
        '-append', 'console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init',
      ], { stdio: 'inherit' });
      qemu.on('close', () => {
        const text = existsSync(console) ? readFileSync(console, 'utf8') : '';
        const line = text.split('\n').find((l) => l.startsWith('VMRESULT '));
        if (!line) return reject(new Error(`the VM printed no result:\n${text.slice(-4000)}`));
        resolve(JSON.parse(line.slice('VMRESULT '.length)) as Scenario[]);
      });
    });
  });
}

/**
 * Debian's 1.1.1 prints `"dns": {}` in a 1.x result; upstream's newest leaves an empty one out, as we do. Nothing
 * else may differ.
 */
function withoutEmptyDns(out: Call['out']): Call['out'] {
  if (typeof out !== 'object' || JSON.stringify(out.dns) !== '{}') return out;
  const { dns: _empty, ...rest } = out;
  return rest;
}

// Debian's package and upstream's newest, both in one boot: emulation makes a boot cost minutes.
const sets = referenceSets();
const references = Object.fromEntries(sets.map((r) => [r.label.replace(/[^A-Za-z0-9.]+/g, '-'), r.dir]));
const missing = sets.find((r) => r.missing)?.missing;

describe.skipIf(typeof vm === 'string' || missing !== undefined)('built-in ipvlan on a real kernel (qemu)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'multus-vm-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it(`attaches, checks and deletes in l2, l3 and l3s exactly like the reference ipvlan (${Object.keys(references).join(', ')})`, async () => {
    const { kernel, version } = vm as { kernel: string; version: string };
    const scenarios = await boot(kernel, version, references, scratch);
    const impls = ['ours', ...Object.keys(references).sort()];
    const taken = ['net1 taken in the node', 'net1 taken in the pod'];
    expect(scenarios.map((s) => `${s.mode}/${s.impl}`)).toEqual(['l2', 'l3', 'l3s', ...taken].flatMap((m) => impls.map((i) => `${m}/${i}`)));
    for (const mode of ['l2', 'l3', 'l3s']) {
      const ours = scenarios.find((s) => s.mode === mode && s.impl === 'ours')!;
      expect(ours.add, `${mode} ADD`).toMatchObject({ status: 0 });
      expect(ours.afterAdd.links).toEqual([expect.objectContaining({ ifname: 'net1', kind: 'ipvlan', mode, mtu: 1400 })]);
      expect(ours.afterAdd.addrs).toEqual([{ ifname: 'net1', addrs: ['10.55.0.2/24'] }]);
      expect(ours.afterAdd.routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.55.0.1', dev: 'net1' }));
      expect(ours.afterAdd.store['10.55.0.2']).toBe('vm-pod-1\r\nnet1');
      for (const reference of scenarios.filter((s) => s.mode === mode && s.impl !== 'ours')) {
        expect(reference.add, `${mode} ${reference.impl} ADD`).toMatchObject({ status: 0 });
        expect(ours.add.out, `${mode}: our result against ${reference.impl}'s`).toEqual(withoutEmptyDns(reference.add.out));
        expect(ours.afterAdd, `${mode}: the pod and store against ${reference.impl}'s`).toEqual(reference.afterAdd);
      }
      for (const s of scenarios.filter((x) => x.mode === mode)) {
        expect(s.check, `${mode} ${s.impl} CHECK`).toMatchObject({ status: 0 });
        expect(s.del, `${mode} ${s.impl} DEL`).toMatchObject({ status: 0 });
        expect(s.delAgain, `${mode} ${s.impl} repeated DEL`).toMatchObject({ status: 0 });
        expect(s.afterDel, `${mode} ${s.impl} after DEL`).toEqual({ links: [], addrs: [], routes: [], store: { 'last_reserved_ip.0': '10.55.0.2' } });
      }
    }
    // A node link of the pod's interface name: the link is made all the same (ours: under a temporary name then, as
    // the reference does it always), the same as the reference's, and the node's link is left alone.
    const onNode = scenarios.filter((s) => s.mode === taken[0]);
    const oursOnNode = onNode.find((s) => s.impl === 'ours')!;
    expect(oursOnNode.add, 'ADD with net1 on the node').toMatchObject({ status: 0 });
    expect(oursOnNode.afterAdd.links).toEqual([expect.objectContaining({ ifname: 'net1', kind: 'ipvlan', mode: 'l2', mtu: 1400 })]);
    for (const s of onNode) {
      expect(s.nodeNet1, `${s.impl}: the node's net1`).toEqual(['dummy']);
      expect(s.del, `${s.impl} DEL with net1 on the node`).toMatchObject({ status: 0 });
      if (s === oursOnNode) continue;
      expect(oursOnNode.add.out, `net1 on the node: our result against ${s.impl}'s`).toEqual(withoutEmptyDns(s.add.out));
      expect(oursOnNode.afterAdd, `net1 on the node: the pod and store against ${s.impl}'s`).toEqual(s.afterAdd);
    }
    // The pod's own link of that name: the reference's error, and nothing of ours left (the reference leaks its
    // temporary link there).
    const inPod = scenarios.filter((s) => s.mode === taken[1]);
    const oursInPod = inPod.find((s) => s.impl === 'ours')!;
    expect(oursInPod.add).toMatchObject({ status: 1, out: { code: 999, msg: 'failed to rename ipvlan to "net1": file exists' } });
    expect(oursInPod.afterAdd.links).toEqual([expect.objectContaining({ ifname: 'net1', kind: 'dummy' })]);
    expect(oursInPod.afterAdd.store).toEqual({});
    for (const s of inPod.filter((x) => x !== oursInPod)) {
      expect(s.add.status, `${s.impl} ADD with net1 in the pod`).toBe(1);
      expect((s.add.out as Record<string, unknown>).msg, `${s.impl}'s error`).toBe('failed to rename ipvlan to "net1": file exists');
    }
  }, 20 * 60_000);
});
