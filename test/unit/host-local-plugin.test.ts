import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnRunner } from '../../src/delegation/exec-plugin';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPlugin } from '../../src/builtins';
import { hostLocalPlugin } from '../../src/plugins/host-local/plugin';

// Plugins that run other plugins would start them; these ones run none.
const HOST = { runner: spawnRunner };

// The plugin in-process, as multus runs it for a secondary attachment: the whole CNI contract through runPlugin.

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'hl-plugin-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.1.0', name: 'hlnet', ipam: { type: 'host-local', subnet: '10.70.0.0/24', dataDir }, ...extra };
}

async function call(command: string, config: Record<string, unknown>, containerId = 'ctr', ifName = 'eth0') {
  const env = { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_IFNAME: ifName, CNI_NETNS: dataDir, CNI_PATH: '/opt/cni/bin' };
  const out = await runPlugin(hostLocalPlugin, env, () => Buffer.from(JSON.stringify(config)), HOST);
  return { exitCode: out.exitCode, stdout: out.stdout, json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined };
}

const reservations = () => readdirSync(join(dataDir, 'hlnet')).filter((f) => f.startsWith('10.')).sort();

describe('host-local plugin in-process', () => {
  it('adds, checks and deletes', async () => {
    const add = await call('ADD', conf({ cniVersion: '0.4.0' }));
    expect(add.json).toEqual({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.70.0.2/24', gateway: '10.70.0.1' }], dns: {} });
    expect(await call('CHECK', conf())).toEqual({ exitCode: 0, stdout: '', json: undefined });
    expect(await call('DEL', conf())).toEqual({ exitCode: 0, stdout: '', json: undefined });
    expect(reservations()).toEqual([]);
  });

  it('is ready on STATUS', async () => {
    expect(await call('STATUS', conf())).toEqual({ exitCode: 0, stdout: '', json: undefined });
  });

  it('garbage-collects against either spelling of the attachment list, and does nothing without one', async () => {
    for (const id of ['a', 'b', 'c']) expect((await call('ADD', conf(), id)).exitCode).toBe(0);
    expect((await call('GC', conf())).exitCode).toBe(0);
    expect(reservations()).toHaveLength(3);
    expect((await call('GC', conf({ 'cni.dev/attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: 'eth0' }] }))).exitCode).toBe(0);
    expect(reservations()).toEqual(['10.70.0.2', '10.70.0.3']);
    // The other interface of a kept container is not kept.
    expect((await call('GC', conf({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'net1' }] }))).exitCode).toBe(0);
    expect(reservations()).toEqual([]);
  });

  it('refuses a malformed attachment list without releasing anything', async () => {
    expect((await call('ADD', conf(), 'a')).exitCode).toBe(0);
    for (const bad of [{}, [{ containerID: 'a' }], [{ containerID: '', ifname: 'eth0' }], ['a']]) {
      const out = await call('GC', conf({ 'cni.dev/valid-attachments': bad }));
      expect(out.exitCode).toBe(1);
      expect(out.json).toMatchObject({ code: 6, msg: expect.stringMatching(/^invalid "cni.dev\/valid-attachments"/) });
    }
    expect(reservations()).toEqual(['10.70.0.2']);
  });
});
