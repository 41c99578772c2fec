import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMultus, Workdir } from '../helpers/multus';

// Delegation seen from the delegates' side: a spy plugin records its environment and stdin for every call.
describe('delegation to spy plugins', () => {
  let work: Workdir;
  beforeEach(() => {
    work = new Workdir();
  });
  afterEach(() => work.remove());

  const spyConf = (name: string, extra: Record<string, unknown> = {}, spy: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0', name, type: 'spy', spy: { log: work.spyLog, ...spy }, ...extra,
  });

  const multusConf = (delegates: unknown[], extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, delegates, ...extra,
  });

  const call = (command: string, conf: unknown, more: Partial<Parameters<typeof runMultus>[0]> = {}) =>
    runMultus({ command, conf, containerId: 'ctr1', netns: work.fakeNetns, path: '/nonexistent', ...more });

  const sequence = () => work.spyCalls().map((c) => `${c.command} ${c.stdin.name as string} ${c.env.CNI_IFNAME}`);
  const leftovers = () => work.delegateCaches();

  it('gives each delegate the libcni environment and configuration, primary on eth0, then net1..netN', () => {
    const conf = multusConf(
      [
        spyConf('prim', { capabilities: { portMappings: true, mac: false } }),
        { cniVersion: '1.0.0', name: 'chain', plugins: [spyConf('ignored', { z: 1, a: { y: 2, b: 3 } }), spyConf('ignored')] },
      ],
      { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], mac: '02:11:22:33:44:55' } },
    );
    const add = call('ADD', conf, { args: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_UID=uid1;EXTRA=x' });
    expect(add.status).toBe(0);
    expect(sequence()).toEqual(['ADD prim eth0', 'ADD chain net1', 'ADD chain net1']);

    const [prim, first, second] = work.spyCalls();
    expect(prim!.env).toEqual({
      CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr1', CNI_NETNS: work.fakeNetns, CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=uid1;EXTRA=x',
      CNI_PATH: `${work.binDir}:/nonexistent`,
    });
    // Only the capabilities the plugin declares as true reach it, and only if the runtime provided them.
    expect(prim!.stdin.runtimeConfig).toEqual({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
    expect(first!.stdin.runtimeConfig).toBeUndefined();
    // The list's name and version overwrite the plugin's; the first plugin has no prevResult, the second has the first's.
    expect(first!.stdin.name).toBe('chain');
    expect(first!.stdin.prevResult).toBeUndefined();
    expect(second!.stdin.prevResult).toMatchObject({ interfaces: [{ name: 'net1' }] });
    // libcni re-marshals through a map: keys arrive sorted at every level.
    const raw = readFileSync(work.spyLog, 'utf8').split('\n')[1]!;
    expect(raw).toContain('"a":{"b":3,"y":2},"cniVersion":"1.0.0","name":"chain"');

    // The primary's result is what multus prints.
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.99.0.2/24' }] });
  });

  it('DELs in reverse order with each cached result as prevResult, then a second DEL still succeeds', () => {
    const conf = multusConf([spyConf('a'), spyConf('b', {}, { ip: '10.98.0.7/24' }), spyConf('c')]);
    expect(call('ADD', conf).status).toBe(0);
    expect(existsSync(join(work.cniDir, 'ctr1'))).toBe(true);
    expect(readdirSync(join(work.cniDir, 'results')).sort()).toEqual(['a-ctr1-eth0', 'b-ctr1-net1', 'c-ctr1-net2']);

    const del = call('DEL', conf);
    expect(del.status).toBe(0);
    expect(del.stdout).toBe('');
    const dels = work.spyCalls().filter((c) => c.command === 'DEL');
    expect(dels.map((c) => `${c.stdin.name as string} ${c.env.CNI_IFNAME}`)).toEqual(['c net2', 'b net1', 'a eth0']);
    expect(dels[1]!.stdin.prevResult).toMatchObject({ ips: [{ address: '10.98.0.7/24' }] });
    expect(leftovers()).toEqual([]);

    // The runtime's second DEL (containerd's RemovePodSandbox: no netns, no prevResult) does no delegate work.
    const logFile = join(work.dir, 'multus.log');
    const again = call('DEL', { ...conf, logFile, logLevel: 'verbose', logToStderr: false }, { netns: '' });
    expect(again.stdout).toBe('');
    expect(again.status).toBe(0);
    expect(work.spyCalls().filter((c) => c.command === 'DEL')).toHaveLength(3);
    expect(readFileSync(logFile, 'utf8')).toMatch(/\[verbose\] container ctr1 was already deleted; nothing to do/);

    // A DEL whose cache is missing for another reason (never deleted) still deletes the configured networks.
    rmSync(join(work.cniDir, '.deleted'), { recursive: true });
    expect(call('DEL', conf).status).toBe(0);
    expect(work.spyCalls().filter((c) => c.command === 'DEL')).toHaveLength(6);
  });

  it('forgets "already deleted" when the container is added again, and when GC no longer lists it', () => {
    const conf = multusConf([spyConf('a')], { cniVersion: '1.1.0' });
    expect(call('ADD', conf).status).toBe(0);
    expect(call('DEL', conf).status).toBe(0);
    expect(existsSync(join(work.cniDir, '.deleted', 'ctr1'))).toBe(true);
    // cnitool derives the container ID from the netns path, so an ID can come back: its DEL must do the work again.
    expect(call('ADD', conf).status).toBe(0);
    expect(existsSync(join(work.cniDir, '.deleted', 'ctr1'))).toBe(false);
    rmSync(join(work.cniDir, 'ctr1'));
    expect(call('DEL', conf).status).toBe(0);
    expect(work.spyCalls().filter((c) => c.command === 'DEL')).toHaveLength(2);
    expect(existsSync(join(work.cniDir, '.deleted', 'ctr1'))).toBe(true);

    const gc = (valid: string[]) => call('GC', { ...conf, 'cni.dev/valid-attachments': valid.map((c) => ({ containerID: c, ifname: 'eth0' })) });
    expect(gc(['ctr1']).status).toBe(0);
    expect(existsSync(join(work.cniDir, '.deleted', 'ctr1'))).toBe(true);
    expect(gc([]).status).toBe(0);
    expect(existsSync(join(work.cniDir, '.deleted', 'ctr1'))).toBe(false);
  });

  it('rolls back every delegate up to the failing one, in reverse, and passes its error on', () => {
    const conf = multusConf([spyConf('a'), spyConf('b'), spyConf('c', {}, { fail: ['ADD'], code: 117, msg: 'no VF left on ens1f0' }), spyConf('d')]);
    const add = call('ADD', conf, { args: 'K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_UID=u1' });
    expect(add.status).toBe(1);
    expect(add.json).toEqual({
      cniVersion: '1.0.0',
      code: 117,
      msg: '[ns1/pod1/u1:c]: error adding container to network "c" on interface net2: plugin type="spy" failed (add): no VF left on ens1f0',
    });
    expect(sequence()).toEqual(['ADD a eth0', 'ADD b net1', 'ADD c net2', 'DEL c net2', 'DEL b net1', 'DEL a eth0']);
    expect(leftovers()).toEqual([]);
    expect(readdirSync(join(work.cniDir, 'results'))).toEqual([]);
  });

  it('keeps the scratch cache when the rollback of an attached delegate fails, so the runtime DEL retries it', () => {
    const conf = multusConf([spyConf('a', {}, { fail: ['DEL'] }), spyConf('b', {}, { fail: ['ADD'] })]);
    const add = call('ADD', conf);
    expect(add.status).toBe(1);
    expect(add.json?.details).toContain('rollback: [//:a]: error deleting network "a" on interface eth0');
    expect(existsSync(join(work.cniDir, 'ctr1'))).toBe(true);
  });

  it('tries every delegate on DEL even when one fails, and reports all failures', () => {
    const conf = multusConf([spyConf('a'), spyConf('b', {}, { fail: ['DEL'], msg: 'b is stuck' }), spyConf('c')]);
    expect(call('ADD', conf).status).toBe(0);
    const del = call('DEL', conf);
    expect(del.status).toBe(1);
    expect(del.json?.msg).toContain('b is stuck');
    expect(work.spyCalls().filter((c) => c.command === 'DEL').map((c) => c.stdin.name)).toEqual(['c', 'b', 'a']);
    // Without retryDeleteOnError the scratch cache goes anyway (as Multus); b's own result cache stays.
    expect(existsSync(join(work.cniDir, 'ctr1'))).toBe(false);
    expect(readdirSync(join(work.cniDir, 'results'))).toEqual(['b-ctr1-net1']);
  });

  it('keeps the scratch cache after a failed DEL with retryDeleteOnError', () => {
    const conf = multusConf([spyConf('a'), spyConf('b', {}, { fail: ['DEL'] })], { retryDeleteOnError: true });
    expect(call('ADD', conf).status).toBe(0);
    expect(call('DEL', conf).status).toBe(1);
    expect(existsSync(join(work.cniDir, 'ctr1'))).toBe(true);
  });

  it('falls back to the configured delegates when the scratch cache is corrupt, and says so in the log', () => {
    const logFile = join(work.dir, 'multus.log');
    const conf = multusConf([spyConf('a'), spyConf('b')], { logFile, logLevel: 'error', logToStderr: false });
    expect(call('ADD', conf).status).toBe(0);
    writeFileSync(join(work.cniDir, 'ctr1'), '{not json');
    const del = call('DEL', conf);
    expect(del.status).toBe(0);
    expect(work.spyCalls().filter((c) => c.command === 'DEL').map((c) => c.stdin.name)).toEqual(['b', 'a']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/\[error\] delegate cache for container ctr1 is corrupt .*deleting the configured networks instead/);
    expect(leftovers()).toEqual([]);
  });

  it('runs CHECK on every attached delegate with its cached result', () => {
    const conf = multusConf([spyConf('a'), spyConf('b', {}, { ip: '10.97.0.9/24' })]);
    expect(call('CHECK', conf).json?.code).toBe(3);
    expect(call('ADD', conf).status).toBe(0);
    const check = call('CHECK', conf);
    expect(check.status).toBe(0);
    expect(check.stdout).toBe('');
    const checks = work.spyCalls().filter((c) => c.command === 'CHECK');
    expect(checks.map((c) => `${c.stdin.name as string} ${c.env.CNI_IFNAME}`)).toEqual(['a eth0', 'b net1']);
    expect(checks[1]!.stdin.prevResult).toMatchObject({ ips: [{ address: '10.97.0.9/24' }] });
  });

  it('skips CHECK for a delegate whose version predates CHECK and checks the others', () => {
    const logFile = join(work.dir, 'multus.log');
    const conf = multusConf([spyConf('a'), spyConf('old', { cniVersion: '0.3.1' }), spyConf('c')], { logFile, logLevel: 'verbose', logToStderr: false });
    expect(call('ADD', conf).status).toBe(0);
    // With verbose logs, each attachment says it was added (the line is only made when someone gets it).
    expect(readFileSync(logFile, 'utf8')).toMatch(/\[verbose\] .*: added interface net2\n/);
    const check = call('CHECK', conf);
    expect(check.stdout).toBe('');
    expect(check.status).toBe(0);
    expect(work.spyCalls().filter((c) => c.command === 'CHECK').map((c) => c.stdin.name)).toEqual(['a', 'c']);
    expect(readFileSync(logFile, 'utf8')).toMatch(/\[verbose\] .*CHECK skipped: network "old" has cniVersion 0\.3\.1/);
  });

  it('prints a long answer whole (one longer than a pipe takes in one write)', () => {
    const add = call('ADD', multusConf([spyConf('a', {}, { routes: 200 })]));
    expect(add.status).toBe(0);
    expect(add.stdout.length).toBeGreaterThan(4096);
    expect(add.json?.routes).toHaveLength(201);
  });

  it('converts the primary result to the version multus is configured with', () => {
    const conf = multusConf([spyConf('a', { cniVersion: '0.4.0' })], { cniVersion: '1.1.0' });
    const add = call('ADD', conf);
    expect(add.status).toBe(0);
    expect(add.json?.cniVersion).toBe('1.1.0');
    expect(add.json?.ips).toEqual([{ interface: 0, address: '10.99.0.2/24', gateway: '10.99.0.1' }]);
  });

  it('refuses a delegate type that is a path, before running anything', () => {
    const add = call('ADD', multusConf([spyConf('a'), { cniVersion: '1.0.0', name: 'evil', type: '../../../bin/sh' }]));
    expect(add.json?.code).toBe(2);
    expect(add.json?.msg).toContain('delegates[1] (network "evil"): "type": "../../../bin/sh" is not a plain plugin name');
    expect(work.spyCalls()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('finds every plugin binary before attaching anything', () => {
    const add = call('ADD', multusConf([spyConf('a'), { cniVersion: '1.0.0', name: 'b', type: 'nosuchplugin' }]));
    expect(add.status).toBe(1);
    expect(add.json?.msg).toBe(`network "b": failed to find plugin "nosuchplugin" in path [${work.binDir} /nonexistent]`);
    expect(work.spyCalls()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('kills a delegate that does not answer in time and rolls back', () => {
    const conf = multusConf([spyConf('a'), spyConf('slow', {}, { sleep: 5000 })], { delegateTimeoutSeconds: 0.5 });
    const add = call('ADD', conf);
    expect(add.json?.code).toBe(11);
    expect(add.json?.msg).toContain('did not answer within 0.5s');
    expect(leftovers()).toEqual([]);
  });

  it('copies delegate stderr into the log, never onto stdout', () => {
    const logFile = join(work.dir, 'multus.log');
    const conf = multusConf([spyConf('a', {}, { stderr: 'hello from the delegate' })], { logFile, logLevel: 'verbose', logToStderr: false });
    const add = call('ADD', conf);
    expect(add.status).toBe(0);
    expect(add.stderr).toBe('');
    expect(JSON.parse(add.stdout).cniVersion).toBe('1.0.0');
    expect(readFileSync(logFile, 'utf8')).toMatch(/\[verbose\] spy ADD \(network "a", interface eth0\): stderr: hello from the delegate/);
  });

  it('waits for the readiness indicator on ADD (bounded) but not on DEL', () => {
    const ready = join(work.dir, 'ready');
    const conf = multusConf([spyConf('a')], { readinessindicatorfile: ready, readinessTimeoutSeconds: 0.3 });
    const add = call('ADD', conf);
    expect(add.json?.code).toBe(11);
    expect(add.json?.msg).toContain(`still waiting for readinessindicatorfile @ ${ready}`);
    expect(work.spyCalls()).toEqual([]);
    expect(call('DEL', conf).status).toBe(0);
    writeFileSync(ready, '');
    expect(call('ADD', conf).status).toBe(0);
  });

  it('reads keys case-insensitively, as Go Multus does', () => {
    const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', CNIDir: work.cniDir, BinDir: work.binDir, Delegates: [spyConf('a')] };
    expect(call('ADD', conf).status).toBe(0);
    expect(existsSync(join(work.cniDir, 'ctr1'))).toBe(true);
  });

  it('takes clusterNetwork from a file path and defaultNetworks by name from confDir, except in system namespaces', () => {
    const confDir = join(work.dir, 'net.d');
    mkdirSync(confDir);
    writeFileSync(join(confDir, '10-cluster.conf'), JSON.stringify(spyConf('cluster')));
    writeFileSync(join(confDir, '20-extra.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'extra', plugins: [spyConf('x')] }));
    const conf = multusConf([], { confDir, clusterNetwork: join(confDir, '10-cluster.conf'), defaultNetworks: ['extra'] });
    expect(call('ADD', conf, { args: 'K8S_POD_NAMESPACE=default' }).status).toBe(0);
    expect(sequence()).toEqual(['ADD cluster eth0', 'ADD extra net1']);
    expect(call('ADD', conf, { args: 'K8S_POD_NAMESPACE=kube-system', containerId: 'ctr2' }).status).toBe(0);
    expect(sequence().slice(2)).toEqual(['ADD cluster eth0']);
  });

  it('runs the auxiliaryCNIChainName chain (passthru, then <dir of clusterNetwork>/<name>/*.conf) as the last attachment', () => {
    const confDir = join(work.dir, 'net.d');
    mkdirSync(join(confDir, 'aux-chain'), { recursive: true });
    writeFileSync(join(confDir, '10-cluster.conf'), JSON.stringify(spyConf('cluster')));
    writeFileSync(join(confDir, 'aux-chain', '20-b.conf'), JSON.stringify({ type: 'spy', spy: { log: work.spyLog }, step: 'b' }));
    writeFileSync(join(confDir, 'aux-chain', '10-a.conf'), JSON.stringify({ type: 'spy', spy: { log: work.spyLog }, step: 'a' }));
    writeFileSync(join(confDir, 'aux-chain', 'ignored.json'), '{not even json');
    // binDir holds no passthru: multus runs its own.
    const conf = multusConf([], { confDir, clusterNetwork: join(confDir, '10-cluster.conf'), auxiliaryCNIChainName: 'aux-chain' });
    expect(call('ADD', conf).status).toBe(0);
    expect(sequence()).toEqual(['ADD cluster eth0', 'ADD aux-chain net1', 'ADD aux-chain net1']);
    const [, a, b] = work.spyCalls();
    expect([a!.stdin.step, b!.stdin.step]).toEqual(['a', 'b']);
    // passthru's empty result is the chain's first prevResult.
    expect(a!.stdin.prevResult).toEqual({ cniVersion: '1.0.0' });
    expect(call('DEL', conf).status).toBe(0);
    expect(sequence().slice(3)).toEqual(['DEL aux-chain net1', 'DEL aux-chain net1', 'DEL cluster eth0']);
    expect(leftovers()).toEqual([]);

    // No plugin files: no chain. A clusterNetwork that is not a path: Go Multus's error.
    expect(call('ADD', { ...conf, auxiliaryCNIChainName: 'none-here' }, { containerId: 'ctr2' }).status).toBe(0);
    expect(sequence().slice(6)).toEqual(['ADD cluster eth0']);
    const byName = call('ADD', multusConf([spyConf('a')], { auxiliaryCNIChainName: 'aux-chain' }), { containerId: 'ctr3' });
    expect(byName.json?.code).toBe(7);
    expect(byName.json?.msg).toContain('auxiliary chain used but ClusterNetwork must be a path, and it is not a path');
  });

  it('answers STATUS from the primary network and passes its error code on', () => {
    const ok = call('STATUS', multusConf([spyConf('a', { cniVersion: '1.1.0' })], { cniVersion: '1.1.0' }), { containerId: '' });
    expect(ok.status).toBe(0);
    expect(work.spyCalls().map((c) => c.command)).toEqual(['STATUS']);
    const down = call('STATUS', multusConf([spyConf('a', { cniVersion: '1.1.0' }, { fail: ['STATUS'], code: 50, msg: 'no uplink' })],
      { cniVersion: '1.1.0' }));
    expect(down.json).toMatchObject({ code: 50, msg: 'plugin type="spy" failed (status): no uplink' });
  });

  it('GC deletes attachments the runtime no longer lists and forwards GC to the primary', () => {
    const conf = multusConf([spyConf('a', { cniVersion: '1.1.0' }), spyConf('b', { cniVersion: '1.1.0' })], { cniVersion: '1.1.0' });
    expect(call('ADD', conf, { containerId: 'keep1' }).status).toBe(0);
    expect(call('ADD', conf, { containerId: 'gone1' }).status).toBe(0);
    const gc = call('GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep1', ifname: 'eth0' }] }, { containerId: '' });
    expect(gc.status).toBe(0);
    const after = work.spyCalls().slice(4);
    expect(after.map((c) => `${c.command} ${c.env.CNI_CONTAINERID} ${c.env.CNI_IFNAME}`)).toEqual(['DEL gone1 net1', 'DEL gone1 eth0', 'GC  ']);
    expect(after[2]!.stdin['cni.dev/valid-attachments']).toEqual([{ containerID: 'keep1', ifname: 'eth0' }]);
    expect(existsSync(join(work.cniDir, 'gone1'))).toBe(false);
    expect(existsSync(join(work.cniDir, 'keep1'))).toBe(true);
  });
});
