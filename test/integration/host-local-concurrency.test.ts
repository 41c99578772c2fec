import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from '../../src/plugins/host-local/address';
import { execPluginAsync } from '../helpers/plugin-exec';
import { ROOT, uniqueId, ourPluginFixture } from '../helpers/multus';

// Separate processes racing for one range, as kubelet starts multus for pods created together: each multus runs
// host-local in its own process, and several calls race inside one process too (a pod with several networks).
// 8 processes of 8 calls each: the same 64-way race for the store's locks at an eighth of the start-up cost.
const PROCESSES = 8;
const CALLS_PER_PROCESS = 8;

/** Runs host-local in-process in a new node process, once per container ID, all at once; returns each outcome. */
function racer(command: string, ids: string[], conf: unknown, netns: string): Promise<Array<{ stdout: string; exitCode: number }>> {
  const script = `
    const { builtinRunner, loadBuiltinPlugin, runPlugin } = require(${JSON.stringify(join(ROOT, 'dist/builtins.js'))});
    const [command, ids, conf, netns] = JSON.parse(process.argv[1]);
    loadBuiltinPlugin('host-local').then((plugin) => Promise.all(ids.map((id) => runPlugin(plugin,
      { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' },
      () => Buffer.from(JSON.stringify(conf)), { runner: builtinRunner })))).then((outs) => process.stdout.write(JSON.stringify(outs)));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify([command, ids, conf, netns])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(JSON.parse(out)) : reject(new Error(`racer exited with ${status}: ${out}`))));
  });
}

describe('host-local concurrency', () => {
  const f = ourPluginFixture('host-local');

  function network(subnet: string) {
    const name = `hl-${uniqueId()}`;
    const conf = { cniVersion: '1.0.0', name, ipam: { type: 'host-local', subnet, dataDir: f.work.ipamDir } };
    const dir = join(f.work.ipamDir, name);
    const run = (command: string, containerId: string) => execPluginAsync(f.bin, { command, containerId, netns: f.work.fakeNetns, conf });
    const reservations = () => (existsSync(dir) ? readdirSync(dir).filter((f) => parseIp(f)) : []);
    return { conf, dir, run, reservations };
  }

  it('gives 64 simultaneous ADDs in 8 processes 64 distinct addresses, and 64 DELs release them all', async () => {
    const n = network('10.90.0.0/25');
    const groups = Array.from({ length: PROCESSES }, (_, p) => Array.from({ length: CALLS_PER_PROCESS }, (_, i) => `pod-${p}-${i}`));
    const ids = groups.flat();
    const race = async (command: string) => (await Promise.all(groups.map((g) => racer(command, g, n.conf, f.work.fakeNetns)))).flat();
    const adds = await race('ADD');
    for (const r of adds) expect(r.exitCode, r.stdout).toBe(0);
    const addresses = adds.map((r) => (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]!.address);
    expect(new Set(addresses).size).toBe(64);
    // Every file names its owner, and every owner got the address its file names.
    expect(n.reservations()).toHaveLength(64);
    ids.forEach((id, i) => {
      const ip = addresses[i]!.split('/')[0]!;
      expect(readFileSync(join(n.dir, ip), 'utf8')).toBe(`${id}\r\neth0`);
    });

    const dels = await race('DEL');
    for (const r of dels) expect(r.exitCode, r.stdout).toBe(0);
    expect(n.reservations()).toEqual([]);
  });

  it('recovers the range from a lock holder killed with SIGKILL', async () => {
    const n = network('10.91.0.0/24');
    mkdirSync(n.dir, { recursive: true });
    // A process that takes the store's locks with our own lock module and then hangs, as if stuck mid-ADD.
    const lockModule = join(ROOT, 'dist/plugins/host-local/lock.js');
    const holder = spawn(process.execPath, ['-e',
      `require(${JSON.stringify(lockModule)}).lockStore(${JSON.stringify(n.dir)}).then(() => { console.log('locked'); setInterval(() => {}, 1000); })`,
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const died = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await died;
    // The flock died with the process: the next call takes the lock at once.

    const add = await n.run('ADD', 'after-crash');
    expect(add.status, add.stdout + add.stderr).toBe(0);
    expect(add.json?.ips).toEqual([{ address: '10.91.0.2/24', gateway: '10.91.0.1' }]);
  });
});
