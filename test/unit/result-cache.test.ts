import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNetworkConfig } from '../../src/delegation/network-config';
import { loadCachedResult, removeCachedResult, resultCachePath, writeCachedResult } from '../../src/delegation/result-cache';

// cni-contracts.md 2 (libcni's result cache, cniCacheV1); README "Caches".

let cacheDir: string;
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'result-cache-'));
});
afterEach(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

const net = parseNetworkConfig({ cniVersion: '1.0.0', name: 'rcnet', type: 'macvlan' }, 'test', '1.0.0');
const key = { networkName: 'rcnet', containerId: 'ctr-rc', ifName: 'net1' };
const entry = (address: string) => ({
  containerId: 'ctr-rc', ifName: 'net1', netns: '/var/run/netns/x', cniArgs: [['IgnoreUnknown', 'true']] as Array<[string, string]>,
  capabilityArgs: {}, result: { cniVersion: '1.0.0', ips: [{ address }] },
});

describe('result cache', () => {
  it('writes libcni\'s cniCacheV1 record, 0600 in a 0700 results directory, and leaves nothing else', () => {
    writeCachedResult(cacheDir, net, entry('10.9.0.2/24'));
    const path = resultCachePath(cacheDir, key);
    expect(path).toBe(join(cacheDir, 'results', 'rcnet-ctr-rc-net1'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      kind: 'cniCacheV1', containerId: 'ctr-rc', config: net.bytes.toString('base64'), ifName: 'net1', networkName: 'rcnet',
      netns: '/var/run/netns/x', cniArgs: [['IgnoreUnknown', 'true']], capabilityArgs: {}, result: { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] },
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(cacheDir, 'results')).mode & 0o777).toBe(0o700);
    expect(readdirSync(join(cacheDir, 'results'))).toEqual(['rcnet-ctr-rc-net1']);
    expect(loadCachedResult(cacheDir, key)).toEqual({ present: true, result: { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] } });
  });

  it('replaces a result already there (a repeated ADD, the default-route rewrite)', () => {
    writeCachedResult(cacheDir, net, entry('10.9.0.2/24'));
    writeCachedResult(cacheDir, net, entry('10.9.0.3/24'));
    expect(loadCachedResult(cacheDir, key).result).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.3/24' }] });
    expect(readdirSync(join(cacheDir, 'results'))).toEqual(['rcnet-ctr-rc-net1']);
  });

  it('never writes through a symlink planted at the name: the link is replaced, its target untouched', () => {
    mkdirSync(join(cacheDir, 'results'));
    const target = join(cacheDir, 'target');
    writeFileSync(target, 'precious');
    symlinkSync(target, resultCachePath(cacheDir, key));
    writeCachedResult(cacheDir, net, entry('10.9.0.2/24'));
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(lstatSync(resultCachePath(cacheDir, key)).isFile()).toBe(true);
    expect(loadCachedResult(cacheDir, key).result).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] });
  });

  it('tells a missing cache from one that cannot be used, and reads a legacy bare result', () => {
    expect(loadCachedResult(cacheDir, key)).toEqual({ present: false });
    mkdirSync(join(cacheDir, 'results'));
    writeFileSync(resultCachePath(cacheDir, key), '{"kind":"cniCacheV1","result":');
    expect(loadCachedResult(cacheDir, key)).toEqual({ present: true });
    writeFileSync(resultCachePath(cacheDir, key), '{"cniVersion":"0.3.1","ips":[]}');
    expect(loadCachedResult(cacheDir, key)).toEqual({ present: true, result: { cniVersion: '0.3.1', ips: [] } });
    removeCachedResult(cacheDir, key);
    removeCachedResult(cacheDir, key);
    expect(loadCachedResult(cacheDir, key)).toEqual({ present: false });
  });
});
