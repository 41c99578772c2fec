import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInstall, runUninstall } from '../../src/install/install-run';
import { installMultusArgs, thinEntrypointArgs } from '../../src/install/multus-entrypoints';
import { MULTUS_CONF, syncMultusConfig } from '../../src/install/multus-conf';
import { parseInstallFlags } from '../../src/install/options';
import { caught } from '../helpers/caught';
import { FLANNEL_031, InstallSandbox, installFlags } from '../helpers/install';

// Go Multus 4.2.2's cmd/thin_entrypoint flags, each under its own name with its meaning (issue 8 item 9).

async function parse(args: string[]) {
  return parseInstallFlags(await installFlags(args));
}

describe('Multus\'s thin_entrypoint flags', () => {
  it('the published DaemonSet\'s args: paths under /host are the host\'s paths, reached under /host', async () => {
    const o = await parse(['--multus-conf-file=auto', '--multus-autoconfig-dir=/host/etc/cni/net.d', '--cni-conf-dir=/host/etc/cni/net.d']);
    expect(o).toMatchObject({
      hostPrefix: '/host', cniConfDir: '/etc/cni/net.d', autoconfigDir: '/etc/cni/net.d', cniBinDir: '/opt/cni/bin',
      installDir: '/opt/cni/bin/.multus-ts', kubeconfigPath: '/etc/cni/net.d/multus.d/multus.kubeconfig', multusConfFile: '',
    });
    // Our own names keep their meaning: host paths, with --host-prefix.
    expect(await parse(['--host-prefix=/host', '--cni-bin-dir=/opt/cni/bin'])).toMatchObject({ hostPrefix: '/host', cniBinDir: '/opt/cni/bin' });
    expect(await parse(['--cni-bin-dir=/opt/cni/bin'])).toMatchObject({ hostPrefix: '', installDir: '/opt/cni/bin/.multus-ts' });
  });

  it('every flag maps to its meaning', async () => {
    const o = await parse([
      '--cni-bin-dir=/host/opt/cni/bin', '--cni-conf-dir=/host/etc/cni/net.d', '--cni-version=0.3.1', '--force-cni-version',
      '--multus-autoconfig-dir=/host/etc/cni/auto', '--skip-multus-binary-copy=true', '--multus-kubeconfig-file-host=/etc/k/multus.kubeconfig',
      '--multus-master-cni-file-name=10-calico.conflist', '--multus-cni-conf-dir=/host/etc/cni/multus/net.d', '--namespace-isolation=true',
      '--global-namespaces=default,infra', '--multus-log-to-stderr=false', '--multus-log-level=DEBUG', '--multus-log-file=/var/log/multus.log',
      '--override-network-name', '--cleanup-config-on-exit=true', '--rename-conf-file', '--readiness-indicator-file=/run/ready',
      '--additional-bin-dir=/opt/multus/bin', '--skip-config-watch', '--skip-tls-verify',
    ]);
    expect(o).toMatchObject({
      hostPrefix: '/host', cniBinDir: '/opt/cni/bin', cniConfDir: '/etc/cni/net.d', autoconfigDir: '/etc/cni/auto', installApp: false,
      kubeconfigPath: '/etc/k/multus.kubeconfig', skipTlsVerify: true, cleanupOnExit: true, watch: false,
      config: {
        primaryConfig: '10-calico.conflist', cniVersion: '0.3.1', forceCniVersion: true, overrideNetworkName: true, renamePrimary: true,
        namespaceIsolation: true, globalNamespaces: 'default,infra', multusNamespace: '', readinessIndicatorFile: '/run/ready',
        logLevel: 'debug', logFile: '/var/log/multus.log', logToStderr: false, binDir: '/opt/multus/bin', confDir: '/etc/cni/multus/net.d',
      },
    });
    expect(await parse(['--multus-conf-file=/tmp/multus-conf/70-multus.conf'])).toMatchObject({ multusConfFile: '/tmp/multus-conf/70-multus.conf' });
    expect(await parse(['--namespace-isolation=false', '--skip-multus-binary-copy=0'])).toMatchObject({ installApp: true, config: { namespaceIsolation: false } });
  });

  it('refuses what Multus refuses', async () => {
    await expect(installFlags(['--namespace-isolation=maybe'])).rejects.toThrow(/"maybe" is not a boolean/);
    await expect(parse(['--multus-log-level=loud'])).rejects.toThrow(/--log-level: must be one of panic, error, verbose, debug/);
    await expect(parse(['--force-cni-version'])).rejects.toThrow(/--force-cni-version: needs --cni-version/);
    await expect(parse(['--multus-bin-file=/bin/sh'])).rejects.toThrow(/is not the bin\/multus of a multus-ts application/);
  });

  it('thin_entrypoint and install_multus, as the image starts them', () => {
    expect(thinEntrypointArgs(['--cni-conf-dir=/host/x'])).toEqual([
      'install', '--cni-bin-dir=/host/opt/cni/bin', '--cni-conf-dir=/host/etc/cni/net.d', '--multus-autoconfig-dir=/host/etc/cni/net.d',
      '--watch', '--stay-running', '--cni-conf-dir=/host/x',
    ]);
    expect(installMultusArgs(['--type', 'thin'])).toEqual(['install', '--app-only', '--cni-bin-dir=/host/opt/cni/bin']);
    expect(installMultusArgs(['-t', 'thin', '-d', '/host/bin'])).toEqual(['install', '--app-only', '--cni-bin-dir=/host/bin']);
    expect(installMultusArgs(['--type=thin', '--dest-dir=/b'])).toEqual(['install', '--app-only', '--cni-bin-dir=/b']);
    expect(caught(() => installMultusArgs(['--type', 'thick'])).message).toBe('install_multus: --type "thick" is not supported');
    expect(caught(() => installMultusArgs([])).message).toBe('install_multus: --type is missing');
  });
});

describe('what the Multus flags write', () => {
  let sb: InstallSandbox;
  beforeEach(() => {
    sb = new InstallSandbox();
  });
  afterEach(() => sb.remove());

  async function install(...extra: string[]): Promise<number> {
    return runInstall(await installFlags([...sb.args(), '--skip-app-install', ...extra]), { io: sb.io, env: {} });
  }

  it('name, forced version, logToStderr, binDir, confDir; the primary renamed to .old', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    expect(await install('--override-network-name', '--cni-version=0.4.0', '--force-cni-version', '--multus-log-to-stderr=false',
      '--additional-bin-dir=/opt/multus/bin', `--multus-cni-conf-dir=${join(sb.dir, 'multus-net.d')}`, '--rename-conf-file')).toBe(0);
    expect(JSON.parse(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8'))).toEqual({
      cniVersion: '0.4.0', name: 'cbr0', type: 'multus', capabilities: { portMappings: true }, kubeconfig: sb.kubeconfigPath,
      binDir: '/opt/multus/bin', confDir: join(sb.dir, 'multus-net.d'), logToStderr: false, delegates: [{ ...FLANNEL_031, cniVersion: '0.4.0' }],
    });
    expect(existsSync(join(sb.dir, 'multus-net.d'))).toBe(true);
    expect(readdirSync(sb.confDir).sort()).toEqual(['00-multus.conf', '10-flannel.conflist.old', 'multus.d']);
  });

  it('--rename-conf-file: later passes keep to the renamed primary and never take the next file', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    sb.writeConf('99-loopback.conf', { cniVersion: '0.3.1', name: 'lo', type: 'loopback' });
    const o = parseInstallFlags(await installFlags([...sb.args(), '--skip-app-install', '--rename-conf-file']));
    const state = {};
    syncMultusConfig(o, sb.files(), state);
    const first = readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8');
    expect(caught(() => syncMultusConfig(o, sb.files(), state)).message).toContain('10-flannel.conflist');
    expect(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8')).toBe(first);
    // Its plugin writes it again: multus follows, and renames it again.
    sb.writeConf('10-flannel.conflist', { ...FLANNEL_031, name: 'cbr1' });
    syncMultusConfig(o, sb.files(), state);
    expect(JSON.parse(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8')).delegates[0].name).toBe('cbr1');
    expect(existsSync(join(sb.confDir, '10-flannel.conflist'))).toBe(false);
  });

  it('--skip-tls-verify: the kubeconfig skips verification instead of carrying the CA', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    expect(await install('--skip-tls-verify')).toBe(0);
    const k = JSON.parse(readFileSync(sb.kubeconfigPath, 'utf8')) as { clusters: { cluster: object }[] };
    expect(k.clusters[0]!.cluster).toEqual({ server: 'https://10.96.0.1:443', 'insecure-skip-tls-verify': true });
  });

  it('--multus-conf-file=<file> copies that file as it is; uninstall removes the copy and the kubeconfig', async () => {
    const own = join(sb.dir, '70-multus.conf');
    writeFileSync(own, '{"cniVersion":"0.3.1","name":"mine","type":"multus","delegates":[]}\n');
    expect(await install(`--multus-conf-file=${own}`)).toBe(0);
    expect(readFileSync(join(sb.confDir, '70-multus.conf'), 'utf8')).toBe(readFileSync(own, 'utf8'));
    expect(lstatSync(sb.kubeconfigPath).mode & 0o777).toBe(0o600);
    expect(await runUninstall(await installFlags([...sb.args(), `--multus-conf-file=${own}`]), { io: sb.io, env: {} })).toBe(0);
    expect(readdirSync(sb.confDir)).toEqual([]);
  });
});
