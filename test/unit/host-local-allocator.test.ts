import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIp, parseIp } from '../../src/plugins/host-local/address';
import { allocate, candidates } from '../../src/plugins/host-local/allocator';
import { loadConfig } from '../../src/plugins/host-local/config';
import { releaseAttachment } from '../../src/plugins/host-local/release';
import { NetworkStore } from '../../src/plugins/host-local/store';
import type { CniError } from '../../src/cni/errors';

// cni-contracts.md 4.3 (allocation order, requested IPs, messages) and Appendix A (the /29 trace).

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'hl-alloc-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

function setup(ipam: Record<string, unknown>) {
  const conf = loadConfig({ cniVersion: '1.0.0', name: 'hlnet', ipam: { type: 'host-local', dataDir, ...ipam } });
  const store = NetworkStore.open(dataDir, 'hlnet');
  const add = (id: string, ifName = 'eth0', requested: string[] = []) =>
    allocate(store, conf.rangeSets, { containerId: id, ifName }, requested.map((t) => parseIp(t)!)).map((c) => c.address);
  const addError = (id: string, ifName = 'eth0', requested: string[] = []): string => {
    try {
      add(id, ifName, requested);
    } catch (e) {
      return (e as CniError).message;
    }
    throw new Error('ADD succeeded');
  };
  const del = (id: string, ifName = 'eth0') => releaseAttachment(store, id, ifName, conf.rangeSets.length);
  // The lock file is the lock module's; these tests do not lock.
  const files = () => readdirSync(store.dir).sort();
  return { conf, store, add, addError, del, files };
}

describe('host-local candidates', () => {
  const set = (ipam: Record<string, unknown>) => loadConfig({ name: 'n', ipam }).rangeSets[0]!;
  const order = (s: ReturnType<typeof set>, last?: string) => [...candidates(s, last ? parseIp(last) : undefined)].map((c) => formatIp(c.ip));

  it('starts at rangeStart, skips the gateway, and tries every address once', () => {
    expect(order(set({ subnet: '10.77.0.0/29' }))).toEqual(['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.5', '10.77.0.6']);
    expect(order(set({ subnet: '10.82.0.0/29', gateway: '10.82.0.6' }))).toEqual(['10.82.0.1', '10.82.0.2', '10.82.0.3', '10.82.0.4', '10.82.0.5']);
  });

  it('continues after the last reserved address and wraps, ending with it', () => {
    expect(order(set({ subnet: '10.77.0.0/29' }), '10.77.0.4')).toEqual(['10.77.0.5', '10.77.0.6', '10.77.0.2', '10.77.0.3', '10.77.0.4']);
    expect(order(set({ subnet: '10.77.0.0/29' }), '10.77.0.6')).toEqual(['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.5', '10.77.0.6']);
    // Outside the set (ranges changed since): start over.
    expect(order(set({ subnet: '10.77.0.0/29' }), '10.1.0.1')[0]).toBe('10.77.0.2');
  });

  it('walks the ranges of a set in order', () => {
    const s = set({ ranges: [[{ subnet: '10.61.0.0/30' }, { subnet: '10.62.0.0/30' }]] });
    expect(order(s)).toEqual(['10.61.0.2', '10.62.0.2']);
    expect(order(s, '10.61.0.2')).toEqual(['10.62.0.2', '10.61.0.2']);
  });
});

describe('host-local allocation', () => {
  it('follows the reference trace of Appendix A', () => {
    const t = setup({ subnet: '10.77.0.0/29' });
    expect(['a', 'b', 'c', 'd', 'e'].flatMap((c) => t.add(`ctr-${c}`))).toEqual(
      ['10.77.0.2/29', '10.77.0.3/29', '10.77.0.4/29', '10.77.0.5/29', '10.77.0.6/29']);
    expect(t.addError('ctr-f')).toBe('failed to allocate for range 0: no IP addresses available in range set: 10.77.0.1-10.77.0.6');
    expect(t.addError('ctr-a')).toBe('failed to allocate for range 0: 10.77.0.2 has been allocated to ctr-a, duplicate allocation is not allowed');
    expect(t.addError('ctr-a', 'eth1')).toMatch(/no IP addresses available/);
    t.del('ctr-c');
    expect(t.files()).toEqual(['10.77.0.2', '10.77.0.3', '10.77.0.5', '10.77.0.6', 'last_reserved_ip.0']);
    t.del('ctr-c');
    t.del('ctr-d', 'eth9');
    expect(t.files()).toHaveLength(5);
    expect(t.add('ctr-g')).toEqual(['10.77.0.4/29']);
    t.del('ctr-e');
    t.del('ctr-b');
    expect(readFileSync(join(t.store.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.77.0.4');
    expect(t.add('ctr-h')).toEqual(['10.77.0.6/29']);
    expect(t.add('ctr-i')).toEqual(['10.77.0.3/29']);
  });

  it('allocates one address per set, dual stack, with the gateway of the range', () => {
    const t = setup({ ranges: [[{ subnet: '10.78.0.0/24' }], [{ subnet: 'fd99:1::/64' }]] });
    const out = allocate(t.store, t.conf.rangeSets, { containerId: 'v', ifName: 'eth0' }, []);
    expect(out).toEqual([{ address: '10.78.0.2/24', gateway: '10.78.0.1' }, { address: 'fd99:1::2/64', gateway: 'fd99:1::1' }]);
    expect(readFileSync(join(t.store.dir, 'fd99:1::2'), 'utf8')).toBe('v\r\neth0');
    expect(readFileSync(join(t.store.dir, 'last_reserved_ip.1'), 'utf8')).toBe('fd99:1::2');
  });

  it('uses requested addresses in the sets that hold them and continues round robin after them', () => {
    const t = setup({ ranges: [[{ subnet: '10.79.0.0/24', rangeStart: '10.79.0.10', rangeEnd: '10.79.0.20' }], [{ subnet: 'fd79::/64' }]] });
    expect(t.add('r1', 'eth0', ['10.79.0.15'])).toEqual(['10.79.0.15/24', 'fd79::2/64']);
    expect(t.add('r2', 'eth0', ['10.79.0.19', 'fd79::99'])).toEqual(['10.79.0.19/24', 'fd79::99/64']);
    expect(t.add('r3', 'eth0', ['10.79.0.12'])).toEqual(['10.79.0.12/24', 'fd79::9a/64']);
    expect(t.addError('r4', 'eth0', ['10.79.0.15']))
      .toBe('failed to allocate for range 0: requested IP address 10.79.0.15 is not available in range set 10.79.0.10-10.79.0.20');
    expect(t.addError('r4', 'eth0', ['10.79.0.50'])).toBe('failed to allocate all requested IPs: 10.79.0.50');
    expect(t.addError('r4', 'eth0', ['10.79.0.16', '10.79.0.17'])).toBe('failed to allocate all requested IPs: 10.79.0.17');
    // Nothing of the failed calls stays reserved.
    expect(t.files().filter((f) => parseIp(f))).toEqual(['10.79.0.12', '10.79.0.15', '10.79.0.19', 'fd79::2', 'fd79::99', 'fd79::9a']);
  });

  it('refuses the gateway as a requested address', () => {
    const t = setup({ subnet: '10.81.0.0/24' });
    expect(t.addError('g', 'eth0', ['10.81.0.1'])).toBe('failed to allocate for range 0: requested ip 10.81.0.1 is subnet\'s gateway');
    expect(t.files()).toEqual([]);
  });

  it('rolls back only what the failed call created, keeping an older reservation of the attachment', () => {
    const t = setup({ ranges: [[{ subnet: '10.5.0.0/29' }], [{ subnet: 'fd05::/120' }]] });
    writeFileSync(join(t.store.dir, 'fd05::7'), 'old\r\neth0');
    expect(t.addError('old')).toBe('failed to allocate for range 1: fd05::7 has been allocated to old, duplicate allocation is not allowed');
    expect(t.files().filter((f) => parseIp(f))).toEqual(['fd05::7']);
    // The advance of last_reserved_ip is kept, as the reference keeps it.
    expect(readFileSync(join(t.store.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.5.0.2');
  });
});

describe('host-local release (DEL)', () => {
  it('removes exactly the attachment\'s files and keeps last_reserved_ip', () => {
    const t = setup({ subnet: '10.76.0.0/24' });
    t.add('ctr-c');
    t.add('ctr-d');
    t.del('ctr-c');
    expect(t.files()).toEqual(['10.76.0.3', 'last_reserved_ip.0']);
    t.del('ctr-d', 'eth9');
    expect(t.files()).toContain('10.76.0.3');
  });

  it('honours legacy files (container ID only) like the reference', () => {
    const t = setup({ subnet: '10.76.0.0/24' });
    writeFileSync(join(t.store.dir, '10.76.0.7'), 'legacy-ctr\n');
    writeFileSync(join(t.store.dir, '10.76.0.9'), 'legacy-ctr\r\neth1');
    expect(t.addError('legacy-ctr')).toBe('failed to allocate for range 0: 10.76.0.7 has been allocated to legacy-ctr, duplicate allocation is not allowed');
    t.del('legacy-ctr');
    expect(t.files().filter((f) => parseIp(f))).toEqual(['10.76.0.9']);
  });

  it('with one set, keeps legacy files when the attachment had a current one; with two sets, removes them', () => {
    const one = setup({ subnet: '10.76.0.0/24' });
    writeFileSync(join(one.store.dir, '10.76.0.7'), 'c1');
    writeFileSync(join(one.store.dir, '10.76.0.8'), 'c1\r\neth0');
    one.del('c1');
    expect(one.files().filter((f) => parseIp(f))).toEqual(['10.76.0.7']);

    rmSync(join(dataDir, 'hlnet'), { recursive: true });
    const two = setup({ ranges: [[{ subnet: '10.76.0.0/24' }], [{ subnet: 'fd76::/64' }]] });
    writeFileSync(join(two.store.dir, '10.76.0.7'), 'c1');
    writeFileSync(join(two.store.dir, 'fd76::8'), 'c1\r\neth0');
    two.del('c1');
    expect(two.files().filter((f) => parseIp(f))).toEqual([]);
  });

  it('never touches files that are not named by an address', () => {
    const t = setup({ subnet: '10.76.0.0/24' });
    writeFileSync(join(t.store.dir, 'notes.txt'), 'ctr-x\r\neth0');
    t.add('ctr-x');
    t.del('ctr-x');
    expect(t.files()).toEqual(['last_reserved_ip.0', 'notes.txt']);
  });
});
