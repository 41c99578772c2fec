import { afterAll, describe, it, expect, vi } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerValidateCommand } from '../../src/validate/command';
import type { ValidateKind } from '../../src/validate/validate';
import { validateText } from '../../src/validate/validate';

const dir = mkdtempSync(join(tmpdir(), 'validate-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lines(text: string, kind: ValidateKind = 'auto', source = 'input'): Promise<string[]> {
  return (await validateText(text, kind, source)).lines();
}

/** The problem lines only (notes left out), each of which must carry a fix. */
async function problems(text: string, kind: ValidateKind = 'auto'): Promise<string[]> {
  const out = (await lines(text, kind)).filter((l) => !l.includes(': note: ') && l !== 'ok');
  for (const l of out) expect(l).toMatch(/ — fix: .+/);
  return out;
}

function nadYaml(name: string, config: string, extra = ''): string {
  return `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: ${name}
${extra}spec:
  config: '${config}'
`;
}

// The user's three NetworkAttachmentDefinitions, as the Multus quick-start writes them.
const MACVLAN_BRIDGE = nadYaml('macvlan-conf', `{
      "cniVersion": "0.3.0",
      "type": "macvlan",
      "master": "eth0",
      "mode": "bridge",
      "ipam": {
        "type": "host-local",
        "subnet": "192.168.1.0/24",
        "rangeStart": "192.168.1.200",
        "rangeEnd": "192.168.1.216",
        "routes": [
          { "dst": "0.0.0.0/0" }
        ],
        "gateway": "192.168.1.1"
      }
    }`);

const IPVLAN_L3 = nadYaml('ipvlan-conf-1', `{
      "cniVersion": "0.3.1",
      "type": "ipvlan",
      "master": "eth1",
      "mode": "l3",
      "ipam": {
        "type": "host-local",
        "subnet": "192.168.1.0/24",
        "rangeStart": "192.168.1.13",
        "rangeEnd": "192.168.1.17"
      }
    }`);

const IPVLAN_L2_WHEREABOUTS = nadYaml('whereabouts-conf', `{
      "cniVersion": "0.3.1",
      "name": "whereaboutsexample",
      "type": "ipvlan",
      "master": "eth1",
      "mode": "l2",
      "ipam": {
        "type": "whereabouts",
        "range": "192.168.2.225/28"
      }
    }`);

function macvlanWith(edit: (conf: Record<string, unknown>) => void): string {
  const conf: Record<string, unknown> = {
    cniVersion: '0.3.1', type: 'macvlan', master: 'eth0', mode: 'bridge',
    ipam: { type: 'host-local', subnet: '192.168.1.0/24', rangeStart: '192.168.1.200', rangeEnd: '192.168.1.216' },
  };
  edit(conf);
  return nadYaml('macvlan-conf', JSON.stringify(conf));
}

describe('validate: NetworkAttachmentDefinitions', () => {
  it.each([
    ['macvlan bridge with host-local, routes and gateway', MACVLAN_BRIDGE],
    ['ipvlan l3 with host-local', IPVLAN_L3],
    ['ipvlan l2 with whereabouts (an IPAM we do not ship)', IPVLAN_L2_WHEREABOUTS],
  ])('accepts the %s example', async (_name, yaml) => {
    const out = await lines(yaml);
    expect(out[out.length - 1]).toBe('ok');
    expect(await problems(yaml)).toEqual([]);
  });

  it('notes the NAD name injection', async () => {
    expect(await lines(MACVLAN_BRIDGE, 'nad', 'macvlan.yaml')).toEqual([
      'NetworkAttachmentDefinition macvlan-conf: spec.config.name: note: missing: multus names the network after the NetworkAttachmentDefinition, "macvlan-conf"',
      'ok',
    ]);
  });

  it('checks several documents, and the items of a List', async () => {
    expect(await problems(`${MACVLAN_BRIDGE}---\n${IPVLAN_L3}---\n${IPVLAN_L2_WHEREABOUTS}`)).toEqual([]);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: 'a' }, spec: { config: '{"type":"nope/x"}' } }] });
    expect(await problems(list)).toEqual([
      'NetworkAttachmentDefinition a: spec.config.type: "type": "nope/x" is not a plain plugin name — fix: a plugin type is a file name found in binDir or CNI_PATH; paths, ".." and special characters are refused',
    ]);
  });

  it('reports every problem of the object, each with its place', async () => {
    const yaml = `apiVersion: k8s.cni.cncf.io/v1beta1
kind: NetworkAttachmentDef
metadata:
  name: Macvlan_Conf
  namespace: Default
  annotations:
    k8s.v1.cni.cncf.io/resourceName: ""
spec:
  config: '{"cniVersion": "0.3.2", "type": "macvlan", "mode": "brige", "capabilities": {"ips": "yes"}}'
`;
    const out = await problems(yaml);
    const label = 'NetworkAttachmentDefinition Default/Macvlan_Conf';
    expect(out.map((l) => l.split(' — ')[0])).toEqual([
      `${label}: apiVersion: "k8s.cni.cncf.io/v1beta1" is not k8s.cni.cncf.io/v1`,
      `${label}: kind: "NetworkAttachmentDef" is not NetworkAttachmentDefinition`,
      `${label}: metadata.name: "Macvlan_Conf" is not a valid object name`,
      `${label}: metadata.namespace: "Default" is not a valid namespace name`,
      `${label}: metadata.annotations.k8s.v1.cni.cncf.io/resourceName: is empty`,
      `${label}: spec.config.cniVersion: "0.3.2" is not a CNI version multus supports`,
      `${label}: spec.config.capabilities.ips: "yes" is not true or false`,
      `${label}: spec.config.mode: "brige" is not one of macvlan's modes`,
    ]);
    expect(out[7]).toContain('fix: use "bridge", "private", "vepa", "passthru"');
  });

  it('points at the line and column of broken JSON in spec.config', async () => {
    const yaml = 'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: x\nspec:\n  config: |\n'
      + '    {\n      "type": "macvlan",\n      "master": "eth0",\n    }\n';
    expect(await problems(yaml)).toEqual([
      expect.stringMatching(/^NetworkAttachmentDefinition x: spec\.config: is not valid JSON: .*\(line 4, column 1\) — fix: /),
    ]);
  });

  it('says when spec.config was written as a YAML object, and still checks what it holds', async () => {
    const yaml = `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: hl}
spec:
  config:
    cniVersion: 1.0.0
    plugins:
      - type: bridge
        ipam: {type: host-local, ranges: [{subnet: 10.1.1.0/24}]}
`;
    const out = await problems(yaml);
    expect(out[0]).toContain('hl: spec.config: is a YAML/JSON object, but it must be a string holding the JSON configuration');
    expect(out[1]).toBe('NetworkAttachmentDefinition hl: spec.config.plugins[0].ipam.ranges: is a list of ranges, but host-local wants a list of range sets '
      + '(one per address family) — fix: add the inner brackets: "ranges": [[{"subnet":"10.1.1.0/24"}]]');
  });

  it.each([
    ['a missing type', (c: Record<string, unknown>) => { delete c.type; }, 'spec.config: has neither "type" nor "plugins"'],
    ['both type and plugins', (c: Record<string, unknown>) => { c.plugins = [{ type: 'tuning' }]; }, 'spec.config: has both "type" and "plugins"'],
    ['an empty plugins list', (c: Record<string, unknown>) => { delete c.type; c.plugins = []; }, 'spec.config.plugins: [] is not a non-empty list'],
    ['a bad network name', (c: Record<string, unknown>) => { c.name = 'my net'; }, 'spec.config.name: "my net" has characters a network name cannot have'],
    ['ipam settings without a type', (c: Record<string, unknown>) => { c.ipam = { subnet: '10.1.1.0/24' }; }, 'spec.config.ipam.type: is missing although "ipam" has settings'],
    ['a rangeStart outside the subnet', (c: Record<string, unknown>) => { (c.ipam as Record<string, unknown>).rangeStart = '192.168.2.200'; },
      'spec.config.ipam.rangeStart: invalid range set 0: RangeStart 192.168.2.200 not in network 192.168.1.0/24'],
    ['a subnet with host bits', (c: Record<string, unknown>) => { (c.ipam as Record<string, unknown>).subnet = '192.168.1.1/24'; }, 'fix: write the subnet with its network address: 192.168.1.0/24'],
    ['an address with a prefix as rangeEnd', (c: Record<string, unknown>) => { (c.ipam as Record<string, unknown>).rangeEnd = '192.168.1.216/24'; }, 'spec.config.ipam.rangeEnd: "192.168.1.216/24" is not an IP address'],
    ['a static address without prefix', (c: Record<string, unknown>) => { c.ipam = { type: 'static', addresses: [{ address: '10.1.1.5' }] }; },
      'spec.config.ipam.addresses[0].address: "10.1.1.5" is not an address with a prefix length'],
    ['an ipvlan mode typo', (c: Record<string, unknown>) => { c.type = 'ipvlan'; c.mode = 'l4'; }, 'spec.config.mode: "l4" is not one of ipvlan\'s modes'],
    ['an ipam that is not an object', (c: Record<string, unknown>) => { c.ipam = 'host-local'; }, 'spec.config.ipam: "host-local" is not an object'],
  ])('reports %s', async (_name, edit, expected) => {
    const out = await problems(macvlanWith(edit));
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(expected);
  });

  it('accepts plugin types and IPAMs it has no checks for', async () => {
    expect(await problems(macvlanWith((c) => { c.type = 'sriov'; c.ipam = { type: 'dhcp' }; }))).toEqual([]);
  });

  it('notes an empty spec.config (the file in confDir is used) and a missing cniVersion', async () => {
    const out = await lines('apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: net1\n');
    expect(out).toEqual([expect.stringContaining('NetworkAttachmentDefinition net1: spec.config: note: is empty: multus uses the CNI configuration named "net1" from confDir'), 'ok']);
    const noVersion = await lines(nadYaml('net-n', '{"name": "net-n", "type": "bridge"}'));
    expect(noVersion).toEqual([expect.stringContaining('spec.config.cniVersion: note: missing: Go Multus then runs the plugin as CNI 0.1.0'), 'ok']);
  });

  it('reports broken YAML', async () => {
    const out = await problems('apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: [x\n', 'nad');
    expect(out[0]).toMatch(/^input: is not valid YAML: /);
  });
});

describe('validate: annotations', () => {
  it('accepts good values of both forms', async () => {
    expect(await lines('net1, default/net2@eth1', 'annotation')).toEqual(['ok']);
    expect(await lines('[{"name": "net1", "interface": "data0", "ips": ["10.1.1.5/24"]}]')).toEqual(['ok']);
  });

  it('reports every problem, not just the first', async () => {
    const out = await problems('default/net1@myIfc Name,root@someIP/root@someOtherIP,,ok,x@', 'annotation');
    expect(out.map((l) => l.split(':')[0])).toEqual([
      'k8s.v1.cni.cncf.io/networks item 1', 'k8s.v1.cni.cncf.io/networks item 2', 'k8s.v1.cni.cncf.io/networks item 3',
      'k8s.v1.cni.cncf.io/networks item 5',
    ]);
  });

  it('flags a key that looks like a typo and notes other ignored keys', async () => {
    const out = await lines('[{"name": "a", "interfce": "x", "ipam-claim-reference": "c", "foo": 1}]');
    expect(out).toEqual([
      'k8s.v1.cni.cncf.io/networks[0] ("a"): unknown key "interfce" is ignored — fix: did you mean "interface"?',
      'k8s.v1.cni.cncf.io/networks[0] ("a"): note: "ipam-claim-reference" is not supported by Multus or multus-ts and is ignored',
      'k8s.v1.cni.cncf.io/networks[0] ("a"): note: unknown key "foo" is ignored',
    ]);
  });

  it('recognises a lone selection object and says to add the brackets', async () => {
    expect(await problems('{"name": "net1", "interface": "data0"}')).toEqual([
      'k8s.v1.cni.cncf.io/networks: is a single JSON object, not a list — fix: put it in square brackets: [{"name": "net1", "interface": "data0"}]',
    ]);
  });

  it('reads the annotations of a Pod or a workload\'s pod template', async () => {
    const pod = `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf@net1,ipvlan-conf@net1
    v1.multus-cni.io/default-network: a,b
spec:
  containers: []
`;
    expect(await problems(pod)).toEqual([
      'input: k8s.v1.cni.cncf.io/networks: interface "net1" is requested twice, by "default/macvlan-conf@net1" and "default/ipvlan-conf@net1" — fix: give each attachment its own interface name',
      'input: v1.multus-cni.io/default-network: more than one default network is specified: "a,b" — fix: name exactly one NetworkAttachmentDefinition; add the others to k8s.v1.cni.cncf.io/networks',
    ]);
    const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    metadata:
      annotations:
        k8s.v1.cni.cncf.io/networks: '[{"name": "n", "mac": "zz"}]'
    spec: {containers: []}
`;
    expect(await problems(deployment, 'annotation')).toEqual([expect.stringContaining('input: k8s.v1.cni.cncf.io/networks[0] ("n"): "mac": "zz" is not a MAC address')]);
    expect(await lines('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n')).toEqual([
      'input: note: has neither k8s.v1.cni.cncf.io/networks nor v1.multus-cni.io/default-network in its pod annotations', 'ok',
    ]);
  });
});

describe('validate: multus configuration', () => {
  const INSTALLED = JSON.stringify({
    cniVersion: '0.3.1',
    name: 'multus-cni-network',
    type: 'multus',
    cniConf: '/host/etc/cni/multus/net.d',
    kubeconfig: '/etc/cni/net.d/multus.d/multus.kubeconfig',
    delegates: [{ cniVersion: '0.3.1', name: 'kindnet', plugins: [
      { type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/24' }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ] }],
  }, null, 2);

  it('accepts what the installer writes, noting the key nobody reads', async () => {
    expect(await lines(INSTALLED, 'auto', '00-multus.conf')).toEqual([
      '00-multus.conf: cniConf: note: is written by the Multus installer but read by nobody; the directory multus searches is "confDir"',
      'ok',
    ]);
  });

  it('accepts the conflist form', async () => {
    expect(await lines('{"cniVersion":"1.0.0","name":"multus-cni-network","plugins":[{"type":"multus","kubeconfig":"/k","clusterNetwork":"kindnet"}]}')).toEqual(['ok']);
    expect(await problems('{"cniVersion":"1.0.0","name":"m","plugins":[{"type":"bridge"}]}', 'multus-conf')).toEqual([
      expect.stringContaining('input: plugins: has no plugin of type "multus"'),
    ]);
  });

  it('reports typos, bad values, delegate problems and parser refusals together', async () => {
    const conf = JSON.stringify({
      cniVersion: '0.3.1', name: 'multus-cni-network', type: 'multus',
      clusterNetworks: 'kindnet', allowTryDeleteOnErr: true, logLevel: 'trace', confDir: 5, globalNamespaces: 'default, Kube_System',
      delegates: [{ name: 'kindnet', cniVersion: '0.3.1', type: 'ptp', ipam: { type: 'host-local', subnet: '10.244.0.1/24' } }],
    });
    // What multus would fail with comes first.
    expect((await problems(conf)).map((l) => l.split(' — ')[0])).toEqual([
      'input: confDir: 5 is not a string',
      'input: clusterNetworks: is not a multus configuration key and is ignored',
      'input: allowTryDeleteOnErr: is not a multus configuration key and is ignored',
      'input: logLevel: "trace" is not a log level (multus would keep logging at "panic")',
      'input: globalNamespaces: "Kube_System" is not a valid namespace name',
      'input: delegates[0].ipam.subnet: invalid range set 0: Network has host bits set. For a subnet mask of length 24 the network address is 10.244.0.0',
    ]);
    const out = await problems(conf);
    expect(out[1]).toContain('fix: did you mean "clusterNetwork"?');
    expect(out[2]).toContain('fix: did you mean "retryDeleteOnError"?');
  });

  it('reports what parseMultusConfig refuses', async () => {
    expect(await problems('{"cniVersion":"0.3.1","name":"m","type":"multus"}')).toEqual([
      expect.stringContaining('input: at least one delegate/clusterNetwork must be specified — fix: add a "delegates" list'),
    ]);
    expect(await problems('{"cniVersion":"0.3.1","name":"m","type":"multus","delegates":[{"name":"a","type":"x"}],"readinessTimeoutSeconds":-1}')).toEqual([
      'input: readinessTimeoutSeconds: -1 is not a positive number — fix: make "readinessTimeoutSeconds" a positive number',
    ]);
  });

  it('reports a wrong type and an unsupported cniVersion', async () => {
    const out = await problems('{"cniVersion":"0.5.0","name":"m","type":"multis","delegates":[{"name":"a","type":"x"}]}');
    expect(out.map((l) => l.split(':').slice(0, 2).join(':'))).toEqual(['input: cniVersion', 'input: type']);
  });

  it('points at broken JSON', async () => {
    expect(await problems('{\n  "type": "multus",\n  "delegates": [],\n}')).toEqual([
      expect.stringMatching(/^input: is not valid JSON: .*\(line 4, column 1\) — fix: /),
    ]);
    // V8 quotes the spot instead of giving a position for some errors; that is shown as it is.
    expect(await problems('{\n  "type": "multus",\n  "delegates": [,]\n}')).toEqual([expect.stringContaining('[,]\\n}')]);
  });
});

describe('validate: detection', () => {
  it('refuses to guess at something it does not know', async () => {
    expect(await problems('foo: bar\n')).toEqual([expect.stringContaining('cannot tell whether this is a NetworkAttachmentDefinition')]);
    expect(await problems('{"a": 1,}')).toEqual([expect.stringContaining('is not valid JSON')]);
  });
});

describe('registerValidateCommand', () => {
  async function run(...args: string[]): Promise<{ out: string; exitCode: number | undefined }> {
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      out += String(s);
      return true;
    });
    const saved = process.exitCode;
    process.exitCode = undefined;
    try {
      const program = new Command('multus').exitOverride();
      registerValidateCommand(program);
      await program.parseAsync(['node', 'multus', 'validate', ...args]);
      return { out, exitCode: process.exitCode };
    } finally {
      process.exitCode = saved;
      write.mockRestore();
    }
  }

  it('prints ok and succeeds for a good file', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, IPVLAN_L2_WHEREABOUTS);
    expect(await run(file)).toEqual({ out: 'ok\n', exitCode: undefined });
  });

  it('prints one line per problem and fails for a bad one', async () => {
    const file = join(dir, 'bad.txt');
    writeFileSync(file, 'Net1,net2@a b\n');
    const { out, exitCode } = await run('--kind', 'annotation', file);
    expect(exitCode).toBe(1);
    expect(out.trimEnd().split('\n')).toHaveLength(2);
  });

  it('fails on a file it cannot read', async () => {
    const { out, exitCode } = await run(join(dir, 'missing.yaml'));
    expect(exitCode).toBe(1);
    expect(out).toContain('missing.yaml: cannot be read: ');
  });
});

describe('validate: what kubectl accepts (issue 8 item 13)', () => {
  // Laid out as Multus's SR-IOV example (examples/sriov-pod.yml): the config's continuation lines at the key's
  // column, which Go's YAML accepts, and the Pod using it in the same file.
  const NAD_AND_POD = `# a network and the pod that uses it
---
apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: vf-net
  annotations:
    k8s.v1.cni.cncf.io/resourceName: example.com/vf
spec:
  config: '{
  "cniVersion": "0.3.1",
  "type": "macvlan",
  "mode": "%MODE%",
  "ipam": {
    "type": "host-local",
    "subnet": "10.56.217.0/24",
    "routes": [{
      "dst": "0.0.0.0/0"
    }],
    "gateway": "10.56.217.1"
  }
}'
---
apiVersion: v1
kind: Pod
metadata:
  name: app
  annotations:
    k8s.v1.cni.cncf.io/networks: %NETWORKS%
spec:
  containers:
  - name: app
    image: busybox
`;

  it('a NAD with unindented config lines and the Pod using it: both valid', async () => {
    expect(await problems(NAD_AND_POD.replace('%MODE%', 'bridge').replace('%NETWORKS%', 'vf-net'))).toEqual([]);
  });

  it('checks each document by its kind: the NAD\'s problem and the Pod\'s, together', async () => {
    const out = await problems(NAD_AND_POD.replace('%MODE%', 'bridged').replace('%NETWORKS%', 'vf-net@an-interface-name-too-long'));
    expect(out).toEqual([
      expect.stringMatching(/^NetworkAttachmentDefinition vf-net: spec\.config\.mode: "bridged" is not one of macvlan's modes/),
      expect.stringMatching(/^input document 2: k8s\.v1\.cni\.cncf\.io\/networks.*an-interface-name-too-long/),
    ]);
  });

  it('notes a document it has no checks for', async () => {
    const out = await lines(`${NAD_AND_POD.replace('%MODE%', 'bridge').replace('%NETWORKS%', 'vf-net')}---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n`);
    expect(out.slice(1)).toEqual(['input document 3: note: not checked: a Service is none of the things multus validate knows', 'ok']);
  });

  it('--kind cni (and auto): a plain configuration or conflist', async () => {
    const conf = '{"cniVersion": "1.0.0", "name": "n", "type": "ipvlan", "mode": "l4", "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"}}';
    for (const kind of ['cni', 'auto'] as const) {
      expect(await problems(conf, kind)).toEqual([expect.stringMatching(/^input: mode: "l4" is not one of ipvlan's modes/)]);
    }
    const list = '{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}, {"type": "../evil"}]}';
    expect(await problems(list, 'cni')).toEqual([expect.stringMatching(/^input: plugins\[1\]\.type: /)]);
    expect(await lines('{"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}]}', 'cni')).toEqual(['ok']);
  });

  it('whereabouts: range, range_start, range_end, exclude and ipRanges', async () => {
    const wb = (ipam: object) => JSON.stringify({ cniVersion: '0.3.1', name: 'w', type: 'macvlan', ipam: { type: 'whereabouts', ...ipam } });
    expect(await lines(wb({ range: '192.168.2.0/24', range_start: '192.168.2.10', range_end: '192.168.2.20', exclude: ['192.168.2.0/28'] }), 'cni')).toEqual(['ok']);
    expect(await lines(wb({ range: '192.168.2.225-192.168.2.230/28' }), 'cni')).toEqual(['ok']);
    expect(await lines(wb({ ipRanges: [{ range: '10.1.0.0/16' }, { range: 'fd00::/64', exclude: ['fd00::/120'] }] }), 'cni')).toEqual(['ok']);
    const out = await problems(wb({
      range: '192.168.2.0/33', range_start: 'ten', exclude: ['192.168.2.0'],
      ipRanges: [{ range: '10.1.0.0/16', range_start: '10.2.0.1' }, { range: '10.1.0.0/16', range_start: '10.1.0.20', range_end: '10.1.0.10' }, {}, { range: '10.9.9.9-10.1.0.0/16' }],
    }));
    expect(out).toEqual([
      expect.stringMatching(/^input: ipam\.range: "192\.168\.2\.0\/33" is not a CIDR/),
      expect.stringMatching(/^input: ipam\.range_start: "ten" is not an IP address/),
      expect.stringMatching(/^input: ipam\.exclude\[0\]: "192\.168\.2\.0" is not a CIDR/),
      expect.stringMatching(/^input: ipam\.ipRanges\[0\]\.range_start: 10\.2\.0\.1 is not in the range 10\.1\.0\.0\/16/),
      expect.stringMatching(/^input: ipam\.ipRanges\[1\]\.range_end: 10\.1\.0\.10 comes before range_start 10\.1\.0\.20/),
      expect.stringMatching(/^input: ipam\.ipRanges\[2\]\.range: is missing/),
      expect.stringMatching(/^input: ipam\.ipRanges\[3\]\.range: the first address 10\.9\.9\.9 is not in 10\.1\.0\.0\/16/),
    ]);
    expect(await lines(wb({}), 'cni')).toEqual([expect.stringContaining('ipam: note: has neither "range" nor "ipRanges"'), 'ok']);
  });

  it('the obsolete "gateway" in an annotation points to default-route', async () => {
    expect(await problems('[{"name": "macvlan-conf", "gateway": ["192.168.1.1"]}]')).toEqual([
      expect.stringContaining('"gateway" is not a network-selection key (it is obsolete) and is ignored: the default route stays where it was — fix: to route the pod\'s default route through this network, write "default-route": ["<gateway IP>"]'),
    ]);
  });
});
