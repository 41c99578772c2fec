import { existsSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/cni/errors';
import { parseMultusConfig } from '../../src/multus/config';
import { findPrimary, generateConfig, MULTUS_CONF, MULTUS_CONFLIST, syncMultusConfig } from '../../src/install/multus-conf';
import { caught } from '../helpers/caught';
import { FLANNEL_031, InstallSandbox } from '../helpers/install';

// multus-behaviour.md §6.1 step 4 (thin_entrypoint's auto configuration) and §7 item 12 (#1108, #1155).

let sb: InstallSandbox;
beforeEach(() => {
  sb = new InstallSandbox();
});
afterEach(() => sb.remove());

const BRIDGE_100 = {
  cniVersion: '1.0.0',
  name: 'podnet',
  type: 'bridge',
  bridge: 'cni0',
  capabilities: { ips: true, mac: false },
  ipam: { type: 'host-local', subnet: '10.244.0.0/24' },
};

function written(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(sb.confDir, name), 'utf8')) as Record<string, unknown>;
}

describe('generated configuration', () => {
  it('wraps a 0.3.1 conflist primary in 00-multus.conf with its version and capabilities', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    syncMultusConfig(await sb.options(), sb.files());
    expect(existsSync(join(sb.confDir, MULTUS_CONFLIST))).toBe(false);
    expect(written(MULTUS_CONF)).toEqual({
      cniVersion: '0.3.1',
      name: 'multus-cni-network',
      type: 'multus',
      capabilities: { portMappings: true },
      kubeconfig: sb.kubeconfigPath,
      binDir: sb.binDir,
      delegates: [FLANNEL_031],
    });
    expect(statSync(join(sb.confDir, MULTUS_CONF)).mode & 0o777).toBe(0o644);
  });

  it('writes 00-multus.conflist for a 1.0.0 primary, capabilities on the plugin, only the enabled ones', async () => {
    sb.writeConf('10-bridge.conf', BRIDGE_100);
    syncMultusConfig(await sb.options(), sb.files());
    expect(existsSync(join(sb.confDir, MULTUS_CONF))).toBe(false);
    const conf = written(MULTUS_CONFLIST);
    expect(conf).toEqual({
      cniVersion: '1.0.0',
      name: 'multus-cni-network',
      plugins: [{
        type: 'multus', capabilities: { ips: true }, kubeconfig: sb.kubeconfigPath, binDir: sb.binDir, delegates: [BRIDGE_100],
      }],
    });
  });

  it('unions the capabilities of every plugin in a conflist', async () => {
    sb.writeConf('10-calico.conflist', {
      cniVersion: '0.3.1',
      name: 'k8s-pod-network',
      plugins: [
        { type: 'calico', capabilities: { ips: true } },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
        { type: 'portmap', snat: true, capabilities: { portMappings: true } },
      ],
    });
    syncMultusConfig(await sb.options(), sb.files());
    expect(written(MULTUS_CONF).capabilities).toEqual({ ips: true, bandwidth: true, portMappings: true });
  });

  it('is accepted by the plugin\'s own parser, with every option written as its key', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options('--namespace-isolation', '--global-namespaces', 'default,shared', '--multus-namespace', 'multus',
      '--readiness-indicator-file', '/run/flannel/subnet.env', '--log-level', 'verbose', '--log-file', '/var/log/multus.log');
    syncMultusConfig(o, sb.files());
    const raw = written(MULTUS_CONF);
    expect(raw).toMatchObject({
      namespaceIsolation: true, globalNamespaces: 'default,shared', multusNamespace: 'multus',
      readinessindicatorfile: '/run/flannel/subnet.env', logLevel: 'verbose', logFile: '/var/log/multus.log',
    });
    const parsed = parseMultusConfig(raw, '0.3.1');
    expect(parsed).toMatchObject({
      kubeconfig: sb.kubeconfigPath, namespaceIsolation: true, globalNamespaces: ['default', 'shared'], multusNamespace: 'multus',
      readinessIndicatorFile: '/run/flannel/subnet.env', logLevel: 'verbose', binDir: sb.binDir,
    });
    expect(parsed.delegates).toHaveLength(1);
  });

  it('writes --builtin-plugins as the builtinPlugins key, which the plugin accepts', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    syncMultusConfig(await sb.options('--builtin-plugins', 'macvlan,host-local'), sb.files());
    const raw = written(MULTUS_CONF);
    expect(raw).toMatchObject({ builtinPlugins: ['macvlan', 'host-local'] });
    expect(parseMultusConfig(raw, '0.3.1').builtinPlugins).toEqual(['macvlan', 'host-local']);
    expect(existsSync(join(sb.binDir, 'macvlan'))).toBe(false);
  });

  it('omits kubeconfig with --no-kubeconfig and binDir for the default bin dir', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options('--no-kubeconfig', '--cni-bin-dir', '/opt/cni/bin');
    const conf = JSON.parse(generateConfig(findPrimary(sb.confDir, ''), o.config, o.kubeconfigPath, o.cniBinDir).content) as object;
    expect(conf).not.toHaveProperty('kubeconfig');
    expect(conf).not.toHaveProperty('binDir');
  });

  it('matches the example conf/00-multus.conf, which is what a flannel primary gives with the default paths', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options('--cni-bin-dir', '/opt/cni/bin', '--kubeconfig-path', '/etc/cni/net.d/multus.d/multus.kubeconfig');
    const generated = generateConfig(findPrimary(sb.confDir, ''), o.config, o.kubeconfigPath, o.cniBinDir);
    expect(generated.fileName).toBe(MULTUS_CONF);
    expect(generated.content).toBe(readFileSync(resolve(__dirname, '../../conf/00-multus.conf'), 'utf8'));
  });

  it('refuses a --cni-version that is not the primary\'s, like Multus', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options('--cni-version', '1.0.0');
    const e = caught(() => syncMultusConfig(o, sb.files()));
    expect(e.code).toBe(ErrorCode.IncompatibleVersion);
    expect(e.message).toContain('--cni-version is 1.0.0 while the primary network');
    expect(existsSync(join(sb.confDir, MULTUS_CONF))).toBe(false);
  });

  it('refuses a primary without cniVersion, naming the file', async () => {
    const path = sb.writeConf('10-bridge.conf', { ...BRIDGE_100, cniVersion: undefined });
    const o = await sb.options();
    const err = caught(() => syncMultusConfig(o, sb.files()));
    expect(err.message).toBe(`primary CNI configuration ${path} has no "cniVersion"`);
  });
});

describe('choosing the primary', () => {
  it('takes the alphabetically first configuration that is not ours, .json included', async () => {
    sb.writeConf('20-b.conf', { ...BRIDGE_100, name: 'b' });
    sb.writeConf('15-a.json', { ...BRIDGE_100, name: 'a' });
    sb.writeConf('00-multus.conf', '{"cniVersion":"1.0.0","name":"multus-cni-network","type":"multus","delegates":[]}');
    sb.writeConf('05-notes.txt', 'not a configuration');
    expect(findPrimary(sb.confDir, '').net.name).toBe('a');
  });

  it('takes --primary-config when given', async () => {
    sb.writeConf('10-a.conf', { ...BRIDGE_100, name: 'a' });
    sb.writeConf('20-b.conf', { ...BRIDGE_100, name: 'b' });
    const o = await sb.options('--primary-config', '20-b.conf');
    expect(syncMultusConfig(o, sb.files()).primary.net.name).toBe('b');
  });

  it('never nests a multus configuration, whatever its file name (Multus #1108)', async () => {
    sb.writeConf('05-old-multus.conf', { cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus', delegates: [FLANNEL_031] });
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const { primary, warnings } = syncMultusConfig(await sb.options(), sb.files());
    expect(primary.net.name).toBe('cbr0');
    expect(warnings.join('\n')).toContain('05-old-multus.conf: it is a multus configuration');
    // Running again over our own output still finds flannel, not 00-multus.conf.
    syncMultusConfig(await sb.options(), sb.files());
    expect((written(MULTUS_CONF).delegates as Array<{ name: string }>)[0]!.name).toBe('cbr0');
  });

  it('does not fall through to the next file when the first does not parse (it may be half written)', async () => {
    sb.writeConf('10-calico.conflist', '{"cniVersion": "0.3.1", "name": "k8s-pod-net');
    sb.writeConf('20-flannel.conflist', FLANNEL_031);
    const e = caught(() => findPrimary(sb.confDir, ''));
    expect(e.code).toBe(ErrorCode.DecodingFailure);
    expect(e.message).toContain('10-calico.conflist');
  });

  it('reports configurations that sort before 00-multus, which the runtime would use instead', async () => {
    sb.writeConf('00-aaa.conf', { ...BRIDGE_100, name: 'aaa' });
    const { warnings } = syncMultusConfig(await sb.options(), sb.files());
    expect(warnings.join('\n')).toContain('00-aaa.conf sorts before 00-multus.conflist');
  });
});

describe('keeping the configuration current', () => {
  it('keeps the last good configuration when the primary disappears (Multus #1155)', async () => {
    const primary = sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options();
    syncMultusConfig(o, sb.files());
    const before = readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8');
    rmSync(primary);
    const e = caught(() => syncMultusConfig(o, sb.files()));
    expect(e.message).toBe(`no primary CNI configuration in ${sb.confDir} yet`);
    expect(readFileSync(join(sb.confDir, MULTUS_CONF), 'utf8')).toBe(before);
  });

  it('switches between .conf and .conflist when the primary\'s version changes, leaving only one', async () => {
    const o = await sb.options();
    sb.writeConf('10-net.conflist', FLANNEL_031);
    syncMultusConfig(o, sb.files());
    sb.writeConf('10-net.conflist', { ...FLANNEL_031, cniVersion: '1.0.0' });
    syncMultusConfig(o, sb.files());
    expect(existsSync(join(sb.confDir, MULTUS_CONF))).toBe(false);
    expect(written(MULTUS_CONFLIST).cniVersion).toBe('1.0.0');
  });

  it('writes nothing the second time: same content, mtime untouched', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    const o = await sb.options();
    syncMultusConfig(o, sb.files());
    const path = join(sb.confDir, MULTUS_CONF);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const mtime = statSync(path, { bigint: true }).mtimeNs;
    sb.io.clear();
    syncMultusConfig(o, sb.files());
    expect(statSync(path, { bigint: true }).mtimeNs).toBe(mtime);
    expect(sb.io.logs).toEqual([]);
  });

  it('--dry-run prints the configuration and writes nothing', async () => {
    sb.writeConf('10-flannel.conflist', FLANNEL_031);
    syncMultusConfig(await sb.options('--dry-run'), sb.files(true));
    expect(existsSync(join(sb.confDir, MULTUS_CONF))).toBe(false);
    const out = sb.io.outs.join('');
    expect(out).toContain(`would write ${join(sb.confDir, MULTUS_CONF)} (mode 644):\n{\n  "cniVersion": "0.3.1"`);
    expect(sb.io.logs).toEqual([]);
  });
});
