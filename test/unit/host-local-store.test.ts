import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIp } from '../../src/plugins/host-local/address';
import { parseResolvConf } from '../../src/plugins/host-local/dns';
import { holdsAddress, releaseAllExcept } from '../../src/plugins/host-local/release';
import { networkDir, NetworkStore, ownerKey } from '../../src/plugins/host-local/store';
import { caught, rejected } from '../helpers/caught';
import { lockStore } from '../../src/plugins/host-local/lock';

// cni-contracts.md 4.4 (the store), 4.5 (CHECK, GC), 4.6 (resolvConf).

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'hl-store-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;
const umasked = (m: number) => m & ~process.umask();

describe('host-local store', () => {
  it('writes the reference format: owner without newline, last_reserved_ip as bare text, 0600, dir 0755', () => {
    const store = NetworkStore.open(join(dataDir, 'nested'), 'hlnet');
    expect(store.reserve(parseIp('10.77.0.2')!, ownerKey(' ctr-a ', 'eth0'), 0)).toBe(true);
    expect(store.reserve(parseIp('10.77.0.2')!, ownerKey('ctr-b', 'eth0'), 0)).toBe(false);
    expect(readFileSync(join(store.dir, '10.77.0.2'))).toEqual(Buffer.from('ctr-a\r\neth0'));
    expect(readFileSync(join(store.dir, 'last_reserved_ip.0'))).toEqual(Buffer.from('10.77.0.2'));
    expect(mode(join(store.dir, '10.77.0.2'))).toBe(umasked(0o600));
    expect(mode(join(store.dir, 'last_reserved_ip.0'))).toBe(umasked(0o600));
    expect(mode(store.dir)).toBe(umasked(0o755));
    expect(mode(join(dataDir, 'nested'))).toBe(umasked(0o755));
    expect(store.lastReserved(0)).toEqual(parseIp('10.77.0.2'));
    expect(store.lastReserved(1)).toBeUndefined();
    store.close();
  });

  it('rewrites last_reserved_ip through the descriptor it was read with, and close() closes one left unused', () => {
    const fds = () => readdirSync('/proc/self/fd').length;
    const store = NetworkStore.open(dataDir, 'hlnet');
    const path = join(store.dir, 'last_reserved_ip.0');
    writeFileSync(path, '10.77.0.254');
    const before = fds();
    expect(store.lastReserved(0)).toEqual(parseIp('10.77.0.254'));
    expect(fds()).toBe(before + 1);
    // Replaced meanwhile (it cannot be under the lock): the write goes to the file that was read, so it shows.
    rmSync(path);
    writeFileSync(path, 'x');
    expect(store.reserve(parseIp('10.77.0.3')!, ownerKey('ctr-a', 'eth0'), 0)).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('x');
    expect(fds()).toBe(before);
    expect(store.lastReserved(0)).toBeUndefined();
    expect(fds()).toBe(before + 1);
    store.close();
    expect(fds()).toBe(before);
    // Not a regular file, or no address (too long to be one): no address, and nothing kept open.
    rmSync(path);
    mkdirSync(path);
    expect(store.lastReserved(0)).toBeUndefined();
    rmSync(path, { recursive: true });
    writeFileSync(path, `10.77.0.5${' '.repeat(80)}`);
    expect(store.lastReserved(0)).toBeUndefined();
    store.close();
    expect(fds()).toBe(before);
  });

  it('rewrites last_reserved_ip to exactly the new address, shorter or longer than the old one', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    writeFileSync(join(store.dir, 'last_reserved_ip.0'), '10.77.0.254');
    expect(store.reserve(parseIp('10.77.0.3')!, ownerKey('ctr-a', 'eth0'), 0)).toBe(true);
    expect(readFileSync(join(store.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.77.0.3');
    expect(store.reserve(parseIp('10.77.0.100')!, ownerKey('ctr-b', 'eth0'), 0)).toBe(true);
    expect(readFileSync(join(store.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.77.0.100');
    // As an allocation does it: read under the lock, then a shorter address written.
    const next = NetworkStore.open(dataDir, 'hlnet');
    writeFileSync(join(store.dir, 'last_reserved_ip.0'), '10.77.0.254');
    expect(next.lastReserved(0)).toEqual(parseIp('10.77.0.254'));
    expect(next.reserve(parseIp('10.77.0.4')!, ownerKey('ctr-c', 'eth0'), 0)).toBe(true);
    expect(readFileSync(join(store.dir, 'last_reserved_ip.0'), 'utf8')).toBe('10.77.0.4');
  });

  it('reads reservations from address-named regular files only, in name order', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    writeFileSync(join(store.dir, 'fd00::2'), 'b\r\neth0');
    writeFileSync(join(store.dir, '10.0.0.9'), ' a\r\neth0\n');
    writeFileSync(join(store.dir, 'notes.txt'), 'a\r\neth0');
    writeFileSync(join(store.dir, 'last_reserved_ip.0'), '10.0.0.9');
    mkdirSync(join(store.dir, '10.0.0.10'));
    symlinkSync(join(store.dir, '10.0.0.9'), join(store.dir, '10.0.0.11'));
    expect(store.reservations().map((r) => [r.name, r.owner])).toEqual([['10.0.0.9', 'a\r\neth0'], ['fd00::2', 'b\r\neth0']]);
  });

  it('reads a reservation of any length up to the bound, and one that is not a regular file or too long as none', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    const long = `${'c'.repeat(8000)}\r\neth0`;
    writeFileSync(join(store.dir, '10.0.0.2'), long);
    writeFileSync(join(store.dir, '10.0.0.3'), '');
    execFileSync('mkfifo', [join(store.dir, '10.0.0.4')]);
    expect(store.reservations().map((r) => [r.name, r.owner])).toEqual([['10.0.0.2', long], ['10.0.0.3', '']]);
  });

  it('fails with Go\'s texts when the store cannot be used', async () => {
    const store = NetworkStore.at(dataDir, 'hlnet');
    // Its directory is a file: listing it, locking it.
    writeFileSync(store.dir, '');
    expect(() => store.reservations()).toThrow(new Error(`open ${store.dir}: not a directory`));
    rmSync(store.dir);
    store.create();
    // The lock is a directory, then a FIFO (never opened for reading and waited on).
    mkdirSync(join(store.dir, 'lock'));
    expect((await rejected(lockStore(store.dir), Error)).message).toBe(`open ${join(store.dir, 'lock')}: illegal operation on a directory`);
    rmSync(join(store.dir, 'lock'), { recursive: true });
    execFileSync('mkfifo', [join(store.dir, 'lock')]);
    expect((await rejected(lockStore(store.dir), Error)).message).toBe(`open ${join(store.dir, 'lock')}: not a regular file`);
    // A reservation that is a directory cannot be released.
    mkdirSync(join(store.dir, '10.0.0.5'));
    expect(() => store.remove('10.0.0.5')).toThrow(new Error(`remove ${join(store.dir, '10.0.0.5')}: illegal operation on a directory`));
    store.remove('10.0.0.6');
    // last_reserved_ip.0 that cannot be opened for writing: the reservation is made, the error names the file.
    mkdirSync(join(store.dir, 'last_reserved_ip.0'));
    expect(() => store.reserve(parseIp('10.0.0.7')!, ownerKey('ctr-a', 'eth0'), 0)).toThrow(new Error(`open ${join(store.dir, 'last_reserved_ip.0')}: illegal operation on a directory`));
    expect(readFileSync(join(store.dir, '10.0.0.7'), 'utf8')).toBe('ctr-a\r\neth0');
    // A path with a NUL in it is refused as the system refuses it to Go, never cut short at the NUL.
    const cut = NetworkStore.at(`${dataDir}\0x`, 'hlnet');
    expect(() => cut.reservations()).toThrow(new Error(`open ${cut.dir}: invalid argument`));
    expect((await rejected(lockStore(cut.dir), Error)).message).toBe(`open ${join(cut.dir, 'lock')}: invalid argument`);
  });

  it('lists a store larger than one read of its directory', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    const names = Array.from({ length: 700 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    for (const name of names) writeFileSync(join(store.dir, name), `ctr-${name}\r\neth0`);
    const found = store.reservations();
    expect(found.map((r) => r.name)).toEqual([...names].sort());
    expect(found.every((r) => r.owner === `ctr-${r.name}\r\neth0`)).toBe(true);
  });

  it('keeps every network inside dataDir', () => {
    for (const bad of ['..', '.', '', 'a/b', '../x', '.hidden', '-x']) {
      expect(caught(() => networkDir(dataDir, bad)).message, bad).toBe('invalid characters found in network name');
    }
    expect(networkDir(dataDir, 'a..b')).toBe(join(dataDir, 'a..b'));
    expect(networkDir(`${dataDir}/x/..`, 'net')).toBe(join(dataDir, 'net'));
  });

  it('finds an attachment for CHECK by its owner key, or a legacy file by container', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    writeFileSync(join(store.dir, '10.0.0.2'), 'ctr-a\r\neth0');
    writeFileSync(join(store.dir, '10.0.0.7'), 'legacy-ctr\n');
    expect(holdsAddress(store, 'ctr-a', 'eth0')).toBe(true);
    expect(holdsAddress(store, 'ctr-a', 'eth1')).toBe(false);
    expect(holdsAddress(store, 'legacy-ctr', 'eth5')).toBe(true);
    expect(holdsAddress(store, 'ctr-nope', 'eth0')).toBe(false);
  });

  it('GC releases what no valid attachment owns, and keeps legacy files of valid containers', () => {
    const store = NetworkStore.open(dataDir, 'hlnet');
    const files: Record<string, string> = {
      '10.0.0.2': 'keep\r\neth0', '10.0.0.3': 'keep\r\neth1', '10.0.0.4': 'gone\r\neth0', '10.0.0.5': 'keep',
      '10.0.0.6': 'gone', '10.0.0.7': '', 'last_reserved_ip.0': '10.0.0.7', 'notes': 'gone\r\neth0',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(store.dir, name), content);
    releaseAllExcept(store, [{ containerId: 'keep', ifName: 'eth0' }]);
    expect(readdirSync(store.dir).sort()).toEqual(['10.0.0.2', '10.0.0.5', 'last_reserved_ip.0', 'notes']);
    releaseAllExcept(store, []);
    expect(readdirSync(store.dir).sort()).toEqual(['last_reserved_ip.0', 'notes']);
  });
});

describe('host-local resolvConf', () => {
  it('reads nameservers, domain, search and options as the reference does', () => {
    const path = join(dataDir, 'resolv.conf');
    writeFileSync(path, [
      '# comment', '; also a comment', '', 'nameserver 10.0.0.53', '  nameserver\t10.0.0.54  # trailing', 'domain example.com',
      'search a b', 'search c', 'options x y', 'nameserver', 'unknown key', 'domain last.example\r',
    ].join('\n'));
    expect(parseResolvConf(path)).toEqual({
      nameservers: ['10.0.0.53', '10.0.0.54'], domain: 'last.example', search: ['a', 'b', 'c'], options: ['x', 'y'],
    });
    writeFileSync(path, '');
    expect(parseResolvConf(path)).toEqual({});
  });

  it('fails with Go\'s text for a missing file', () => {
    expect(() => parseResolvConf(join(dataDir, 'nope'))).toThrow(`open ${join(dataDir, 'nope')}: no such file or directory`);
  });
});
