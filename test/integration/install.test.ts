import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { versionInfoJson } from '../../src/cni/version';
import { linkBuiltinPlugins, MULTUS_LINK } from '../../src/install/app-install';
import { runInstall, runUninstall } from '../../src/install/install-run';
import { MULTUS_CONF, MULTUS_CONFLIST } from '../../src/install/multus-conf';
import { FLANNEL_031, InstallSandbox, installFlags, jwt } from '../helpers/install';
import { ROOT, Workdir } from '../helpers/multus';

// `multus install` end to end, in temporary directories standing for the host: the real application is copied,
// the installed executable runs a pod ADD through the generated configuration, a second run changes nothing,
// --dry-run changes nothing, and --watch follows token rotation and primary changes until SIGTERM.

function spyPrimary(work: Workdir, cniVersion: string): Record<string, unknown> {
  return { cniVersion, name: 'podnet', plugins: [{ type: 'spy', spy: { log: work.spyLog }, capabilities: { portMappings: true } }] };
}

/** Every path under `dir` with its mtime, mode and link target: a run that changes nothing leaves this equal. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, rel);
    const st = lstatSync(path);
    out[rel] = `${st.mtimeMs}:${st.mode}:${st.isSymbolicLink() ? readlinkSync(path) : ''}`;
  }
  return out;
}

function runPlugin(path: string, env: Record<string, string>, stdin = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(path, [], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, input: stdin, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('multus install on a node', () => {
  let sb: InstallSandbox;
  let work: Workdir;
  let firstRun: { status: number; logs: string[] };

  beforeAll(async () => {
    sb = new InstallSandbox();
    work = new Workdir();
    sb.writeConf('10-podnet.conflist', spyPrimary(work, '0.3.1'));
    const flags = await installFlags([...sb.args(), '--cni-bin-dir', work.binDir, '--no-kubeconfig']);
    const status = await runInstall(flags, { io: sb.io, env: {} });
    firstRun = { status, logs: [...sb.io.logs] };
  });
  afterAll(() => {
    sb.remove();
    work.remove();
  });

  it('installs the application, links multus to it and writes 00-multus.conf', () => {
    expect(firstRun.status, firstRun.logs.join('\n')).toBe(0);
    const entry = realpathSync(join(work.binDir, MULTUS_LINK));
    const versionDir = join(entry, '../..');
    expect(versionDir.startsWith(`${realpathSync(sb.installDir)}/`)).toBe(true);
    expect(readFileSync(entry, 'utf8').split('\n')[0]).toBe(`#!${join(versionDir, 'node')} --use-openssl-ca`);
    // The production dependencies travel, the development ones do not.
    expect(existsSync(join(versionDir, 'node_modules/commander/package.json'))).toBe(true);
    expect(existsSync(join(versionDir, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(versionDir, 'build/Release/netns.node'))).toBe(true);
    expect(JSON.parse(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8'))).toMatchObject({ type: 'multus', binDir: work.binDir });
  });

  it('the installed executable answers VERSION, under its own name and as a built-in plugin link', () => {
    const multus = runPlugin(join(work.binDir, MULTUS_LINK), { CNI_COMMAND: 'VERSION' });
    expect(multus.stderr).toBe('');
    expect(multus.stdout).toBe(versionInfoJson());
    linkBuiltinPlugins({ hostPrefix: '', cniBinDir: work.binDir, installDir: sb.installDir, pruneAfterMs: 0 }, ['macvlan'], false, sb.files());
    expect(runPlugin(join(work.binDir, 'macvlan'), { CNI_COMMAND: 'VERSION' }).stdout).toBe(versionInfoJson());
    rmSync(join(work.binDir, 'macvlan'));
  });

  it('the installed executable says which build it is without git or the checkout: version, commit, CNI versions', () => {
    const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    const r = spawnSync(join(work.binDir, MULTUS_LINK), ['-version'], { env: { PATH: '/nonexistent' }, cwd: '/', encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^multus: version:\\d+\\.\\d+\\.\\d+\\(multus-ts,(clean|dirty)\\), commit:${commit}, date:\\S+\n`
      + 'CNI spec 1\\.1\\.0; supported versions: 0\\.1\\.0, 0\\.2\\.0, 0\\.3\\.0, 0\\.3\\.1, 0\\.4\\.0, 1\\.0\\.0, 1\\.1\\.0\n$'));
  });

  it('the installed executable runs a pod ADD and DEL from the generated configuration, as a runtime would', () => {
    // The runtime passes 00-multus.conf as it is; only the cache goes into the sandbox instead of /var/lib/cni/multus.
    const conf = { ...JSON.parse(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8')), cniDir: work.cniDir };
    const env = { CNI_CONTAINERID: 'ctr-install', CNI_NETNS: work.fakeNetns, CNI_IFNAME: 'eth0', CNI_PATH: work.binDir };
    const add = runPlugin(join(work.binDir, MULTUS_LINK), { ...env, CNI_COMMAND: 'ADD' }, JSON.stringify(conf));
    expect(add.status, add.stdout + add.stderr).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ cniVersion: '0.3.1', ips: [{ address: '10.99.0.2/24' }] });
    const del = runPlugin(join(work.binDir, MULTUS_LINK), { ...env, CNI_COMMAND: 'DEL' }, JSON.stringify(conf));
    expect(del.status, del.stdout + del.stderr).toBe(0);
    expect(work.spyCalls().map((c) => `${c.command} ${c.env.CNI_IFNAME}`)).toEqual(['ADD eth0', 'DEL eth0']);
  });

  it('changes nothing when run again', async () => {
    const before = { ...tree(sb.dir), ...tree(work.binDir) };
    sb.io.clear();
    const flags = await installFlags([...sb.args(), '--cni-bin-dir', work.binDir, '--no-kubeconfig']);
    expect(await runInstall(flags, { io: sb.io, env: {} })).toBe(0);
    expect(sb.io.logs).toEqual([]);
    expect({ ...tree(sb.dir), ...tree(work.binDir) }).toEqual(before);
  });
});

describe('multus install then multus uninstall', () => {
  let sb: InstallSandbox;
  beforeAll(() => {
    sb = new InstallSandbox();
    mkdirSync(sb.binDir);
    writeFileSync(join(sb.binDir, 'bridge'), '#!/bin/sh\n', { mode: 0o755 });
    sb.writeConf('10-podnet.conflist', FLANNEL_031);
  });
  afterAll(() => sb.remove());

  it('writes the kubeconfig before it switches the multus link, and the configuration last', async () => {
    expect(await runInstall(await installFlags([...sb.args(), '--link-builtin-plugins=macvlan']), { io: sb.io, env: {} })).toBe(0);
    const at = (prefix: string) => sb.io.logs.findIndex((l) => l.startsWith(prefix));
    const kubeconfig = at(`wrote ${sb.kubeconfigPath}`);
    const link = at(`linked ${join(sb.binDir, MULTUS_LINK)} -> `);
    const conf = at(`wrote ${join(sb.confDir, MULTUS_CONF)}`);
    expect(kubeconfig, sb.io.logs.join('\n')).toBeGreaterThanOrEqual(0);
    expect(link).toBeGreaterThan(kubeconfig);
    expect(conf).toBeGreaterThan(link);
    // Written whole or not at all: a temporary file renamed into place, none left behind.
    expect(readdirSync(join(sb.confDir, 'multus.d'))).toEqual(['multus.kubeconfig']);
  }, 120_000);

  it('uninstall removes everything install put on the host and nothing else', async () => {
    expect(readdirSync(sb.binDir).sort()).toEqual(['bridge', 'macvlan', 'multus']);
    sb.io.clear();
    expect(await runUninstall(await installFlags([...sb.args()]), { io: sb.io, env: {} }), sb.io.logs.join('\n')).toBe(0);
    expect(readdirSync(sb.binDir)).toEqual(['bridge']);
    expect(readdirSync(sb.confDir)).toEqual(['10-podnet.conflist']);
    expect(existsSync(sb.installDir)).toBe(false);
    // Nothing left to do the second time.
    sb.io.clear();
    expect(await runUninstall(await installFlags([...sb.args()]), { io: sb.io, env: {} })).toBe(0);
    expect(sb.io.logs).toEqual([]);
  });
});

describe('multus install --dry-run', () => {
  let sb: InstallSandbox;
  beforeEach(() => {
    sb = new InstallSandbox();
  });
  afterEach(() => sb.remove());

  it('prints every file it would write and writes nothing', async () => {
    sb.writeConf('10-bridge.conf', { cniVersion: '1.0.0', name: 'podnet', type: 'bridge' });
    const before = tree(sb.dir);
    const flags = await installFlags([...sb.args(), '--dry-run']);
    expect(await runInstall(flags, { io: sb.io, env: {} })).toBe(0);
    expect(tree(sb.dir)).toEqual(before);
    expect(existsSync(sb.installDir)).toBe(false);
    const out = sb.io.outs.join('');
    expect(out).toMatch(new RegExp(`would install \\d+ files \\([\\d.]+ MiB\\) into ${sb.installDir}/`));
    expect(out).toContain(`would link ${join(sb.binDir, MULTUS_LINK)} -> ${sb.installDir}/`);
    expect(out).toContain(`would write ${sb.kubeconfigPath} (mode 600)`);
    expect(out).toContain(`would write ${join(sb.confDir, MULTUS_CONFLIST)} (mode 644)`);
    expect(sb.io.logs).toEqual([]);
  });

  it('exits 1 when there is no primary configuration, naming the directory', async () => {
    const flags = await installFlags([...sb.args(), '--dry-run', '--skip-app-install']);
    expect(await runInstall(flags, { io: sb.io, env: {} })).toBe(1);
    expect(sb.io.logs.join('\n')).toContain(`no primary CNI configuration in ${sb.confDir} yet`);
  });
});

/** Polls until `check` holds; the test's own timeout bounds it. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

describe('multus install --watch', () => {
  let sb: InstallSandbox;
  beforeEach(() => {
    sb = new InstallSandbox();
  });
  afterEach(() => sb.remove());

  it('follows token rotation and primary changes, keeps the last good config, and cleans up on SIGTERM', async () => {
    // A separate process, because it waits for a real SIGTERM.
    const script = `
      const { Command } = require(${JSON.stringify(join(ROOT, 'node_modules/commander'))});
      const { registerInstallCommand } = require(${JSON.stringify(join(ROOT, 'dist/install/install-command.js'))});
      const program = new Command('multus');
      registerInstallCommand(program);
      program.parseAsync(process.argv.slice(1), { from: 'user' });`;
    const child = spawn(process.execPath, ['-e', script, 'install', ...sb.args(), '--skip-app-install', '--watch', '--interval', '1', '--cleanup-on-exit'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const kubeconfig = sb.kubeconfigPath;
    const conflist = join(sb.confDir, MULTUS_CONFLIST);
    try {
      // Started before the primary network exists: the kubeconfig comes, 00-multus waits.
      await until(() => readOr(kubeconfig) !== '');
      expect(existsSync(conflist)).toBe(false);
      sb.writeConf('10-bridge.conf', { cniVersion: '1.0.0', name: 'first', type: 'bridge' });
      await until(() => readOr(conflist).includes('"first"'));

      const rotated = jwt({ exp: Math.floor(Date.now() / 1000) + 7200, rotated: true });
      sb.setToken(rotated);
      await until(() => readOr(kubeconfig).includes(rotated));

      writeFileSync(join(sb.confDir, '10-bridge.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'second', type: 'bridge' }));
      await until(() => readOr(conflist).includes('"second"'));

      rmSync(join(sb.confDir, '10-bridge.conf'));
      await until(() => stderr.includes('no primary CNI configuration'));
      expect(readOr(conflist)).toContain('"second"');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, stderr).toBe(0);
    expect(existsSync(conflist)).toBe(false);
    expect(existsSync(kubeconfig)).toBe(false);
    expect(stderr).toContain('stopping');
  });

  it('looks at the token again before it expires even when the interval is long', async () => {
    sb.writeConf('10-bridge.conf', { cniVersion: '1.0.0', name: 'podnet', type: 'bridge' });
    // Expires 62 s from now: with the default 60 s margin the loop must look again within about 2 s, not in an hour.
    sb.setToken(jwt({ exp: Math.floor(Date.now() / 1000) + 62 }));
    // Everything written beforehand, so that no change in the conf dir wakes the loop: only the expiry can.
    expect(await runInstall(await installFlags([...sb.args(), '--skip-app-install']), { io: sb.io, env: {} })).toBe(0);
    const stop = new AbortController();
    const flags = await installFlags([...sb.args(), '--skip-app-install', '--watch', '--interval', '3600']);
    const running = runInstall(flags, { io: sb.io, env: {}, signal: stop.signal });
    try {
      await until(() => sb.io.logs.some((l) => l.startsWith('primary network:')));
      const rotated = jwt({ exp: Math.floor(Date.now() / 1000) + 3600, rotated: true });
      sb.setToken(rotated);
      await until(() => readOr(sb.kubeconfigPath).includes(rotated));
    } finally {
      stop.abort();
    }
    expect(await running).toBe(0);
    expect(sb.io.logs).toContain('stopping');
  });
});
