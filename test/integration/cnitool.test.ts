import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MULTUS, REFERENCE_PLUGINS, Workdir } from '../helpers/multus';
import { canUseNamespaces, TestNode } from '../helpers/netns';

const cnitool = spawnSync('sh', ['-c', 'command -v cnitool'], { encoding: 'utf8' }).stdout.trim();
if (canUseNamespaces && !cnitool && process.env.CI) throw new Error('cnitool is not installed (scripts/install-cnitool.sh)');

// The runtime side is the real libcni here: cnitool finds `multus` on CNI_PATH and drives it like a kubelet would.
describe.skipIf(!canUseNamespaces || !cnitool)('cnitool drives the multus executable', () => {
  let node: TestNode;
  let work: Workdir;
  beforeEach(() => {
    node = new TestNode();
    work = new Workdir();
  });
  afterEach(() => {
    node.destroy();
    work.remove();
  });

  it('adds, checks and deletes a multus network given as a conflist', () => {
    const netconf = join(work.dir, 'net.d');
    const pluginDir = join(work.dir, 'plugins');
    mkdirSync(netconf);
    mkdirSync(pluginDir);
    symlinkSync(MULTUS, join(pluginDir, 'multus'));
    const network = `cnitool-${node.id}`;
    const ipam = (subnet: string) => ({ type: 'host-local', subnet, dataDir: work.ipamDir });
    writeFileSync(join(netconf, '00-multus.conflist'), JSON.stringify({
      cniVersion: '1.0.0',
      name: network,
      plugins: [{
        type: 'multus', cniDir: work.cniDir, binDir: REFERENCE_PLUGINS,
        delegates: [
          { cniVersion: '1.0.0', name: `p-${node.id}`, type: 'bridge', bridge: `br${node.id}`, ipam: ipam('10.211.0.0/24') },
          { cniVersion: '1.0.0', name: `s-${node.id}`, type: 'macvlan', master: node.uplink, ipam: ipam('10.212.0.0/24') },
        ],
      }],
    }));
    const run = (verb: string) => spawnSync('ip', ['netns', 'exec', node.nodeNs, cnitool, verb, network, node.podNetnsPath], {
      env: { PATH: process.env.PATH, NETCONFPATH: netconf, CNI_PATH: pluginDir, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default' },
      encoding: 'utf8',
    });

    const add = run('add');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.211.0.2/24' }] });
    expect(node.podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1']);

    const check = run('check');
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const del = run('del');
    expect(del.stderr).toBe('');
    expect(del.status).toBe(0);
    expect(node.podLinks()).toEqual([]);
    expect(readdirSync(work.cniDir).filter((f) => f !== 'results')).toEqual([]);
    // cnitool's own result cache (always /var/lib/cni) is gone too.
    const cached = existsSync('/var/lib/cni/results') ? readdirSync('/var/lib/cni/results') : [];
    expect(cached.filter((f) => f.startsWith(`${network}-`))).toEqual([]);
  });
});
