import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadBuiltinPlugin, runPlugin } from '../../src/builtins';
import type { ExecOutcome, ExecRequest, PendingAdd, PendingDel, PluginRunner, ReleasePrepared } from '../../src/cni/runner';
import { planDefaultRoutes, rewriteRoutes } from '../../src/multus/default-route';
import { delegateFrom, type Delegate } from '../../src/multus/delegate';
import type { NetworkConfig } from '../../src/delegation/network-config';
import type { Result } from '../../src/cni/result';

// The meta-plugin's ADD/DEL/CHECK/GC through a fake runner (Go Multus tests CmdAdd with a fake exec the same way):
// no process, no namespace; the order, interface names and error handling are what is tested here. The real
// namespaces and plugins are in test/integration/.

interface Call { command: string; type: string; ifName: string; containerId: string; stdin: Record<string, unknown> }

/** A runner that records every call and answers as told; `fail` is e.g. {'b ADD': 7}. */
class FakeRunner implements PluginRunner {
  readonly calls: Call[] = [];
  readonly announced: PendingDel[][] = [];
  constructor(private readonly fail: Record<string, number> = {}) {}

  readonly requests: ExecRequest[] = [];

  async run(req: ExecRequest): Promise<ExecOutcome> {
    this.requests.push(req);
    const call: Call = {
      command: req.env.CNI_COMMAND!, type: basename(req.pluginPath), ifName: req.env.CNI_IFNAME!,
      containerId: req.env.CNI_CONTAINERID!, stdin: JSON.parse(req.stdin.toString('utf8')) as Record<string, unknown>,
    };
    this.calls.push(call);
    const code = this.fail[`${call.type} ${call.command}`];
    if (code !== undefined) return { code: 1, stdout: JSON.stringify({ code, msg: `${call.type} refused ${call.command}` }), stderr: '', timedOut: false };
    if (call.command !== 'ADD') return { code: 0, stdout: '', stderr: '', timedOut: false };
    const n = this.calls.filter((c) => c.command === 'ADD').length;
    const result = { cniVersion: '1.0.0', interfaces: [{ name: call.ifName, sandbox: 'ns' }], ips: [{ address: `10.0.${n}.2/24`, interface: 0 }] };
    return { code: 0, stdout: JSON.stringify(result), stderr: '', timedOut: false };
  }

  async beforeDels(dels: PendingDel[]): Promise<void> {
    this.announced.push(dels);
  }

  /** What was prepared, with the calls made by then, and the calls made by its release. */
  readonly prepared: Array<{ adds: string[]; at: string[]; releasedAt?: string[] }> = [];
  readonly preparedRequests: PendingAdd[] = [];

  prepareAdds(adds: PendingAdd[]): ReleasePrepared {
    this.preparedRequests.push(...adds);
    const p: (typeof this.prepared)[number] = { adds: adds.map((a) => `${basename(a.pluginPath)} ${a.env.CNI_IFNAME} ${JSON.parse(a.stdin.toString('utf8')).name}`), at: this.seen() };
    this.prepared.push(p);
    return () => {
      expect(p.releasedAt, 'released twice').toBeUndefined();
      p.releasedAt = this.seen();
    };
  }

  seen(command?: string): string[] {
    return this.calls.filter((c) => !command || c.command === command).map((c) => `${c.command} ${c.type} ${c.ifName}`);
  }
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A node: plugin binaries a, b, c (empty files: the fake runner never starts them), a cniDir and a netns path. */
function node(delegates: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'multus-orchestrator-'));
  dirs.push(dir);
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  for (const t of ['a', 'b', 'c']) writeFileSync(join(binDir, t), '');
  const netns = join(dir, 'netns');
  writeFileSync(netns, '');
  const cniDir = join(dir, 'cni');
  const conf = { cniVersion: '1.0.0', name: 'multus-net', type: 'multus', binDir, cniDir, logToStderr: false, delegates, ...extra };
  async function run(runner: FakeRunner, command: string, containerId = 'ctr-1', config: Record<string, unknown> = conf) {
    const env = { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: binDir,
      CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-1' };
    const out = await runPlugin(await loadBuiltinPlugin('multus'), env, () => Buffer.from(JSON.stringify(config)), { runner });
    return { exitCode: out.exitCode, json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined };
  }
  return { run, conf, cniDir, netns };
}

const net = (name: string, type: string, extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name, type, ...extra });
const THREE = [net('net-a', 'a'), net('net-b', 'b'), net('net-c', 'c')];

describe('multus ADD through a fake runner', () => {
  it('adds the delegates in order, eth0 then net1, net2, and prints the primary\'s result', async () => {
    const n = node(THREE);
    const runner = new FakeRunner();
    const add = await n.run(runner, 'ADD');
    expect(add.exitCode).toBe(0);
    expect(runner.seen()).toEqual(['ADD a eth0', 'ADD b net1', 'ADD c net2']);
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.0.1.2/24' }] });
    // Each delegate gets its own network's name and version on stdin, and the pod's CNI_ARGS.
    expect(runner.calls.map((c) => c.stdin.name)).toEqual(['net-a', 'net-b', 'net-c']);
    expect(existsSync(join(n.cniDir, 'ctr-1'))).toBe(true);
  });

  it('rolls back a failed ADD last first, the failing delegate included, and keeps its error code', async () => {
    const n = node(THREE);
    const runner = new FakeRunner({ 'c ADD': 7 });
    const add = await n.run(runner, 'ADD');
    expect(add.exitCode).toBe(1);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringContaining('error adding container to network "net-c" on interface net2') });
    expect(runner.seen()).toEqual(['ADD a eth0', 'ADD b net1', 'ADD c net2', 'DEL c net2', 'DEL b net1', 'DEL a eth0']);
    // A clean rollback leaves nothing, not even the delegate cache.
    expect(existsSync(join(n.cniDir, 'ctr-1'))).toBe(false);
  });

  it('writes the delegate cache while the primary runs, and when it cannot, fails and undoes the primary', async () => {
    const n = node(THREE);
    // A directory where the cache goes: the lock's file in cniDir is made, the cache's rename fails.
    mkdirSync(join(n.cniDir, 'ctr-1', 'in-the-way'), { recursive: true });
    const runner = new FakeRunner();
    const add = await n.run(runner, 'ADD');
    expect(add.exitCode).toBe(1);
    expect(add.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^multus configuration: "cniDir" .*: cannot write the delegate cache: /) });
    expect(runner.seen()).toEqual(['ADD a eth0', 'DEL a eth0']);
    expect(runner.prepared).toEqual([]);
    // Written on success, the same list as before.
    const ok = new FakeRunner();
    expect((await n.run(ok, 'ADD', 'ctr-2')).exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(n.cniDir, 'ctr-2'), 'utf8')).map((d: { Name: string }) => d.Name)).toHaveLength(3);
  });

  it('prepares the later ADDs while the primary\'s runs, and lets go of that once they are done or rolled back', async () => {
    const n = node(THREE);
    const runner = new FakeRunner();
    expect((await n.run(runner, 'ADD')).exitCode).toBe(0);
    expect(runner.prepared).toEqual([{ adds: ['b net1 net-b', 'c net2 net-c'], at: ['ADD a eth0'], releasedAt: ['ADD a eth0', 'ADD b net1', 'ADD c net2'] }]);
    // Prepared as they come: the same environment and stdin (so that what was read for them can be taken).
    expect(runner.preparedRequests.map((r) => [r.env, r.stdin.toString('utf8')])).toEqual(runner.requests.slice(1).map((r) => [r.env, r.stdin.toString('utf8')]));
    const failing = new FakeRunner({ 'b ADD': 7 });
    expect((await n.run(failing, 'ADD', 'ctr-2')).exitCode).toBe(1);
    expect(failing.prepared).toHaveLength(1);
    expect(failing.prepared[0]!.releasedAt).toBeDefined();
    // A pod with one network has nothing to prepare.
    const one = new FakeRunner();
    expect((await n.run(one, 'ADD', 'ctr-3', { ...n.conf, delegates: [net('net-a', 'a')] })).exitCode).toBe(0);
    expect(one.prepared).toEqual([]);
  });

  it('refuses a delegate whose plugin is not installed, and two that want one interface, before running anything', async () => {
    const n = node([net('net-a', 'a'), net('net-x', 'x')]);
    const runner = new FakeRunner();
    const missing = await n.run(runner, 'ADD');
    expect(missing.json?.msg).toContain('failed to find plugin "x"');
    const clash = await n.run(runner, 'ADD', 'ctr-2', { ...n.conf, delegates: [net('net-a', 'a'), net('net-b', 'b', { cniVersion: '1.0.0' })],
      clusterNetwork: undefined });
    expect(clash.exitCode).toBe(0);
    expect(runner.seen()).toEqual(['ADD a eth0', 'ADD b net1']);
  });
});

describe('multus DEL, CHECK and GC through a fake runner', () => {
  it('DELs every delegate last first, each tried though one fails, and reports the failure', async () => {
    const n = node(THREE);
    await n.run(new FakeRunner(), 'ADD');
    const runner = new FakeRunner({ 'b DEL': 11 });
    const del = await n.run(runner, 'DEL');
    expect(del.exitCode).toBe(1);
    expect(del.json?.msg).toContain('error deleting network "net-b" on interface net1');
    expect(runner.seen()).toEqual(['DEL c net2', 'DEL b net1', 'DEL a eth0']);
    // The runner heard of the DELs first (the built-ins' batch hook), without multus knowing any plugin's name.
    expect(runner.announced.map((d) => d.map((p) => `${basename(p.pluginPath)} ${p.ifName}`))).toEqual([['a eth0', 'b net1', 'c net2']]);
    // Without retryDeleteOnError the cache goes with the failure.
    expect(existsSync(join(n.cniDir, 'ctr-1'))).toBe(false);
  });

  it('keeps the delegate cache for the runtime\'s retry with retryDeleteOnError', async () => {
    const n = node(THREE, { retryDeleteOnError: true });
    await n.run(new FakeRunner(), 'ADD');
    expect((await n.run(new FakeRunner({ 'a DEL': 11 }), 'DEL')).exitCode).toBe(1);
    const retry = new FakeRunner();
    expect((await n.run(retry, 'DEL')).exitCode).toBe(0);
    expect(retry.seen()).toEqual(['DEL c net2', 'DEL b net1', 'DEL a eth0']);
  });

  it('CHECKs every attached delegate with its cached result, skipping a network with disableCheck', async () => {
    const n = node([net('net-a', 'a'), net('net-b', 'b', { disableCheck: true }), net('net-c', 'c')]);
    await n.run(new FakeRunner(), 'ADD');
    const runner = new FakeRunner();
    expect((await n.run(runner, 'CHECK')).exitCode).toBe(0);
    expect(runner.seen()).toEqual(['CHECK a eth0', 'CHECK c net2']);
    expect(runner.calls[1]!.stdin.prevResult).toMatchObject({ ips: [{ address: '10.0.3.2/24' }] });
  });

  it('GC DELs the attachments the runtime no longer lists and forwards GC to the primary with those it keeps', async () => {
    const n = node(THREE, { cniVersion: '1.1.0' });
    const conf = { ...n.conf, cniVersion: '1.1.0', delegates: THREE.map((d) => ({ ...d, cniVersion: '1.1.0' })) };
    await n.run(new FakeRunner(), 'ADD', 'ctr-keep', conf);
    await n.run(new FakeRunner(), 'ADD', 'ctr-gone', conf);
    const runner = new FakeRunner();
    const valid = [{ containerID: 'ctr-keep', ifname: 'eth0' }];
    expect((await n.run(runner, 'GC', '', { ...conf, 'cni.dev/valid-attachments': valid })).exitCode).toBe(0);
    expect(runner.calls.filter((c) => c.command === 'DEL').map((c) => `${c.containerId} ${c.type} ${c.ifName}`))
      .toEqual(['ctr-gone c net2', 'ctr-gone b net1', 'ctr-gone a eth0']);
    const gc = runner.calls.filter((c) => c.command === 'GC');
    expect(gc.map((c) => c.type)).toEqual(['a']);
    expect(gc[0]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: 'ctr-keep', ifname: 'eth0' }]);
    expect(existsSync(join(n.cniDir, 'ctr-gone'))).toBe(false);
    expect(existsSync(join(n.cniDir, 'ctr-keep'))).toBe(true);
  });
});

describe('default-route planning', () => {
  const netConf = (name: string): NetworkConfig => ({ name, cniVersion: '1.0.0', isList: false, disableCheck: false, plugins: [{ type: 'a' }], bytes: Buffer.from('{}') });
  const delegates = (): Delegate[] => [delegateFrom(netConf('cluster')), delegateFrom(netConf('a')), delegateFrom(netConf('b'))];

  it('plans nothing when no element asks for a default route', () => {
    const ds = delegates();
    planDefaultRoutes(ds);
    expect(ds.map((d) => [d.isFilterV4Gateway, d.isFilterV6Gateway])).toEqual([[false, false], [false, false], [false, false]]);
  });

  it('moves the IPv4 default route to the element naming a gateway; the others lose theirs of that family', () => {
    const ds = delegates();
    ds[2]!.gatewayRequest = ['10.2.0.1'];
    planDefaultRoutes(ds);
    expect(ds.map((d) => [d.isFilterV4Gateway, d.isFilterV6Gateway])).toEqual([[true, false], [true, false], [true, false]]);
    const result: Result = { cniVersion: '1.0.0', interfaces: [], ips: [], dns: {}, routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }, { dst: '::/0' }, { dst: '10.9.0.0/16' }] };
    expect(rewriteRoutes(result, ds[0]!)).toEqual([{ dst: '::/0' }, { dst: '10.9.0.0/16' }]);
    expect(rewriteRoutes(result, ds[2]!)).toEqual([{ dst: '::/0' }, { dst: '10.9.0.0/16' }, { dst: '0.0.0.0/0', gw: '10.2.0.1' }]);
  });

  it('removes every default route when an element asks for none', () => {
    const ds = delegates();
    ds[1]!.gatewayRequest = [];
    planDefaultRoutes(ds);
    expect(ds.every((d) => d.isFilterV4Gateway && d.isFilterV6Gateway)).toBe(true);
  });
});
