import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ourPlugin } from '../helpers/plugin-exec';
import { REFERENCE_PLUGINS, runMultus, SPY } from '../helpers/multus';
import { canUseNamespaces, nodeFixture } from '../helpers/netns';

// A node that has nothing but this project: eth0, net1 and net2 all come from our own macvlan and host-local,
// which multus runs in its own process because the binaries on its path are this executable.
describe.skipIf(!canUseNamespaces)('multus with its built-in plugins only', () => {
  const f = nodeFixture();

  function setup(broken = false, extra: Record<string, unknown> = {}) {
    const binDir = join(f.work.dir, 'opt-cni-bin');
    mkdirSync(binDir);
    if (!extra.builtinPlugins) for (const name of ['macvlan', 'host-local']) ourPlugin(binDir, name);
    const logFile = join(f.work.dir, 'multus.log');
    const macvlan = (name: string, subnet: string, extra: Record<string, unknown> = {}) => ({
      cniVersion: '1.0.0', name, type: 'macvlan', master: f.node.uplink, mode: 'bridge',
      ipam: { type: 'host-local', subnet, dataDir: f.work.ipamDir, ...extra },
    });
    const conf = {
      cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir: f.work.cniDir, binDir, logFile, logLevel: 'debug',
      logToStderr: false, ...extra,
      delegates: [
        macvlan('cluster', '10.241.0.0/24', { routes: [{ dst: '0.0.0.0/0' }] }),
        broken ? { ...macvlan('storage', '10.242.0.0/24'), master: 'nosuchdev0' } : macvlan('storage', '10.242.0.0/24'),
        macvlan('dataplane', '10.243.0.0/24', { routes: [{ dst: '10.244.0.0/16', gw: '10.243.0.254' }] }),
      ],
    };
    // CNI_PATH names no plugin directory at all: binDir alone must serve.
    const call = (command: string) => runMultus({ command, conf, containerId: `c${f.node.id}`, netns: f.node.podNetnsPath,
      inNetns: f.node.nodeNs, path: '/nonexistent' });
    return { call, logFile };
  }

  it('stops a built-in delegate that never answers at delegateTimeoutSeconds: code 11, nothing left', () => {
    const { logFile } = setup();
    const binDir = join(f.work.dir, 'opt-cni-bin');
    symlinkSync(SPY, join(binDir, 'spy'));
    const spyLog = join(f.work.dir, 'stalled-spy.log');
    // net1's macvlan waits for an IPAM plugin that never answers ADD: from multus's side the built-in never returns.
    const conf = {
      cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', cniDir: f.work.cniDir, binDir, logFile, logLevel: 'debug',
      logToStderr: false, delegateTimeoutSeconds: 1,
      delegates: [
        { cniVersion: '1.0.0', name: 'cluster', type: 'macvlan', master: f.node.uplink,
          ipam: { type: 'host-local', subnet: '10.245.0.0/24', dataDir: f.work.ipamDir } },
        { cniVersion: '1.0.0', name: 'stalled', type: 'macvlan', master: f.node.uplink, ipam: { type: 'spy' },
          spy: { sleep: 600_000, sleepOn: ['ADD'], log: spyLog } },
      ],
    };
    const add = runMultus({ command: 'ADD', conf, containerId: `t${f.node.id}`, netns: f.node.podNetnsPath, inNetns: f.node.nodeNs, path: '/nonexistent' });
    expect(add.status).toBe(1);
    expect(add.json).toMatchObject({ code: 11, msg: expect.stringContaining('did not answer within 1s') });
    // The built-in undid its half-made link, the rollback removed eth0 and released both addresses.
    expect(f.node.podLinks()).toEqual([]);
    expect(readdirSync(join(f.work.ipamDir, 'cluster')).filter((x) => /^\d/.test(x))).toEqual([]);
    expect(readFileSync(spyLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l).command)).toEqual(['ADD', 'DEL']);
    expect(existsSync(join(f.work.cniDir, `t${f.node.id}`))).toBe(false);
  });

  it('attaches eth0, net1 and net2 in-process and removes them again', () => {
    const { call, logFile } = setup();
    const add = call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(add.json).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: f.node.podNetnsPath }],
      ips: [{ interface: 0, address: '10.241.0.2/24', gateway: '10.241.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
    const links = Object.fromEntries(f.node.podLinks().map((l) => [l.ifname, l]));
    expect(Object.keys(links).sort()).toEqual(['eth0', 'net1', 'net2']);
    for (const l of Object.values(links)) expect(l.linkinfo?.info_kind).toBe('macvlan');
    expect(f.node.routes(f.node.podNs)).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.241.0.1', dev: 'eth0' }));
    expect(f.node.routes(f.node.podNs)).toContainEqual(expect.objectContaining({ dst: '10.244.0.0/16', gateway: '10.243.0.254', dev: 'net2' }));
    // No plugin process was started: every macvlan and host-local call ran inside multus.
    const log = readFileSync(logFile, 'utf8');
    expect(log.match(/running macvlan in-process/g)).toHaveLength(3);
    expect(log.match(/running host-local in-process/g)).toHaveLength(3);
    expect(readFileSync(join(f.work.ipamDir, 'storage', '10.242.0.2'), 'utf8')).toBe(`c${f.node.id}\r\nnet1`);

    expect(call('CHECK').status).toBe(0);
    expect(call('DEL').status).toBe(0);
    // The three links went in one kernel batch (one RCU wait instead of three), before the DELs ran.
    expect(readFileSync(logFile, 'utf8')).toContain('deleted 3 links of 3 DELs in one kernel batch');
    expect(f.node.podLinks()).toEqual([]);
    for (const net of ['cluster', 'storage', 'dataplane']) {
      expect(readdirSync(join(f.work.ipamDir, net)).filter((x) => /^\d/.test(x))).toEqual([]);
    }
    expect(existsSync(join(f.work.cniDir, `c${f.node.id}`))).toBe(false);
    expect(call('DEL').status).toBe(0);
  });

  it('leaves no new host-local directory or lock file after rolling back a network that never allocated', () => {
    const { call } = setup(true);
    const add = call('ADD');
    expect(add.status).toBe(1);
    expect(add.json?.msg).toContain('nosuchdev0');
    expect(f.node.podLinks()).toEqual([]);
    // eth0's network allocated and released (its store stays, as the reference's does); storage never got that far.
    expect(readdirSync(join(f.work.ipamDir, 'cluster')).filter((x) => /^\d/.test(x))).toEqual([]);
    expect(readdirSync(f.work.ipamDir)).toEqual(['cluster']);
  });

  it('with builtinPlugins, runs those types in-process whatever binDir holds (here: nothing at all)', () => {
    const { call, logFile } = setup(false, { builtinPlugins: ['macvlan', 'host-local'] });
    const add = call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    expect(f.node.podLinks().map((l) => l.ifname).sort()).toEqual(['eth0', 'net1', 'net2']);
    const log = readFileSync(logFile, 'utf8');
    expect(log.match(/macvlan is a built-in plugin; running macvlan in-process/g)).toHaveLength(3);
    expect(log.match(/host-local is a built-in plugin; running host-local in-process/g)).toHaveLength(3);
    expect(call('CHECK').status).toBe(0);
    expect(call('DEL').status).toBe(0);
    expect(f.node.podLinks()).toEqual([]);
  });

  it('with builtinPlugins ["macvlan"], our macvlan calls the host-local binary on the path (the reference one here)', () => {
    const { call, logFile } = setup(false, { builtinPlugins: ['macvlan'], binDir: REFERENCE_PLUGINS });
    const add = call('ADD');
    expect(add.stderr).toBe('');
    expect(add.status).toBe(0);
    const log = readFileSync(logFile, 'utf8');
    expect(log.match(/running macvlan in-process/g)).toHaveLength(3);
    expect(log).not.toContain('running host-local in-process');
    expect(call('DEL').status).toBe(0);
    expect(f.node.podLinks()).toEqual([]);
  });

  it('refuses a builtinPlugins entry it cannot run', () => {
    const { call } = setup(false, { builtinPlugins: ['bridge'] });
    const add = call('ADD');
    expect(add.json?.code).toBe(7);
    expect(add.json?.msg).toContain('builtinPlugins');
    expect(add.json?.msg).toContain('macvlan, ipvlan, host-local');
  });
});
