import { afterAll, describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBuiltinPlugin, runPlugin } from '../../src/builtins';
import { spawnRunner } from '../../src/delegation/exec-plugin';
import { parseNetworkConfig } from '../../src/delegation/network-config';
import { loadNetworkFile } from '../../src/delegation/network-files';
import { nadNetwork } from '../../src/k8s/nad';
import { parseDefaultNetworkAnnotation, parseNetworkSelection } from '../../src/k8s/network-selection';
import { CniError } from '../../src/cni/errors';
import { parseResult } from '../../src/cni/result';
import { validateText, type ValidateKind } from '../../src/validate/validate';
import { caught } from '../helpers/caught';

/*
 * One checker per configuration kind, used by the runtime (which fails with the first problem) and by
 * `multus validate` (which prints them all). These tests fail when the two disagree: a rule the runtime applies that
 * validate does not see, or the other way round.
 */

const PRIMARY = { cniVersion: '1.0.0', name: 'primary', type: 'bridge' };

function multusConf(extra: Record<string, unknown>): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', delegates: [PRIMARY], ...extra };
}

/** What multus, run by a container runtime, answers for this 00-multus.conf (only bad ones: nothing runs). */
async function runtimeAnswer(conf: unknown): Promise<{ code: number; msg: string }> {
  const env = {
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'checkers-agree', CNI_NETNS: '/var/run/netns/checkers-agree-none', CNI_IFNAME: 'eth0',
    CNI_PATH: '/nonexistent-checkers-agree', CNI_ARGS: '',
  };
  const out = await runPlugin(await loadBuiltinPlugin('multus'), env, () => Buffer.from(JSON.stringify(conf)), { runner: spawnRunner });
  expect(out.exitCode).toBe(1);
  return JSON.parse(out.stdout) as { code: number; msg: string };
}

/** The problems validate finds that the runtime refuses too, each with the runtime's error, and all its lines. */
async function validated(text: string, kind: ValidateKind): Promise<{ errors: CniError[]; lines: string[]; first?: CniError }> {
  const findings = await validateText(text, kind, 'input');
  const errors = findings.items.flatMap((i) => (i.kind === 'problem' && i.error ? [i.error] : []));
  const first = findings.items.find((i) => i.kind === 'problem');
  return { errors, lines: findings.lines(), first: first?.kind === 'problem' ? first.error : undefined };
}

describe('multus configuration: runtime and validate agree', () => {
  const BAD: Array<[string, Record<string, unknown>]> = [
    ['a name that is not a string', multusConf({ name: 5 })],
    ['an unsupported cniVersion', multusConf({ cniVersion: '0.9.0' })],
    ['a type that is not a string', multusConf({ type: ['multus'] })],
    ['a confDir that is not a string', multusConf({ confDir: 5 })],
    ['a negative timeout', multusConf({ delegateTimeoutSeconds: -1 })],
    ['an unknown built-in', multusConf({ builtinPlugins: ['bridge'] })],
    ['no delegate and no clusterNetwork', multusConf({ delegates: [] })],
    ['a delegate without a name', multusConf({ delegates: [{ type: 'bridge' }] })],
    ['a delegate whose type is a path', multusConf({ delegates: [{ name: 'a', type: '/bin/sh' }] })],
    ['a delegate with a non-boolean capability', multusConf({ delegates: [{ name: 'a', type: 'bridge', capabilities: { ips: 'yes' } }] })],
    ['a delegate whose ipam is a string', multusConf({ delegates: [{ name: 'a', type: 'bridge', ipam: 'host-local' }] })],
    ['a conflist plugin whose dns nameservers are a string', multusConf({ delegates: [{ name: 'a', plugins: [{ type: 'bridge', dns: { nameservers: '10.0.0.10' } }] }] })],
    ['a conflist delegate with an empty plugins list', multusConf({ delegates: [{ name: 'a', plugins: [] }] })],
    ['an unreadable prevResult', multusConf({ prevResult: { ips: 'x' } })],
    ['several problems at once', multusConf({ confDir: 5, binDir: [], logOptions: { maxAge: -1 }, delegates: [{ type: '../x' }, { name: 'b c', type: 'bridge' }] })],
  ];

  it.each(BAD)('%s: the runtime fails with the first problem validate prints', async (_name, conf) => {
    const answer = await runtimeAnswer(conf);
    const { errors, lines, first } = await validated(JSON.stringify(conf), 'multus-conf');
    expect(errors.length).toBeGreaterThan(0);
    // The first line validate prints is the problem multus fails with.
    expect(first).toBe(errors[0]);
    expect(answer.code).toBe(errors[0]!.code);
    // prepareCall puts the runtime's context in front; the rest is the checker's message.
    expect(answer.msg.replace(/^Multus: error loading netconf: /, '')).toBe(errors[0]!.message);
    expect(lines.at(-1)).not.toBe('ok');
  });

  it('prints every problem of one file, each naming its field', async () => {
    const conf = multusConf({
      confDir: 5, binDir: [], logOptions: { maxAge: -1 }, readinessTimeoutSeconds: 0,
      delegates: [{ type: '../x' }, { name: 'b c', type: 'bridge', capabilities: { mac: 1 } }],
    });
    const { errors, lines } = await validated(JSON.stringify(conf), 'multus-conf');
    expect(errors).toHaveLength(8);
    expect(lines.filter((l) => !l.includes(': note: ')).map((l) => l.split(' — ')[0])).toEqual([
      'input: confDir: 5 is not a string',
      'input: binDir: [] is not a string',
      'input: delegates[0].name: is missing',
      'input: delegates[0].type: "type": "../x" is not a plain plugin name',
      'input: delegates[1].name: "b c" has characters a network name cannot have',
      'input: delegates[1].capabilities.mac: 1 is not true or false',
      'input: logOptions.maxAge: -1 is not a number of 0 or more',
      'input: readinessTimeoutSeconds: 0 is not a positive number',
    ]);
  });

  it('a good configuration: validate finds nothing the runtime would refuse', async () => {
    const { errors, lines } = await validated(JSON.stringify(multusConf({ binDir: '/opt/cni/bin' })), 'multus-conf');
    expect(errors).toEqual([]);
    expect(lines).toEqual(['ok']);
  });
});

describe('delegate configuration (--kind cni): runtime and validate agree', () => {
  const BAD: Array<[string, unknown]> = [
    ['not an object', [1]],
    ['no name', { cniVersion: '1.0.0', type: 'bridge' }],
    ['a bad version', { cniVersion: '2.0.0', name: 'a', type: 'bridge' }],
    ['no type', { cniVersion: '1.0.0', name: 'a' }],
    ['an ipam.type with a path', { cniVersion: '1.0.0', name: 'a', type: 'bridge', ipam: { type: '/bin/sh' } }],
    ['a conflist plugin that is not an object', { cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'bridge' }, 'tuning'] }],
    ['a bad disableCheck', { cniVersion: '1.0.0', name: 'a', disableCheck: 'yes', plugins: [{ type: 'bridge' }] }],
  ];

  it.each(BAD)('%s: the runtime refuses it with validate\'s first problem', async (_name, conf) => {
    const err = caught(() => parseNetworkConfig(conf, 'configuration', '1.0.0'));
    const { errors } = await validated(JSON.stringify(conf), 'cni');
    expect(errors.length).toBeGreaterThan(0);
    expect({ code: err.code, msg: err.message }).toEqual({ code: errors[0]!.code, msg: errors[0]!.message });
  });
});

describe('NetworkAttachmentDefinition: runtime and validate agree', () => {
  function nadYaml(config: string): string {
    return `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: agree\n  namespace: ns1\nspec:\n  config: '${config}'\n`;
  }
  const BAD: Array<[string, string]> = [
    ['broken JSON', '{"type": "macvlan",}'],
    ['a list', '[1]'],
    ['both type and plugins', '{"cniVersion": "1.0.0", "type": "macvlan", "plugins": [{"type": "bridge"}]}'],
    ['a type with a path', '{"cniVersion": "1.0.0", "type": "../../bin/sh"}'],
    ['several problems', '{"cniVersion": "7", "plugins": [{"type": "a/b"}, {"ipam": {"type": 5}}]}'],
  ];

  it.each(BAD)('%s: the runtime refuses it with validate\'s first problem', async (_name, config) => {
    const err = caught(() => nadNetwork({ namespace: 'ns1', name: 'agree', annotations: {}, config }, { name: 'agree', namespace: 'ns1' },
      { confDir: '', cniVersion: '1.1.0' }));
    const { errors } = await validated(nadYaml(config), 'nad');
    expect(errors.length).toBeGreaterThan(0);
    expect({ code: err.code, msg: err.message }).toEqual({ code: errors[0]!.code, msg: errors[0]!.message });
  });

  it('prints every problem of spec.config, each naming its field', async () => {
    const { lines } = await validated(nadYaml(BAD[4]![1]), 'nad');
    expect(lines.map((l) => l.split(' — ')[0])).toEqual([
      'NetworkAttachmentDefinition ns1/agree: spec.config.cniVersion: "7" is not a CNI version multus supports',
      'NetworkAttachmentDefinition ns1/agree: spec.config.plugins[0].type: "type": "a/b" is not a plain plugin name',
      'NetworkAttachmentDefinition ns1/agree: spec.config.plugins[1].type: is missing',
      'NetworkAttachmentDefinition ns1/agree: spec.config.plugins[1].ipam.type: "ipam.type" must be a string naming a CNI plugin, got 5',
      'NetworkAttachmentDefinition ns1/agree: spec.config.name: note: missing: multus names the network after the NetworkAttachmentDefinition, "agree"',
    ]);
  });
});

describe('networks annotation: runtime and validate agree', () => {
  const BAD: Array<[string, string]> = [
    ['a bad text item', 'default/net1@my if,a//b'],
    ['a key of the wrong type, spelt in another case', '[{"Name": "a", "IPS": "10.1.1.5"}]'],
    ['several problems in one element', '[{"name": "a", "mac": "zz", "portMappings": [{"hostPort": 0, "containerPort": 80}], "bandwidth": {"ingressRate": 1.5}}]'],
    ['a duplicate interface', 'a@net1,b@net1'],
  ];

  it.each(BAD)('%s: the runtime refuses it with validate\'s first problem', async (_name, value) => {
    const err = caught(() => parseNetworkSelection(value, 'default'));
    const { errors } = await validated(value, 'annotation');
    expect(errors.length).toBeGreaterThan(0);
    expect(err.code).toBe(errors[0]!.code);
    // The runtime adds how many more problems validate would show.
    expect(err.message.startsWith(errors[0]!.message)).toBe(true);
    expect(err.message.includes('more problem')).toBe(errors.length > 1);
  });

  it('the default-network annotation: the runtime refuses two networks with the problem validate prints', async () => {
    const err = caught(() => parseDefaultNetworkAnnotation('a,b', 'kube-system'));
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    v1.multus-cni.io/default-network: a,b\nspec: {}\n';
    const { errors } = await validated(pod, 'annotation');
    expect(errors.map((e) => e.message)).toEqual([err.message]);
  });

  it('reads keys as Go does: any case, the last spelling wins', async () => {
    const [sel] = parseNetworkSelection('[{"name": "a", "INTERFACE": "x1", "Interface": "x2", "MAC": "c2:b0:57:49:47:f1"}]', 'default');
    expect(sel).toMatchObject({ name: 'a', interface: 'x2', mac: 'c2:b0:57:49:47:f1' });
    expect((await validated('[{"NAME": "a", "Ips": ["10.1.1.5"]}]', 'annotation')).lines).toEqual(['ok']);
  });
});

describe('plugin result (--kind result): runtime and validate agree', () => {
  const BAD: Array<[string, unknown]> = [
    ['not an object', []],
    ['an unsupported version', { cniVersion: '9.0.0', ips: [] }],
    ['an address without prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2' }] }],
    ['a 0.2.0 ip4 holding IPv6', { cniVersion: '0.2.0', ip4: { ip: 'fd00::2/64' } }],
  ];

  it.each(BAD)('%s: the runtime refuses it with validate\'s first problem', async (_name, result) => {
    const err = caught(() => parseResult(result, '1.1.0'));
    const { errors } = await validated(JSON.stringify(result), 'result');
    expect(errors.length).toBeGreaterThan(0);
    expect({ code: err.code, msg: err.message }).toEqual({ code: errors[0]!.code, msg: errors[0]!.message });
  });

  it('prints every problem of one result, each naming its field, and reads keys as Go does', async () => {
    const result = {
      CNIVersion: '1.0.0',
      Interfaces: [{ mac: 'aa:bb:cc:dd:ee:ff' }, 'eth0'],
      IPs: [{ Address: '10.0.0.2', Gateway: 'router', interface: -1 }],
      routes: [{ dst: '0.0.0.0/0', mtu: '1500' }],
      dns: { nameservers: [53] },
    };
    const { errors, lines } = await validated(JSON.stringify(result), 'auto');
    expect(lines.map((l) => l.split(' — ')[0])).toEqual([
      // Named as the runtime's message names them: by the field, whatever the spelling.
      'input: interfaces[0].name: nothing is not a string',
      'input: interfaces[1]: "eth0" is not an object',
      'input: ips[0].address: "10.0.0.2" is not an address with a prefix length (CIDR)',
      'input: ips[0].gateway: "router" is not an IP address',
      'input: ips[0].interface: -1 is not a non-negative interface index',
      'input: routes[0].mtu: "1500" is not an integer',
      'input: dns.nameservers[0]: 53 is not a string',
    ]);
    expect(caught(() => parseResult(result, '1.1.0')).message).toBe(errors[0]!.message);
    expect(parseResult({ CNIVersion: '1.0.0', IPS: [{ ADDRESS: '10.0.0.2/24' }] }, '0.1.0')).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] });
  });
});

describe('built-in plugin configuration in validate: the plugin\'s own check', () => {
  it('prints every problem macvlan would refuse, each naming its field, as the plugin says it', async () => {
    const conf = { cniVersion: '1.0.0', name: 'm', type: 'macvlan', master: 5, mode: 'brige', mtu: '1500', bcqueuelen: -1, dns: { nameservers: 'x' } };
    const { lines } = await validated(JSON.stringify(conf), 'cni');
    expect(lines.map((l) => l.split(' — ')[0])).toEqual([
      'input: dns.nameservers: "x" is not a list of strings',
      'input: mode: "brige" is not one of macvlan\'s modes',
      'input: master: 5 is not a string',
      'input: mtu: "1500" is not an integer',
      'input: bcqueuelen: -1 is not an integer from 0 to 4294967295',
    ]);
  });
});

describe('macvlan and ipvlan modes: the reference\'s set, from the kernel\'s list', () => {
  it.each([
    ['macvlan', ['bridge', 'private', 'vepa', 'passthru'], ['source', 'l2', 'Bridge']],
    ['ipvlan', ['l2', 'l3', 'l3s'], ['l4', 'bridge', 'L2']],
  ] as const)('%s accepts exactly its modes and lists them in the fix', async (type, good, bad) => {
    const conf = (mode: string) => JSON.stringify({ cniVersion: '1.0.0', name: 'm', type, master: 'eth0', mode });
    for (const mode of good) expect((await validated(conf(mode), 'cni')).lines).toEqual(['ok']);
    for (const mode of bad) {
      const { lines, errors } = await validated(conf(mode), 'cni');
      expect(lines).toEqual([`input: mode: "${mode}" is not one of ${type}'s modes — fix: use ${good.map((m) => `"${m}"`).join(', ')}`]);
      expect(errors[0]).toMatchObject({ code: 7, message: `unknown ${type} mode: "${mode}"`, details: `"mode" must be one of ${good.join(', ')}` });
    }
  });
});

describe('a CNI configuration file (--kind cni with its name): checked as libcni reads it by its extension', () => {
  const dir = mkdtempSync(join(tmpdir(), 'checkers-agree-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['10-a.conflist', { cniVersion: '1.0.0', name: 'a', type: 'bridge' }, 'input: plugins: is missing, and a .conflist file holds a list'],
    ['10-a.conf', { cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'bridge' }] }, 'input: has "plugins" but no "type"'],
  ])('%s: the runtime refuses it with validate\'s first problem', async (file, conf, line) => {
    const path = join(dir, file);
    writeFileSync(path, JSON.stringify(conf));
    const err = caught(() => loadNetworkFile(path, '1.0.0'));
    const findings = await validateText(JSON.stringify(conf), 'cni', path);
    const first = findings.items.find((i) => i.kind === 'problem' && i.error);
    expect(first?.kind === 'problem' && first.error?.message).toBe(err.message);
    expect(findings.lines()[0]!.replace(path, 'input')).toContain(line);
    // Without a file name there is no extension to go by.
    expect((await validated(JSON.stringify(conf), 'cni')).errors).toEqual([]);
  });
});

describe('validate reads every key as Go does, like the runtime', () => {
  it('a multus conflist, whereabouts and static IPAM with keys in other cases', async () => {
    const conflist = { CNIVersion: '1.0.0', Name: 'multus-cni-network', Plugins: [{ Type: 'multus', Kubeconfig: '/k', ClusterNetwork: 'kindnet' }] };
    expect((await validated(JSON.stringify(conflist), 'multus-conf')).lines).toEqual(['ok']);
    const whereabouts = { cniVersion: '1.0.0', name: 'w', type: 'bridge', ipam: { type: 'whereabouts', Range: '10.1.1.0/24', Range_End: '10.2.0.1' } };
    expect((await validated(JSON.stringify(whereabouts), 'cni')).lines.map((l) => l.split(' — ')[0]))
      .toEqual(['input: ipam.range_end: 10.2.0.1 is not in the range 10.1.1.0/24']);
    const staticIpam = { cniVersion: '1.0.0', name: 's', type: 'bridge', ipam: { type: 'static', Addresses: [{ Address: '10.1.1.5' }] } };
    expect((await validated(JSON.stringify(staticIpam), 'cni')).lines.map((l) => l.split(' — ')[0]))
      .toEqual(['input: ipam.addresses[0].address: "10.1.1.5" is not an address with a prefix length']);
  });
});

describe('host-local configuration: runtime and validate agree', () => {
  const net = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ cniVersion: '1.0.0', name: 'hl-agree', type: 'bridge', ipam: { type: 'host-local', ...ipam }, ...extra });

  /** What host-local, run by a container runtime (or a plugin as its IPAM), answers for this configuration. */
  async function hostLocalAnswer(conf: unknown): Promise<{ code: number; msg: string }> {
    const env = {
      CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'checkers-agree-hl', CNI_NETNS: '/var/run/netns/checkers-agree-none', CNI_IFNAME: 'eth0',
      CNI_PATH: '/nonexistent-checkers-agree', CNI_ARGS: '',
    };
    const out = await runPlugin(await loadBuiltinPlugin('host-local'), env, () => Buffer.from(JSON.stringify(conf)), { runner: spawnRunner });
    expect(out.exitCode).toBe(1);
    return JSON.parse(out.stdout) as { code: number; msg: string };
  }

  const BAD: Array<[string, Record<string, unknown>]> = [
    ['a subnet with host bits', net({ subnet: '10.1.0.1/24' })],
    ['a rangeStart outside the subnet', net({ ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.2.0.0/24', rangeStart: '10.3.0.1' }]] })],
    ['ranges without the inner brackets', net({ ranges: [{ subnet: '10.1.0.0/24' }] })],
    ['a gateway that is not an address', net({ subnet: '10.1.0.0/24', gateway: '10.1.0.1/24' })],
    ['a subnet that is not a string', net({ ranges: [[{ subnet: 24 }]] })],
    ['a dataDir that is not a string', net({ subnet: '10.1.0.0/24', dataDir: 5 })],
    ['a route without a network', net({ subnet: '10.1.0.0/24', routes: [{ dst: 'x' }] })],
    ['overlapping range sets', net({ subnet: '10.1.0.0/24', ranges: [[{ subnet: '10.1.0.0/25' }]] })],
    ['no range', net({ dataDir: '/tmp' })],
    ['an empty range set', net({ ranges: [null] })],
    ['two IPv4 sets before 0.3.0', net({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] }, { cniVersion: '0.2.0' })],
    ['a requested address that is not one', net({ subnet: '10.1.0.0/24' }, { args: { cni: { ips: ['10.1.0.300'] } } })],
    ['several problems at once', net({ subnet: '10.1.0.1/24', rangeEnd: 'x', ranges: [[{ subnet: 'fd00::/64' }, { subnet: '10.9.0.0/24' }]], dataDir: 5 })],
  ];

  it.each(BAD)('%s: host-local fails with the first problem validate prints', async (_name, conf) => {
    const answer = await hostLocalAnswer(conf);
    const { errors, first } = await validated(JSON.stringify(conf), 'cni');
    expect(errors.length).toBeGreaterThan(0);
    expect(first).toBe(errors[0]);
    expect({ code: answer.code, msg: answer.msg }).toEqual({ code: errors[0]!.code, msg: errors[0]!.message });
  });

  it('prints every problem of one IPAM block, each at its field', async () => {
    const conf = net({
      subnet: '10.1.0.1/24', gateway: 5, rangeEnd: '10.1.0.300', dataDir: 5, resolvConf: [], routes: [{ dst: '10.5.0.0/16', gw: 'x' }],
      ranges: [[{ subnet: 'fd00::/64' }, { subnet: '10.9.0.0/24' }], [{ subnet: '10.8.0.0/33' }], [{ subnet: '10.7.0.0/24', rangeStart: '10.6.0.1' }]],
    }, { runtimeConfig: { ips: ['bogus'] } });
    const { errors, lines } = await validated(JSON.stringify(conf), 'cni');
    expect(errors).toHaveLength(9);
    expect(lines.map((l) => l.split(' — ')[0])).toEqual([
      'input: ipam.rangeEnd: "10.1.0.300" is not an IP address',
      'input: ipam.gateway: 5 is not a string',
      'input: ipam.ranges[1][0].subnet: "10.8.0.0/33" is not a network',
      'input: ipam.ranges[0][1]: invalid range set 1: mixed address families',
      'input: ipam.ranges[2][0].rangeStart: invalid range set 3: RangeStart 10.6.0.1 not in network 10.7.0.0/24',
      'input: ipam.dataDir: 5 is not a string',
      'input: ipam.routes[0].gw: "x" is not an IP address',
      'input: ipam.resolvConf: [] is not a string',
      'input: runtimeConfig.ips[0]: "bogus" is not an IP address',
    ]);
  });
});
