import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

// `multus install` copies the helper built in the image (Debian 12, glibc 2.36) onto hosts whose own glibc it then
// loads with: RHEL 8, which telco users run, has glibc 2.28 (the oldest node 20's own binaries support).
describe('the native helper', () => {
  it('needs no glibc symbol newer than 2.28', () => {
    const symbols = execFileSync('objdump', ['-T', join(__dirname, '../../build/Release/netns.node')], { encoding: 'utf8' });
    const versions = [...symbols.matchAll(/\(GLIBC_2\.(\d+)(?:\.\d+)?\)\s+(\S+)/g)];
    expect(versions.length).toBeGreaterThan(0);
    expect(versions.filter(([, minor]) => Number(minor) > 28).map(([, minor, name]) => `${name}@GLIBC_2.${minor}`)).toEqual([]);
  });
});
