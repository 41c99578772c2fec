import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from '../../src/plugins/host-local/address';
import { execPluginAsync, execPluginSync, type PluginCall } from '../helpers/plugin-exec';
import { ROOT, uniqueId, ourPluginFixture, type RunOutcome } from '../helpers/multus';
import { canUseNamespaces } from '../helpers/netns';
import { referenceSets } from '../helpers/peers';

// Ours and the reference host-local (Debian's 1.1.1 and upstream's newest) side by side: the same configuration and
// environment must give equivalent output and the same store files, and either must honour the other's store.
// cni-contracts.md 8.C.

type Ipam = Record<string, unknown>;

interface Step extends Omit<PluginCall, 'conf'> {
  /** Keys over the network's configuration for this step (e.g. another cniVersion, runtimeConfig). */
  confExtra?: Record<string, unknown>;
}

/**
 * What a caller can rely on: the result JSON, or the error's code and message. The reference prints an empty `dns`
 * in 1.x results where the current Go library leaves it out, and omits `cniVersion` in errors; both are allowed.
 */
function comparable(r: RunOutcome): unknown {
  if (r.status !== 0) return { status: r.status, code: r.json?.code, msg: r.json?.msg };
  if (!r.json) return { status: 0, stdout: r.stdout };
  const out = { ...r.json };
  if (String(out.cniVersion).startsWith('1.') && JSON.stringify(out.dns) === '{}') delete out.dns;
  return { status: 0, result: out };
}

for (const set of referenceSets()) describe.skipIf(!canUseNamespaces || set.missing !== undefined)(`host-local: ours and the reference ${set.label} side by side`, () => {
  const f = ourPluginFixture('host-local');
  const REFERENCE = join(set.dir, 'host-local');

  /** The same network in two stores, one per implementation. */
  function pair(ipam: Ipam, extra: Record<string, unknown> = {}) {
    const name = `hl-${uniqueId()}`;
    const dataDir = { ref: join(f.work.dir, 'ref'), ours: join(f.work.dir, 'ours') };
    const conf = (side: 'ref' | 'ours', s: Step) =>
      ({ cniVersion: '1.0.0', name, ipam: { type: 'host-local', dataDir: dataDir[side], ...ipam }, ...extra, ...s.confExtra });
    const call = (side: 'ref' | 'ours', s: Step) =>
      execPluginSync(side === 'ref' ? REFERENCE : f.bin, { netns: f.work.fakeNetns, ...s, conf: conf(side, s) });
    const dirOf = (side: 'ref' | 'ours') => join(dataDir[side], name);
    /** Every file of a store with its content; our lock directory must be gone once a call has finished. */
    const store = (side: 'ref' | 'ours') => {
      const dir = dirOf(side);
      if (!existsSync(dir)) return undefined;
      return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    };
    /** Runs each step on both and expects the same answers and, after every step, the same store. */
    const same = (steps: Step[]) => {
      for (const s of steps) {
        const label = `${s.command} ${s.containerId ?? ''} ${s.ifName ?? ''} ${s.args ?? ''} ${JSON.stringify(s.confExtra ?? {})}`;
        const ref = call('ref', s);
        expect(comparable(call('ours', s)), label).toEqual(comparable(ref));
        expect(store('ours'), label).toEqual(store('ref'));
      }
    };
    const seed = (files: Record<string, string>) => {
      for (const side of ['ref', 'ours'] as const) {
        mkdirSync(dirOf(side), { recursive: true });
        for (const [f, content] of Object.entries(files)) writeFileSync(join(dirOf(side), f), content);
      }
    };
    return { name, call, same, seed, store, dirOf, conf };
  }

  const add = (containerId: string, o: Partial<Step> = {}): Step => ({ command: 'ADD', containerId, ...o });
  const del = (containerId: string, o: Partial<Step> = {}): Step => ({ command: 'DEL', containerId, ...o });
  const check = (containerId: string, o: Partial<Step> = {}): Step => ({ command: 'CHECK', containerId, confExtra: { cniVersion: '0.4.0' }, ...o });

  it('follows the same allocation trace, store and messages (Appendix A, scenarios 25-29)', () => {
    pair({ subnet: '10.77.0.0/29' }).same([
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((c) => add(`ctr-${c}`)),
      add('ctr-a'), add('ctr-a', { ifName: 'eth1' }),
      del('ctr-c'), del('ctr-c'), del('ctr-d', { ifName: 'eth9' }), del('ctr-x', { netns: '' }),
      add('ctr-g'), del('ctr-e'), del('ctr-b'), add('ctr-h'), add('ctr-i'),
      check('ctr-a'), check('ctr-nope'),
    ]);
  });

  it('prints the same dual-stack result in every version it supports (scenarios 16-19)', () => {
    // No 1.1 route fields (mtu, priority, ...): the cni library of the 1.1.1 reference predates them and drops them.
    const routes = [{ dst: '0.0.0.0/0' }, { dst: '::0/0' }, { dst: '192.168.50.0/24', gw: '10.78.0.254' }];
    const p = pair({ ranges: [[{ subnet: '10.78.0.0/24' }], [{ subnet: 'fd99:1::/64' }]], routes });
    p.same([undefined, '0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'].map((v, i) => add(`v${i}`, { confExtra: { cniVersion: v } })));
  });

  if (set.cni11) it('passes CNI 1.1 route fields through like the reference, in 1.1.0 and older results', () => {
    const routes = [{ dst: '0.0.0.0/0', mtu: 1400, advmss: 1360, priority: 100, table: 50, scope: 253 }, { dst: '::0/0', gw: 'fd98::fe', priority: 5 }];
    const p = pair({ ranges: [[{ subnet: '10.98.0.0/24' }], [{ subnet: 'fd98::/64' }]], routes });
    p.same(['1.1.0', '1.0.0', '0.4.0'].map((v) => add(`r${v}`, { confExtra: { cniVersion: v } })));
  });

  it('takes the same requested addresses from every source (scenarios 36-37)', () => {
    pair({ ranges: [[{ subnet: '10.79.0.0/24', rangeStart: '10.79.0.10', rangeEnd: '10.79.0.20' }], [{ subnet: 'fd79::/64' }]] }).same([
      add('r1', { args: 'IP=10.79.0.15' }),
      add('r2', { args: 'IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.79.0.17/24' }),
      add('r3', { confExtra: { args: { cni: { ips: ['10.79.0.19', 'fd79::99'] } } } }),
      add('r4', { confExtra: { runtimeConfig: { ips: ['10.79.0.12/24'] } } }),
      add('r5', { args: 'IP=::ffff:10.79.0.13' }),
      add('r6', { args: 'IP=10.79.0.15' }),
      add('r6', { args: 'IP=10.79.0.50' }),
      add('r6', { args: 'IP=10.79.0.10;IP=10.79.0.11' }),
      add('r7', { args: 'K8S_POD_NAME=foo' }),
      add('r7', { args: 'ignoreunknown=true;K8S_POD_NAME=foo' }),
      add('r7', { args: 'IP' }),
      add('r7', { args: 'IP=10.79.0.300' }),
      add('r7', { confExtra: { args: { cni: { ips: ['bogus'] } } } }),
    ]);
  });

  it('agrees on gateways, edge ranges, IPv6, ipRanges and multi-subnet sets (scenarios 33-35, 40, 41)', () => {
    pair({ subnet: '10.82.0.0/24', gateway: '10.82.0.254' }).same([add('g1'), add('g2', { args: 'IP=10.82.0.254' })]);
    pair({ subnet: '10.81.0.0/24' }).same([add('g', { args: 'IP=10.81.0.1' })]);
    pair({ subnet: '10.84.0.0/24', rangeStart: '10.84.0.0' }).same([add('e1'), add('e2')]);
    pair({ subnet: '10.85.0.0/24', rangeStart: '10.85.0.255', rangeEnd: '10.85.0.255' }).same([add('e1'), add('e2')]);
    pair({ subnet: '10.83.0.0/24', gateway: '192.168.1.1' }).same([add('e1')]);
    pair({ subnet: 'fd86::/120', rangeStart: 'fd86::fe' }).same([add('a'), add('b'), add('c'), del('a'), add('d')]);
    pair({ ranges: [[{ subnet: 'fd60::/64' }]] }, { runtimeConfig: { ipRanges: [[{ subnet: '10.60.0.0/24' }]] } }).same([add('x')]);
    pair({ ranges: [[{ subnet: '10.61.0.0/30' }, { subnet: '10.62.0.0/30' }]] }).same([add('a'), add('b'), add('c'), del('a'), add('d')]);
    pair({ subnet: '10.63.0.0/30' }).same([add('a'), add('b'), add('c')]);
  });

  it('rejects the same invalid configurations with the same messages (scenario 38)', () => {
    const invalid: Ipam[] = [
      { subnet: '10.1.0.0/31' }, { subnet: '10.1.0.0/32' }, { subnet: '10.1.0.1/24' }, { subnet: '10.1.0.0/33' },
      { subnet: '10.1.0.0/24', rangeStart: '10.2.0.5' }, { subnet: '10.1.0.0/24', rangeEnd: '10.2.0.5' },
      { subnet: '10.1.0.0/24', rangeStart: '10.1.0.50', rangeEnd: '10.1.0.40' },
      { subnet: '10.1.0.0/24', gateway: 'bogus' }, { subnet: '::ffff:10.0.0.0/120' }, { subnet: 'fd00::/127' },
      {}, { ranges: [] }, { ranges: [[]] }, { ranges: [[{ subnet: '' }]] }, { ranges: [[{ rangeStart: '10.1.0.5' }]] },
      { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: 'fd00::/64' }]] },
      { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.0.128/25' }]] },
      { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.0/25' }]] },
    ];
    for (const ipam of invalid) pair(ipam).same([add('x'), del('x'), check('x')]);
    pair({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/24' }]] }, { cniVersion: '0.2.0' }).same([add('x')]);
    const noIpam = pair({});
    for (const side of ['ref', 'ours'] as const) {
      const r = execPluginSync(side === 'ref' ? REFERENCE : f.bin,
        { command: 'ADD', containerId: 'x', netns: f.work.fakeNetns, conf: { cniVersion: '1.0.0', name: noIpam.name } });
      expect(comparable(r)).toEqual({ status: 1, code: 999, msg: "IPAM config missing 'ipam' key" });
    }
  });

  it('honours legacy files the same way (scenario 30)', () => {
    const p = pair({ subnet: '10.76.0.0/24' });
    p.seed({ '10.76.0.7': 'legacy-ctr\n', '10.76.0.9': 'legacy-ctr\r\neth1' });
    p.same([add('legacy-ctr'), check('legacy-ctr', { ifName: 'eth5' }), del('legacy-ctr'), add('legacy-ctr'), check('legacy-ctr', { ifName: 'eth1' })]);
    const two = pair({ ranges: [[{ subnet: '10.76.0.0/24' }], [{ subnet: 'fd76::/64' }]] });
    two.seed({ '10.76.0.7': 'c1', 'fd76::8': 'c1\r\neth0', '10.76.0.9': 'c2', '10.76.0.10': 'c2\r\neth0' });
    two.same([del('c1'), del('c2', { ifName: 'eth3' })]);
  });

  it('produces the same dns from resolvConf, and the same error for a missing file (scenario 39)', () => {
    const resolv = join(f.work.dir, 'resolv.conf');
    writeFileSync(resolv, '# c\nnameserver 10.0.0.53\n nameserver 10.0.0.54\ndomain example.com\nsearch a b\nsearch c\noptions x y\n');
    pair({ subnet: '10.86.0.0/24', resolvConf: resolv }).same([add('d', { confExtra: { cniVersion: '0.3.1' } }), add('e')]);
    const missing = pair({ subnet: '10.87.0.0/24', resolvConf: join(f.work.dir, 'nope') });
    missing.same([add('d')]);
    expect(missing.store('ours')).toBeUndefined();
  });

  if (set.cni11) it('answers CNI 1.1 STATUS and GC like the reference; our GC also releases what is not listed', () => {
    const v11 = { confExtra: { cniVersion: '1.1.0' } };
    const noAttachment = { containerId: '', ifName: '', netns: '' };
    const p = pair({ subnet: '10.91.0.0/28' });
    p.same([
      add('keep', v11), add('stale', v11), add('stale', { ...v11, ifName: 'net1' }),
      { command: 'STATUS', ...noAttachment, ...v11 }, { command: 'STATUS', ...noAttachment },
      { command: 'GC', ...noAttachment },
    ]);
    // The reference never reads the list; ours acts on it, so it refuses one it cannot read.
    const bogus = { command: 'GC', ...noAttachment, confExtra: { cniVersion: '1.1.0', 'cni.dev/valid-attachments': 'bogus' } };
    expect(comparable(p.call('ref', bogus))).toEqual({ status: 0, stdout: '' });
    expect(comparable(p.call('ours', bogus))).toMatchObject({ status: 1, code: 6 });
    const gc = { command: 'GC', ...noAttachment, confExtra: { cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] } };
    expect(comparable(p.call('ours', gc))).toEqual(comparable(p.call('ref', gc)));
    // The reference's GC is a no-op (its FIXME); ours releases the two stale reservations (README: host-local GC).
    const { '10.91.0.3': _s1, '10.91.0.4': _s2, ...kept } = p.store('ref')!;
    expect(p.store('ref')!['10.91.0.3']).toBe('stale\r\neth0');
    expect(p.store('ours')).toEqual(kept);
  });

  it('lets either implementation take over the other\'s store', () => {
    const p = pair({ subnet: '10.92.0.0/28' });
    const shared = (side: 'ref' | 'ours', s: Step) => execPluginSync(side === 'ref' ? REFERENCE : f.bin,
      { netns: f.work.fakeNetns, ...s, conf: p.conf('ref', s) });
    const address = (r: RunOutcome) => {
      expect(r.status, r.stdout).toBe(0);
      return (r.json!.ips as Array<{ address: string }>)[0]!.address;
    };
    // Round robin carries over in both directions.
    expect(address(shared('ref', add('r1')))).toBe('10.92.0.2/28');
    expect(address(shared('ref', add('r2')))).toBe('10.92.0.3/28');
    expect(address(shared('ours', add('o1')))).toBe('10.92.0.4/28');
    expect(address(shared('ref', add('r3')))).toBe('10.92.0.5/28');
    // Each sees the other's reservations as taken.
    expect(comparable(shared('ours', add('r1')))).toMatchObject({ msg: 'failed to allocate for range 0: 10.92.0.2 has been allocated to r1, duplicate allocation is not allowed' });
    expect(comparable(shared('ref', add('o1')))).toMatchObject({ msg: 'failed to allocate for range 0: 10.92.0.4 has been allocated to o1, duplicate allocation is not allowed' });
    expect(comparable(shared('ref', check('o1')))).toEqual({ status: 0, stdout: '' });
    expect(comparable(shared('ours', check('r2')))).toEqual({ status: 0, stdout: '' });
    // Each releases the other's.
    expect(shared('ours', del('r1')).status).toBe(0);
    expect(shared('ref', del('o1')).status).toBe(0);
    expect(Object.keys(p.store('ref')!)).toEqual(['10.92.0.3', '10.92.0.5', 'last_reserved_ip.0', 'lock']);
  });

  it('never hands out an address twice when both run at once on one range (flock interop)', async () => {
    const p = pair({ subnet: '10.93.0.0/25' });
    const ids = Array.from({ length: 50 }, (_, i) => `mix-${i}`);
    const binary = (i: number) => (i % 2 === 0 ? REFERENCE : f.bin);
    const run = (command: string, id: string, i: number) =>
      execPluginAsync(binary(i), { command, containerId: id, netns: f.work.fakeNetns, conf: p.conf('ref', { command }) });
    const adds = await Promise.all(ids.map((id, i) => run('ADD', id, i)));
    for (const r of adds) expect(r.status, r.stdout + r.stderr).toBe(0);
    const addresses = adds.map((r) => (r.json!.ips as Array<{ address: string }>)[0]!.address.split('/')[0]!);
    expect(new Set(addresses).size).toBe(50);
    const dir = p.dirOf('ref');
    ids.forEach((id, i) => expect(readFileSync(join(dir, addresses[i]!), 'utf8')).toBe(`${id}\r\neth0`));
    // Released by the other implementation than the one that allocated.
    const dels = await Promise.all(ids.map((id, i) => run('DEL', id, i + 1)));
    for (const r of dels) expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(readdirSync(dir).filter((f) => parseIp(f))).toEqual([]);
  });

  it('makes the reference wait while we hold the store (scenario 32, the other way round)', async () => {
    const p = pair({ subnet: '10.94.0.0/24' });
    const dir = p.dirOf('ref');
    mkdirSync(dir, { recursive: true });
    const lockModule = join(ROOT, 'dist/plugins/host-local/lock.js');
    // Holds our locks until its stdin closes.
    const holder = spawn(process.execPath, ['-e',
      `require(${JSON.stringify(lockModule)}).lockStore(${JSON.stringify(dir)}).then((unlock) => {
         console.log('locked'); process.stdin.resume(); process.stdin.on('end', () => unlock()); })`,
    ], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    let finished = false;
    const pending = execPluginAsync(REFERENCE, { command: 'ADD', containerId: 'waits', netns: f.work.fakeNetns, conf: p.conf('ref', { command: 'ADD' }) })
      .then((r) => {
        finished = true;
        return r;
      });
    await new Promise((r) => setTimeout(r, 500));
    // While the holder lives the reference cannot have got the flock.
    expect(finished).toBe(false);
    expect(readdirSync(dir).filter((f) => parseIp(f))).toEqual([]);
    holder.stdin.end();
    const r = await pending;
    expect(r.status, r.stdout).toBe(0);
    expect(r.json?.ips).toEqual([{ address: '10.94.0.2/24', gateway: '10.94.0.1' }]);
  });
});
