import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { builtinRunner, loadBuiltinPlugin, runPlugin } from '../../src/builtins';
import { Rtnl } from '../../src/netlink/rtnl';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';

/** This process's open sockets and namespace fds (what a pod's ADDs could leave open). */
function socketsAndNamespaces(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (/^(socket|net):/.test(target)) out.push(target);
    } catch {
      // Closed meanwhile (readdir's own fd).
    }
  }
  return out.sort();
}

// A pod's macvlan ADDs in one multus call share one socket in the pod, one fd of its namespace and one look-up of
// their master; nothing of that stays open after the call, whether it succeeded or failed.
describe.skipIf(!canUseNamespaces)('the link plugins share a pod\'s socket within one multus call', () => {
  const f = nodeFixture();
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** multus with a macvlan delegate per master, after `primary` (a plugin process, the spy) when given. */
  async function multus(command: string, masters: string[], primary?: Record<string, unknown>): Promise<{ stdout: string; exitCode: number }> {
    const conf = {
      cniVersion: '1.0.0', name: 'pod-handle', type: 'multus', cniDir: f.work.cniDir, binDir: f.work.binDir,
      builtinPlugins: ['macvlan', 'host-local'],
      // The masters are in the pod (this test runs in the host's namespace, where it must create nothing).
      delegates: [...(primary ? [primary] : []), ...masters.map((master, i) => ({
        cniVersion: '1.0.0', name: `ph${i}`, type: 'macvlan', master, linkInContainer: true, mode: 'bridge',
        ipam: { type: 'host-local', subnet: `10.${61 + i}.0.0/24`, dataDir: f.work.ipamDir },
      }))],
    };
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: `ph${f.node.id}`,
      CNI_NETNS: f.node.podNetnsPath, CNI_IFNAME: 'eth0', CNI_PATH: f.work.binDir };
    const out = await runPlugin(await loadBuiltinPlugin('multus'), env, () => Buffer.from(JSON.stringify(conf)), { runner: builtinRunner });
    // The handle closes once the event loop turns after the call.
    await new Promise((r) => setImmediate(r));
    return out;
  }

  function addPodMaster(): void {
    execFileSync('ip', ['-n', f.node.podNs, 'link', 'add', 'pm0', 'type', 'veth', 'peer', 'name', 'pm1']);
    for (const l of ['pm0', 'pm1']) execFileSync('ip', ['-n', f.node.podNs, 'link', 'set', l, 'up']);
  }

  const podMacvlans = () => f.node.podLinks().filter((l) => l.linkinfo?.info_kind === 'macvlan').map((l) => l.ifname).sort();

  it('opens one socket in the pod and looks the master up once for three attachments, and closes it after', async () => {
    addPodMaster();
    const before = socketsAndNamespaces();
    const opens = vi.spyOn(Rtnl, 'open');
    const lookups = vi.spyOn(Rtnl.prototype, 'linkByName');
    const add = await multus('ADD', ['pm0', 'pm0', 'pm0']);
    expect(add.exitCode, add.stdout).toBe(0);
    expect(podMacvlans()).toEqual(['eth0', 'net1', 'net2']);
    expect(opens.mock.calls.filter(([netns]) => netns === f.node.podNetnsPath)).toHaveLength(1);
    expect(lookups.mock.calls.filter(([name]) => name === 'pm0')).toHaveLength(1);
    expect(socketsAndNamespaces()).toEqual(before);
    expect((await multus('DEL', ['pm0', 'pm0', 'pm0'])).exitCode).toBe(0);
    expect(podMacvlans()).toEqual([]);
    expect(socketsAndNamespaces()).toEqual(before);
  });

  it('leaves no link, address, socket or namespace fd behind when a later attachment fails', async () => {
    addPodMaster();
    const before = socketsAndNamespaces();
    const add = await multus('ADD', ['pm0', 'pm0', 'nosuchdev0']);
    expect(add.exitCode).toBe(1);
    expect(JSON.parse(add.stdout).msg).toContain('failed to lookup master "nosuchdev0"');
    expect(podMacvlans()).toEqual([]);
    for (const net of ['ph0', 'ph1']) expect(readdirSync(join(f.work.ipamDir, net)).filter((x) => /^\d/.test(x))).toEqual([]);
    expect(socketsAndNamespaces()).toEqual(before);
  });

  const spyPrimary = (fail: boolean) => ({ cniVersion: '1.0.0', name: 'ph-primary', type: 'spy', spy: { fail: fail ? ['ADD'] : [] } });

  it('prepares the later attachments while the primary\'s plugin runs, and they use what it opened', async () => {
    addPodMaster();
    const before = socketsAndNamespaces();
    const prepared = vi.spyOn(await loadBuiltinPlugin('macvlan'), 'prepareAdd');
    const opens = vi.spyOn(Rtnl, 'open');
    const add = await multus('ADD', ['pm0', 'pm0'], spyPrimary(false));
    expect(add.exitCode, add.stdout).toBe(0);
    expect(podMacvlans()).toEqual(['net1', 'net2']);
    expect(prepared).toHaveBeenCalledTimes(2);
    expect(opens.mock.calls.filter(([netns]) => netns === f.node.podNetnsPath)).toHaveLength(1);
    expect(socketsAndNamespaces()).toEqual(before);
    expect((await multus('DEL', ['pm0', 'pm0'], spyPrimary(false))).exitCode).toBe(0);
    expect(podMacvlans()).toEqual([]);
  });

  it('lets go of what it prepared for the later attachments when the primary fails', async () => {
    addPodMaster();
    const before = socketsAndNamespaces();
    const prepared = vi.spyOn(await loadBuiltinPlugin('macvlan'), 'prepareAdd');
    const add = await multus('ADD', ['pm0', 'pm0'], spyPrimary(true));
    expect(add.exitCode).toBe(1);
    expect(JSON.parse(add.stdout).msg).toContain('spy told to fail ADD');
    // The later attachments were prepared (the pod's fd and socket opened) while the primary ran; never added.
    expect(prepared).toHaveBeenCalledTimes(2);
    expect(podMacvlans()).toEqual([]);
    expect(socketsAndNamespaces()).toEqual(before);
  });
});
