import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { versionInfoJson } from '../../src/cni/version';
import { loadKubeconfig } from '../../src/k8s/kubeconfig';
import { FLANNEL_031, jwt } from '../helpers/install';
import { canUseScratchRoot, ScratchHost } from '../helpers/scratch-root';

// Go Multus's published thin DaemonSet (deployments/multus-daemonset.yml, v4.2.2) run against our image's entry
// points, unchanged: init container `/install_multus --type thin`, then `/thin_entrypoint` with the container's args.
// The pod's view (host directories under /host, the service-account token) is built in a private mount namespace.
const INIT_COMMAND = ['/install_multus', '--type', 'thin'];
const CONTAINER_COMMAND = ['/thin_entrypoint'];
const CONTAINER_ARGS = ['--multus-conf-file=auto', '--multus-autoconfig-dir=/host/etc/cni/net.d', '--cni-conf-dir=/host/etc/cni/net.d'];
const ENV = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

interface Ran { status: number | null; stderr: string }

/** The child's outcome, and its stderr so far (the installer logs there). */
const running = new Set<ChildProcess>();

function watch(child: ChildProcess): { done: Promise<Ran>; stderr(): string } {
  running.add(child);
  child.on('close', () => running.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout?.resume();
  return { done: new Promise((resolve) => child.on('close', (status) => resolve({ status, stderr }))), stderr: () => stderr };
}

function finished(child: ChildProcess): Promise<Ran> {
  return watch(child).done;
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe.skipIf(!canUseScratchRoot)('Go Multus\'s thin DaemonSet with our image', () => {
  let host: ScratchHost;
  const token = jwt({ exp: Math.floor(Date.now() / 1000) + 3600 });

  beforeAll(() => {
    host = new ScratchHost();
    mkdirSync(host.path('/etc/cni/net.d'), { recursive: true });
    mkdirSync(host.path('/opt/cni/bin'), { recursive: true });
    writeFileSync(host.path('/etc/cni/net.d/10-flannel.conflist'), JSON.stringify(FLANNEL_031));
    writeFileSync(host.path('/opt/cni/bin/flannel'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(host.saDir, 'token'), token);
    writeFileSync(join(host.saDir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n');
  });
  afterEach(() => {
    for (const child of running) child.kill('SIGKILL');
  });
  afterAll(() => host?.remove());

  it('the init container installs the executable into the host\'s bin dir, and nothing else', async () => {
    const init = await finished(host.spawn(INIT_COMMAND, ENV));
    expect(init.status, init.stderr).toBe(0);
    const link = readlinkSync(host.path('/opt/cni/bin/multus'));
    expect(link).toMatch(/^\/opt\/cni\/bin\/\.multus-ts\/[^/]+\/bin\/multus$/);
    const version = join(host.path(link), '../..');
    // The host path in the "#!" line, which the runtime's exec reads on the node.
    expect(readFileSync(host.path(link), 'utf8').split('\n')[0]).toBe(`#!${join(link, '../../node')} --use-openssl-ca`);
    const r = spawnSync(join(version, 'node'), [host.path(link)], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' });
    expect(r.stdout).toBe(versionInfoJson());
    expect(readdirSync(host.path('/etc/cni/net.d'))).toEqual(['10-flannel.conflist']);
  }, 120_000);

  it('the container writes the kubeconfig and 00-multus.conf as Multus does, and stays until SIGTERM', async () => {
    const child = host.spawn([...CONTAINER_COMMAND, ...CONTAINER_ARGS], ENV);
    const { done, stderr } = watch(child);
    const conf = host.path('/etc/cni/net.d/00-multus.conf');
    await until('the installer to watch', () => stderr().includes('multus install: watching /host/etc/cni/net.d'));
    expect(JSON.parse(readFileSync(conf, 'utf8'))).toEqual({
      cniVersion: '0.3.1',
      name: 'multus-cni-network',
      type: 'multus',
      capabilities: { portMappings: true },
      kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
      delegates: [FLANNEL_031],
    });
    const kubeconfig = await loadKubeconfig(host.path('/etc/cni/net.d/multus.d/multus.kubeconfig'));
    expect(kubeconfig).toMatchObject({ server: 'https://10.96.0.1:443', token });
    expect(lstatSync(host.path('/etc/cni/net.d/multus.d/multus.kubeconfig')).mode & 0o777).toBe(0o600);
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const ran = await done;
    expect(ran.status, ran.stderr).toBe(0);
    // Without --cleanup-config-on-exit everything stays, as with Multus.
    expect(existsSync(conf)).toBe(true);
    expect(lstatSync(host.path('/opt/cni/bin/multus')).isSymbolicLink()).toBe(true);
  }, 60_000);

  it('with --cleanup-config-on-exit, SIGTERM removes everything the installer put on the host', async () => {
    const child = host.spawn([...CONTAINER_COMMAND, ...CONTAINER_ARGS, '--cleanup-config-on-exit'], ENV);
    const { done, stderr } = watch(child);
    await until('the installer to watch', () => stderr().includes('multus install: watching'));
    child.kill('SIGTERM');
    const ran = await done;
    expect(ran.status, ran.stderr).toBe(0);
    expect(readdirSync(host.path('/etc/cni/net.d'))).toEqual(['10-flannel.conflist']);
    expect(readdirSync(host.path('/opt/cni/bin'))).toEqual(['flannel']);
  }, 60_000);
});
