import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execPluginSync, ourPlugin, ROOT } from '../helpers/plugin-exec';
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

// multus starts its delegates through the native helper (native/process.c): node:child_process would load Node's
// stream, net and dgram modules and make a stream per pipe, about 13 ms per plugin started.
describe('what a multus call that starts a plugin loads', () => {
  const work = new Workdir();
  afterAll(() => work.remove());

  it('not node:child_process, nor the stream, net and dgram modules', () => {
    const marker = join(work.dir, 'started');
    writeFileSync(join(work.binDir, 'answer'), `#!/bin/sh\necho "$CNI_COMMAND" >> ${marker}\necho '{"cniVersion":"1.0.0"}'\n`, { mode: 0o755 });
    const conf = { cniVersion: '1.0.0', name: 'startup-spawn', type: 'multus', cniDir: work.cniDir, binDir: work.binDir,
      delegates: [{ cniVersion: '1.0.0', name: 'startup-answer', type: 'answer' }] };
    const call = { conf, containerId: 'startup-spawn', netns: work.fakeNetns, path: work.binDir };
    const loaded = loadedModules(work, (env) => runMultus({ ...call, command: 'ADD', env }));
    expect(runMultus({ ...call, command: 'DEL' }).status).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('ADD\nDEL\n');
    expect(loaded.filter((m) => /^NativeModule (child_process|net|dgram|stream)$/.test(m))).toEqual([]);
  });
});

// A process started as another built-in than multus loads a smaller bundle (src/builtin-bundles.ts): the registry
// without the code of what it cannot be. What it does not hold it runs as a binary, as it would any other plugin.
describe('the bundles of the built-ins other than multus', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const bundleDir = join(ROOT, 'dist/bundle');
  // The bundles are minified: the source files that went into one are those its source map names.
  const modules = (bundle: string) => (JSON.parse(readFileSync(join(bundleDir, `${bundle}.map`), 'utf8')) as { sources: string[] })
    .sources.map((s) => `// ${s.replace(/^(\.\.\/)+/, '')}`);

  it('hold no code of what they cannot be: plugins.js no multus, host-local.js no link plugin either', () => {
    expect(modules('plugins.js')).toContain('// src/plugins/macvlan/plugin.ts');
    expect(modules('plugins.js').filter((m) => /src\/(multus|k8s|kubelet|grpc)\//.test(m))).toEqual([]);
    expect(modules('host-local.js')).toContain('// src/plugins/host-local/plugin.ts');
    expect(modules('host-local.js').filter((m) => /src\/(multus|k8s|kubelet|grpc|plugins\/(link|macvlan|ipvlan|passthru))\/|rtnl/.test(m))).toEqual([]);
  });

  it('host-local loads its own, with a code cache of its own', () => {
    const hostLocal = ourPlugin(work.binDir, 'host-local');
    const conf = { cniVersion: '1.0.0', name: 'startup-bundle', type: 'host-local', ipam: { type: 'host-local', subnet: '10.252.0.0/24', dataDir: work.ipamDir } };
    const call = { conf, containerId: 'startup-bundle', netns: work.fakeNetns };
    expect(execPluginSync(hostLocal, { ...call, command: 'ADD' }).status).toBe(0);
    expect(execPluginSync(hostLocal, { ...call, command: 'DEL' }).status).toBe(0);
    const caches = readdirSync(bundleDir).filter((f) => f.endsWith('.v8cache'));
    expect(caches.filter((f) => /^host-local\.js\..*\.host-local:ADD\.v8cache$/.test(f))).toHaveLength(1);
    expect(caches.filter((f) => f.includes('host-local:'))).toEqual(caches.filter((f) => /^host-local\.js\..*host-local:/.test(f)));
  });

  it('macvlan starts this executable under the name multus rather than running multus in-process', () => {
    // A macvlan forwards STATUS to its IPAM; an IPAM that is multus answers with its own configuration error.
    const macvlan = ourPlugin(work.binDir, 'macvlan');
    ourPlugin(work.binDir, 'multus');
    const conf = { cniVersion: '1.1.0', name: 'startup-mv', type: 'macvlan', master: 'lo', ipam: { type: 'multus' } };
    const r = execPluginSync(macvlan, { command: 'STATUS', conf, path: work.binDir });
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^Multus: error loading netconf: /) });
  });
});

// The CNI bundle comes in parts (scripts/bundle.mjs): builtins.js, all a multus call needs up to starting its
// primary's plugin, builtins-plugins.js, the built-in plugins and rtnetlink, loaded with a code cache of its own only
// when a built-in runs (or is prepared while the primary runs), and builtins-kube.js, only with Kubernetes.
describe('the CNI bundle\'s parts', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const bundleDir = join(ROOT, 'dist/bundle');
  const sources = (bundle: string) => (JSON.parse(readFileSync(join(bundleDir, `${bundle}.map`), 'utf8')) as { sources: string[] })
    .sources.map((s) => s.replace(/^(\.\.\/)+/, ''));

  it('hold each module once: the plugins and rtnetlink in builtins-plugins.js, the Kubernetes client in builtins-kube.js', () => {
    const core = sources('builtins.js').filter((m) => m.startsWith('src/'));
    const plugins = sources('builtins-plugins.js').filter((m) => m.startsWith('src/'));
    const kube = sources('builtins-kube.js').filter((m) => m.startsWith('src/'));
    expect(core).toContain('src/multus/add.ts');
    expect(core.filter((m) => /^src\/(plugins|netlink)\/|^src\/k8s\/(client|api|http1|kubeconfig)/.test(m))).toEqual(['src/netlink/native.ts']);
    expect(plugins).toContain('src/plugins/macvlan/plugin.ts');
    expect(plugins).toContain('src/netlink/rtnl.ts');
    expect(kube).toContain('src/k8s/client.ts');
    expect(kube).toContain('src/k8s/api.ts');
    expect([...plugins, ...kube].filter((m) => core.includes(m))).toEqual([]);
    expect(plugins.filter((m) => kube.includes(m) && !m.endsWith('-entry.ts'))).toEqual([]);
    // What they share, the parts take from builtins.js.
    expect(sources('builtins-plugins.js')).toContain('shared:src/cni/errors.ts');
    expect(sources('builtins-kube.js')).toContain('shared:src/cni/errors.ts');
  });

  it('a multus call loads builtins-plugins.js, with a code cache of its kind, only when it runs a built-in; without Kubernetes, never builtins-kube.js', () => {
    writeFileSync(join(work.binDir, 'answer'), '#!/bin/sh\necho \'{"cniVersion":"1.0.0"}\'\n', { mode: 0o755 });
    const answer = { cniVersion: '1.0.0', name: 'startup-split-answer', type: 'answer' };
    const hostLocal = { cniVersion: '1.0.0', name: 'startup-split-hl', type: 'host-local', ipam: { type: 'host-local', subnet: '10.253.0.0/24', dataDir: work.ipamDir } };
    const calls: Array<[string, unknown[]]> = [['startup-split-none', [answer]], ['startup-split-both', [answer, hostLocal]]];
    for (const [name, delegates] of calls) {
      // Linked under a name of its own (any name that is not a built-in's is multus): its caches carry that name.
      const multus = ourPlugin(work.binDir, name);
      const conf = { cniVersion: '1.0.0', name, type: 'multus', cniDir: work.cniDir, binDir: work.binDir, builtinPlugins: ['host-local'], delegates };
      const call = { conf, containerId: name, netns: work.fakeNetns, path: work.binDir };
      const add = execPluginSync(multus, { ...call, command: 'ADD' });
      expect(add.status, add.stdout + add.stderr).toBe(0);
      expect(execPluginSync(multus, { ...call, command: 'DEL' }).status).toBe(0);
    }
    const caches = readdirSync(bundleDir).filter((f) => f.includes('.startup-split-')).map((f) => f.replace(/\.\d+-\d+\./, '.')).sort();
    // A DEL runs its built-ins at once: it loads one bundle that holds everything (src/builtin-bundles.ts).
    expect(caches).toEqual([
      'builtins-plugins.js.startup-split-both:ADD.v8cache',
      'builtins-whole.js.startup-split-both:DEL.v8cache', 'builtins-whole.js.startup-split-none:DEL.v8cache',
      'builtins.js.startup-split-both:ADD.v8cache', 'builtins.js.startup-split-none:ADD.v8cache',
    ]);
  });
});

// Every TLS context makes node parse the 144 root certificates it ships (25–45 ms of CPU), even one given its own
// certificate-authority, unless node runs with --use-openssl-ca: a Kubernetes call pays it once per process.
describe('how bin/multus starts node', () => {
  const work = new Workdir();
  afterAll(() => work.remove());

  it('with --use-openssl-ca', () => {
    const out = join(work.dir, 'exec-argv.json');
    const hook = join(work.dir, 'argv-hook.js');
    writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.execArgv)));`);
    const r = runMultus({ command: 'VERSION', conf: '', env: { NODE_OPTIONS: `--require ${hook}` } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(['--use-openssl-ca']);
  });
});
