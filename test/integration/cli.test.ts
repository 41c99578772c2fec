import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MULTUS, REFERENCE_PLUGINS, ROOT, Workdir } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(MULTUS, args, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });

describe('the human command line', () => {
  it('prints the supported versions', () => {
    const r = cli(['version']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).supportedVersions).toContain('1.1.0');
  });

  it('has help for every command', () => {
    for (const cmd of ['add', 'check', 'del', 'status', 'gc']) {
      const r = cli([cmd, '--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`Usage: multus ${cmd}`);
    }
  });

  it('offers --keep on gc only: STATUS has no attachments to keep', () => {
    expect(cli(['gc', '--help']).stdout).toContain('--keep <containerID:ifname...>');
    expect(cli(['status', '--help']).stdout).not.toContain('--keep');
    const r = cli(['status', '/nonexistent.conf', '--keep', 'c:eth0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("unknown option '--keep'");
  });

  it('--version, and Go Multus\'s -version and -v: product version, git commit, CNI versions', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    for (const flag of ['--version', '-version', '-v']) {
      const r = cli([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(
        `multus: version:${version}(multus-ts,${r.stdout.includes(',clean)') ? 'clean' : 'dirty'}), commit:${commit}, date:${r.stdout.match(/date:(\S+)/)?.[1]}\n` +
          'CNI spec 1.1.0; supported versions: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n',
      );
    }
    expect(cli(['version']).stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
  });

  it('says what it is, on stderr, when started with nothing', () => {
    const r = cli([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0');
  });

  it('reports a broken configuration file in one line with its code', () => {
    const work = new Workdir();
    try {
      const file = join(work.dir, 'bad.conf');
      writeFileSync(file, '{"cniVersion":"1.0.0","name":"x"');
      const r = cli(['add', file, work.fakeNetns]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^multus: error loading CNI config file .*bad\.conf: error parsing configuration: .* \[code 6\]\n$/);
    } finally {
      work.remove();
    }
  });
});

describe.skipIf(!canUseNamespaces)('the command line in real namespaces', () => {
  const f = nodeFixture();

  it('runs a multus configuration through add, check and del like cnitool', () => {
    const file = join(f.work.dir, '00-multus.conf');
    writeFileSync(file, JSON.stringify({
      cniVersion: '1.0.0', name: 'multus-cli', type: 'multus', cniDir: f.work.cniDir, binDir: REFERENCE_PLUGINS,
      delegates: [
        { cniVersion: '1.0.0', name: `p-${f.node.id}`, type: 'bridge', bridge: `br${f.node.id}`,
          ipam: { type: 'host-local', subnet: '10.221.0.0/24', dataDir: f.work.ipamDir } },
        { cniVersion: '1.0.0', name: `s-${f.node.id}`, type: 'macvlan', master: f.node.uplink,
          ipam: { type: 'host-local', subnet: '10.222.0.0/24', dataDir: f.work.ipamDir } },
      ],
    }));
    const cacheDir = join(f.work.dir, 'cache');
    // `multus` is not on --cni-path: the CLI finds its own executable for a configuration of type multus.
    const run = (verb: string) => spawnSync('ip', ['netns', 'exec', f.node.nodeNs, MULTUS, verb, file, f.node.podNetnsPath,
      '--cache-dir', cacheDir, '--cni-path', REFERENCE_PLUGINS], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    const add = run('add');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ ips: [{ address: '10.221.0.2/24' }] });
    expect(f.node.podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1']);
    expect(readdirSync(join(cacheDir, 'results'))).toHaveLength(1);
    expect(run('check').status).toBe(0);
    const del = run('del');
    expect(del.status).toBe(0);
    expect(f.node.podLinks()).toEqual([]);
    expect(readdirSync(join(cacheDir, 'results'))).toEqual([]);
  });
});
