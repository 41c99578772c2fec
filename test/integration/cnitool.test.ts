import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MULTUS, REFERENCE_PLUGINS } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';
import { cnitool as cnitoolPeer } from '../helpers/peers';

const tool = cnitoolPeer();
const cnitool = tool.path('cnitool');

// The runtime side is the real libcni here: cnitool finds `multus` on CNI_PATH and drives it like a kubelet would.
describe.skipIf(!canUseNamespaces || tool.missing !== undefined)('cnitool drives the multus executable', () => {
  const f = nodeFixture();

  it('adds, checks and deletes a multus network given as a conflist', () => {
    const netconf = join(f.work.dir, 'net.d');
    const pluginDir = join(f.work.dir, 'plugins');
    mkdirSync(netconf);
    mkdirSync(pluginDir);
    symlinkSync(MULTUS, join(pluginDir, 'multus'));
    const network = `cnitool-${f.node.id}`;
    const ipam = (subnet: string) => ({ type: 'host-local', subnet, dataDir: f.work.ipamDir });
    writeFileSync(join(netconf, '00-multus.conflist'), JSON.stringify({
      cniVersion: '1.0.0',
      name: network,
      plugins: [{
        type: 'multus', cniDir: f.work.cniDir, binDir: REFERENCE_PLUGINS,
        delegates: [
          { cniVersion: '1.0.0', name: `p-${f.node.id}`, type: 'bridge', bridge: `br${f.node.id}`, ipam: ipam('10.211.0.0/24') },
          { cniVersion: '1.0.0', name: `s-${f.node.id}`, type: 'macvlan', master: f.node.uplink, ipam: ipam('10.212.0.0/24') },
        ],
      }],
    }));
    const run = (verb: string) => spawnSync('ip', ['netns', 'exec', f.node.nodeNs, cnitool, verb, network, f.node.podNetnsPath], {
      env: { PATH: process.env.PATH, NETCONFPATH: netconf, CNI_PATH: pluginDir, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default' },
      encoding: 'utf8',
    });

    const add = run('add');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.211.0.2/24' }] });
    expect(f.node.podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1']);

    const check = run('check');
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const del = run('del');
    expect(del.stderr).toBe('');
    expect(del.status).toBe(0);
    expect(f.node.podLinks()).toEqual([]);
    expect(f.work.delegateCaches()).toEqual([]);
    // cnitool's own result cache (always /var/lib/cni) is gone too.
    const cached = existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : [];
    expect(cached.filter((f) => f.startsWith(`${network}-`))).toEqual([]);
  });
});
