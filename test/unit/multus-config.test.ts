import { describe, it, expect } from 'vitest';
import { parseMultusConfig } from '../../src/multus/config';
import { CniError } from '../../src/cni/errors';
import { caught } from '../helpers/caught';

// multus-behaviour.md section 1 (thin-plugin configuration keys, defaults, Go's case-insensitive decoding).


const PRIMARY = { cniVersion: '1.0.0', name: 'cbr0', type: 'flannel', delegate: { isDefaultGateway: true } };

function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', delegates: [PRIMARY], ...extra };
}

describe('parseMultusConfig: defaults', () => {
  it('applies Multus defaults', () => {
    const c = parseMultusConfig(base(), '1.0.0');
    expect(c).toMatchObject({
      name: 'multus-cni-network',
      cniVersion: '1.0.0',
      confDir: '/etc/cni/multus/net.d',
      cniDir: '/var/lib/cni/multus',
      binDir: '/opt/cni/bin',
      kubeconfig: '',
      clusterNetwork: '',
      defaultNetworks: [],
      logFile: '',
      logToStderr: true,
      runtimeConfig: {},
      readinessIndicatorFile: '',
      namespaceIsolation: false,
      globalNamespaces: ['default'],
      systemNamespaces: ['kube-system'],
      multusNamespace: 'kube-system',
      retryDeleteOnError: false,
      delegateTimeoutMs: 60_000,
      readinessTimeoutMs: 45_000,
    });
  });

  it('reads explicit values', () => {
    const c = parseMultusConfig(
      base({
        confDir: '/c',
        cniDir: '/d',
        binDir: '/b',
        kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
        logFile: '/var/log/multus.log',
        logLevel: 'debug',
        logToStderr: false,
        readinessindicatorfile: '/run/flannel/subnet.env',
        namespaceIsolation: true,
        systemNamespaces: ['kube-system', 'openshift'],
        multusNamespace: 'multus',
        retryDeleteOnError: true,
        delegateTimeoutSeconds: 5,
        readinessTimeoutSeconds: 1.5,
        defaultNetworks: ['a', 'b'],
        runtimeConfig: { mac: '02:00:00:00:00:01' },
      }),
      '1.0.0',
    );
    expect(c).toMatchObject({
      confDir: '/c',
      cniDir: '/d',
      binDir: '/b',
      kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
      logFile: '/var/log/multus.log',
      logLevel: 'debug',
      logToStderr: false,
      readinessIndicatorFile: '/run/flannel/subnet.env',
      namespaceIsolation: true,
      systemNamespaces: ['kube-system', 'openshift'],
      multusNamespace: 'multus',
      retryDeleteOnError: true,
      delegateTimeoutMs: 5000,
      readinessTimeoutMs: 1500,
      defaultNetworks: ['a', 'b'],
      runtimeConfig: { mac: '02:00:00:00:00:01' },
    });
  });

  it('takes name and cniVersion from the arguments', () => {
    const c = parseMultusConfig(base({ cniVersion: '0.3.1' }), '0.3.1');
    expect(c.cniVersion).toBe('0.3.1');
    expect(c.name).toBe('multus-cni-network');
  });
});

describe('parseMultusConfig: key matching', () => {
  it('matches keys case-insensitively, like Go\'s JSON decoder', () => {
    const c = parseMultusConfig(
      base({
        BinDir: '/x/bin',
        LOGLEVEL: 'verbose',
        ReadinessIndicatorFile: '/run/ready',
        CONFDIR: '/x/conf',
        CniDir: '/x/cni',
        LogToStderr: false,
        NamespaceIsolation: true,
        GlobalNamespaces: 'a,b',
        MultusNamespace: 'mns',
        ClusterNetwork: 'cbr0',
        KubeConfig: '/k',
      }),
      '1.0.0',
    );
    expect(c).toMatchObject({
      binDir: '/x/bin',
      logLevel: 'verbose',
      readinessIndicatorFile: '/run/ready',
      confDir: '/x/conf',
      cniDir: '/x/cni',
      logToStderr: false,
      namespaceIsolation: true,
      globalNamespaces: ['a', 'b'],
      multusNamespace: 'mns',
      clusterNetwork: 'cbr0',
      kubeconfig: '/k',
    });
  });

  it('matches the delegates key case-insensitively', () => {
    const { delegates: _drop, ...noDelegates } = base();
    const c = parseMultusConfig({ ...noDelegates, Delegates: [PRIMARY] }, '1.0.0');
    expect(c.delegates.map((d) => d.name)).toEqual(['cbr0']);
  });

  it('lets the last spelling of a key win, as Go does', () => {
    expect(parseMultusConfig(base({ binDir: '/a', BINDIR: '/b' }), '1.0.0').binDir).toBe('/b');
    expect(parseMultusConfig(base({ BINDIR: '/b', binDir: '/a' }), '1.0.0').binDir).toBe('/a');
  });

  it('ignores unknown keys', () => {
    const c = parseMultusConfig(
      base({
        cniConf: '/host/etc/cni/multus/net.d',
        defaultnetworkfile: '/tmp/foo',
        defaultnetworkwaitseconds: 3,
        capabilities: { portMappings: true },
        whatever: { nested: [1, 2] },
      }),
      '1.0.0',
    );
    expect(c.binDir).toBe('/opt/cni/bin');
  });
});

describe('parseMultusConfig: wrong types', () => {
  const cases: Array<[string, unknown, string]> = [
    ['binDir', 5, 'binDir'],
    ['BINDIR', true, 'binDir'],
    ['confDir', ['x'], 'confDir'],
    ['kubeconfig', {}, 'kubeconfig'],
    ['logToStderr', 'false', 'logToStderr'],
    ['namespaceIsolation', 1, 'namespaceIsolation'],
    ['retryDeleteOnError', 'true', 'retryDeleteOnError'],
    ['systemNamespaces', 'kube-system', 'systemNamespaces'],
    ['systemNamespaces', ['kube-system', 3], 'systemNamespaces'],
    ['defaultNetworks', 'a,b', 'defaultNetworks'],
    ['globalNamespaces', ['default'], 'globalNamespaces'],
    ['delegates', { type: 'x' }, 'delegates'],
    ['runtimeConfig', [], 'runtimeConfig'],
    ['logOptions', 'x', 'logOptions'],
    ['readinessindicatorfile', 1, 'readinessindicatorfile'],
    ['delegateTimeoutSeconds', 0, 'delegateTimeoutSeconds'],
    ['delegateTimeoutSeconds', '60', 'delegateTimeoutSeconds'],
    ['readinessTimeoutSeconds', -1, 'readinessTimeoutSeconds'],
  ];
  for (const [key, value, named] of cases) {
    it(`refuses ${key}: ${JSON.stringify(value)} with code 7, naming "${named}"`, () => {
      const e = caught(() => parseMultusConfig(base({ [key]: value }), '1.0.0'));
      expect(e.code).toBe(7);
      expect(e.message).toContain(`"${named}"`);
    });
  }

  it('refuses bad logOptions fields, naming them', () => {
    const e = caught(() => parseMultusConfig(base({ logOptions: { maxAge: 'x' } }), '1.0.0'));
    expect(e.code).toBe(7);
    expect(e.message).toContain('logOptions.maxAge');
    expect(parseMultusConfig(base({ logOptions: { maxAge: 5, maxSize: 100, maxBackups: 0, compress: true } }), '1.0.0').logOptions).toEqual({
      maxAge: 5,
      maxSize: 100,
      maxBackups: 0,
      compress: true,
    });
  });

  it('treats null as absent', () => {
    expect(parseMultusConfig(base({ binDir: null, logToStderr: null }), '1.0.0')).toMatchObject({ binDir: '/opt/cni/bin', logToStderr: true });
  });
});

describe('parseMultusConfig: globalNamespaces', () => {
  it('splits on "," and trims', () => {
    expect(parseMultusConfig(base({ globalNamespaces: ' foo,bar ,default' }), '1.0.0').globalNamespaces).toEqual(['foo', 'bar', 'default']);
  });

  it('replaces the implicit default', () => {
    expect(parseMultusConfig(base({ globalNamespaces: 'foo' }), '1.0.0').globalNamespaces).toEqual(['foo']);
  });

  // Go (pkg/types/conf.go LoadNetConf) only replaces the default list when the raw string is non-empty.
  it('keeps ["default"] for an empty string, as Go does', () => {
    expect(parseMultusConfig(base({ globalNamespaces: '' }), '1.0.0').globalNamespaces).toEqual(['default']);
  });
});

describe('parseMultusConfig: delegates and clusterNetwork', () => {
  it('requires delegates or clusterNetwork', () => {
    const { delegates: _drop, ...none } = base();
    for (const raw of [none, { ...none, delegates: [] }, { ...none, delegates: null }, { ...none, clusterNetwork: '' }]) {
      const e = caught(() => parseMultusConfig(raw, '1.0.0'));
      expect(e.code).toBe(7);
      expect(e.message).toContain('at least one delegate/clusterNetwork must be specified');
    }
  });

  it('accepts clusterNetwork without delegates', () => {
    const { delegates: _drop, ...none } = base();
    const c = parseMultusConfig({ ...none, clusterNetwork: 'cbr0' }, '1.0.0');
    expect(c.clusterNetwork).toBe('cbr0');
    expect(c.delegates).toEqual([]);
  });

  it('parses delegates, single configurations and conflists, inheriting the top-level cniVersion when missing', () => {
    const conflist = {
      name: 'sriov-chain',
      plugins: [{ type: 'sriov', vlan: 100 }, { type: 'tuning', mtu: 9000 }],
    };
    const own = { cniVersion: '0.4.0', name: 'own', plugins: [{ type: 'bridge', bridge: 'br0' }] };
    const single = { name: 'mv', type: 'macvlan', master: 'eth1' };
    const c = parseMultusConfig(base({ delegates: [single, conflist, own] }), '1.1.0');
    expect(c.delegates.map((d) => [d.name, d.cniVersion, d.isList])).toEqual([
      ['mv', '1.1.0', false],
      ['sriov-chain', '1.1.0', true],
      ['own', '0.4.0', true],
    ]);
    expect(c.delegates[0]!.plugins).toEqual([single]);
    expect(c.delegates[1]!.plugins).toEqual(conflist.plugins);
    expect(c.delegates[2]!.plugins).toEqual(own.plugins);
  });

  it('reports a bad delegate with its index', () => {
    const e = caught(() => parseMultusConfig(base({ delegates: [PRIMARY, { name: 'x' }] }), '1.0.0'));
    expect(e.code).toBe(7);
    expect(e.message).toContain('delegates[1]');
  });

  it('refuses an empty cniDir', () => {
    const e = caught(() => parseMultusConfig(base({ cniDir: '' }), '1.0.0'));
    expect(e.code).toBe(7);
    expect(e.message).toContain('"cniDir"');
  });
});

describe('parseMultusConfig: prevResult', () => {
  it('accepts a valid prevResult', () => {
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/x' }],
      ips: [{ address: '10.1.1.2/24', gateway: '10.1.1.1', interface: 0 }],
    };
    expect(() => parseMultusConfig(base({ prevResult }), '1.0.0')).not.toThrow();
  });

  it('refuses a prevResult that cannot be parsed', () => {
    for (const prevResult of [{ cniVersion: '1.0.0', ips: 'nope' }, 'x', { cniVersion: '1.0.0', ips: [{ address: 'not-an-ip' }] }]) {
      const e = caught(() => parseMultusConfig(base({ prevResult }), '1.0.0'));
      expect(e.code).toBe(6);
      expect(e.message).toContain('prevResult');
    }
  });

  it('matches PrevResult case-insensitively too', () => {
    expect(() => parseMultusConfig(base({ PrevResult: { cniVersion: '1.0.0', ips: 'nope' } }), '1.0.0')).toThrow(CniError);
  });
});
