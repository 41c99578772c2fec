import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMultus, Workdir } from '../helpers/multus';

// The runtime starts a process per call: VERSION must load nothing beyond Node's own start but our entry file.
describe('what VERSION loads', () => {
  const work = new Workdir();
  afterAll(() => work.remove());

  it('neither the stream modules (process.stdout) nor node:vm (the CNI bundle\'s code cache)', () => {
    const out = join(work.dir, 'modules.json');
    const hook = join(work.dir, 'hook.js');
    writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));`);
    const r = runMultus({ command: 'VERSION', conf: '', env: { NODE_OPTIONS: `--require ${hook}` } });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.1.0' });
    const loaded = JSON.parse(readFileSync(out, 'utf8')) as string[];
    expect(loaded).toContain('NativeModule fs');
    expect(loaded.filter((m) => /^NativeModule (stream|vm|internal\/streams\/(readable|writable|duplex))$/.test(m))).toEqual([]);
  });
});
