import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execPluginSync, ourPlugin } from '../helpers/plugin-exec';
import { runMultus, Workdir } from '../helpers/multus';

/** The modules a call loaded (process.moduleLoadList at exit), through a hook that NODE_OPTIONS requires first. */
function loadedModules(work: Workdir, run: (env: Record<string, string>) => { status: number; stdout: string; stderr: string }): string[] {
  const out = join(work.dir, 'modules.json');
  const hook = join(work.dir, 'hook.js');
  writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)));`);
  const r = run({ NODE_OPTIONS: `--require ${hook}` });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const loaded = JSON.parse(readFileSync(out, 'utf8')) as string[];
  expect(loaded).toContain('NativeModule fs');
  return loaded;
}

// The runtime starts a process per call: VERSION must load nothing beyond Node's own start but our entry file.
describe('what VERSION loads', () => {
  const work = new Workdir();
  afterAll(() => work.remove());

  it('neither the stream modules (process.stdout) nor node:vm (the CNI bundle\'s code cache)', () => {
    const loaded = loadedModules(work, (env) => runMultus({ command: 'VERSION', conf: '', env }));
    expect(loaded.filter((m) => /^NativeModule (stream|vm|internal\/streams\/(readable|writable|duplex))$/.test(m))).toEqual([]);
  });
});

// A built-in run on its own (host-local as a Go plugin's IPAM, through a link) starts no other plugin.
describe('what a built-in that runs no plugin loads', () => {
  const work = new Workdir();
  afterAll(() => work.remove());

  it('not node:child_process, which brings the stream, net and dgram modules', () => {
    const hostLocal = ourPlugin(work.binDir, 'host-local');
    const conf = { cniVersion: '1.0.0', name: 'startup-hl', type: 'host-local', ipam: { type: 'host-local', subnet: '10.251.0.0/24', dataDir: work.ipamDir } };
    const call = { conf, containerId: 'startup-hl', netns: work.fakeNetns };
    const loaded = loadedModules(work, (env) => execPluginSync(hostLocal, { ...call, command: 'ADD', env }));
    expect(execPluginSync(hostLocal, { ...call, command: 'DEL' }).status).toBe(0);
    expect(loaded.filter((m) => /^NativeModule (child_process|net|dgram|stream)$/.test(m))).toEqual([]);
  });
});
