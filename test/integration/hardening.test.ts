import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { execPluginSync, ourPlugin } from '../helpers/plugin-exec';
import { runMultus, runMultusAsync, uniqueId, Workdir, type RunOutcome } from '../helpers/multus';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { MAX_NETWORKS_PER_POD, MAX_REQUESTS_IN_FLIGHT } from '../../src/multus/pod-networks';

// Issue 12: inputs that once ran a program from elsewhere, reached the API with a forged path, or wedged a pod.
describe('hardening: what a configuration or CNI_ARGS may name', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  // A program just outside binDir: reaching it would prove a path escaped the plugin directories.
  const evilDir = join(work.dir, 'evil');
  const marker = join(work.dir, 'evil-ran');
  mkdirSync(evilDir);
  writeFileSync(join(evilDir, 'x'), `#!/bin/sh\ntouch ${marker}\necho '{"cniVersion":"1.0.0","ips":[{"address":"10.9.9.9/24"}]}'\n`);
  chmodSync(join(evilDir, 'x'), 0o755);
  const macvlan = ourPlugin(work.binDir, 'macvlan');

  const good = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir,
    delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy' }] };
  const add = (conf: unknown, args = ''): RunOutcome =>
    runMultus({ command: 'ADD', conf, containerId: 'hard1', netns: work.fakeNetns, args, path: work.binDir });
  const refused = (r: RunOutcome, code: number, text: string): void => {
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ code });
    expect(String(r.json?.msg)).toContain(text);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(work.cniDir) ? readdirSync(work.cniDir).filter((f) => f !== 'results') : []).toEqual([]);
  };

  it.each(['../evil/x', '/bin/sh', '..', 'a/b'])('refuses ipam.type %j in a delegate with code 2 before anything runs', (type) => {
    const conf = { ...good, delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'macvlan', master: 'lo', ipam: { type } }] };
    refused(add(conf), 2, '"ipam.type"');
    // Inside a conflist too, and under another spelling of the key.
    const list = { ...good, delegates: [{ cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'spy' }, { type: 'spy', IPAM: { Type: type } }] }] };
    refused(add(list), 2, '"ipam.type"');
  });

  it('refuses ipam.type "../evil/x" in the built-in macvlan itself (a NAD reaching it some other way)', () => {
    const r = execPluginSync(macvlan, { command: 'ADD', containerId: 'hard2', netns: work.fakeNetns, path: work.binDir,
      conf: { cniVersion: '1.0.0', name: 'n', type: 'macvlan', master: 'lo', ipam: { type: '../evil/x' } } });
    refused(r, 2, '"ipam.type": "../evil/x" is not a plain plugin name');
    // DEL of the same refuses too rather than running it.
    const d = execPluginSync(macvlan, { command: 'DEL', containerId: 'hard2', netns: work.fakeNetns, path: work.binDir,
      conf: { cniVersion: '1.0.0', name: 'n', type: 'macvlan', master: 'lo', ipam: { type: '../evil/x' } } });
    refused(d, 2, 'ipam.type');
  });

  it.each([
    ['K8S_POD_NAMESPACE=x/../rel;K8S_POD_NAME=p', 'K8S_POD_NAMESPACE "x/../rel" is not a Kubernetes namespace name'],
    ['K8S_POD_NAMESPACE=rel%2Fpods%2Fx;K8S_POD_NAME=p', 'K8S_POD_NAMESPACE "rel%2Fpods%2Fx"'],
    ['K8S_POD_NAMESPACE=;K8S_POD_NAME=p', 'K8S_POD_NAMESPACE "" is empty while K8S_POD_NAME is set'],
    ['K8S_POD_NAME=p', 'K8S_POD_NAMESPACE "" is empty while K8S_POD_NAME is set'],
    ['K8S_POD_NAMESPACE=ns;K8S_POD_NAME=../p', 'K8S_POD_NAME "../p" is not a Kubernetes pod name'],
    ['K8S_POD_NAMESPACE=Default;K8S_POD_NAME=p', 'K8S_POD_NAMESPACE "Default"'],
  ])('refuses CNI_ARGS %s with code 4 naming the variable', (args, text) => {
    refused(add(good, `IgnoreUnknown=1;${args}`), 4, text);
    const d = runMultus({ command: 'DEL', conf: good, containerId: 'hard1', netns: work.fakeNetns, args: `IgnoreUnknown=1;${args}`, path: work.binDir });
    refused(d, 4, text);
    expect(work.spyCalls()).toEqual([]);
  });

  it.each([['type', 5], ['type', { a: 1 }], ['binDir', []], ['kubeconfig', 1], ['clusterNetwork', true], ['logFile', {}]])(
    'refuses a non-string %s with code 7 naming the key', (key, value) => {
      refused(add({ ...good, [key]: value }), 7, `"${key}" must be a string`);
    });
});

describe('hardening: calls that must return', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const pidFile = join(work.dir, 'bg.pid');
  // A delegate whose ADD leaves a child holding stdout open, then never answers.
  writeFileSync(join(work.binDir, 'hang'), `#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] || exit 0\nsleep 300 &\necho $! > ${pidFile}\nwait\n`);
  chmodSync(join(work.binDir, 'hang'), 0o755);
  // Dead means gone or a zombie awaiting its reaper; SIGKILL takes effect when the process is next scheduled.
  const dead = (pid: number): boolean => {
    const until = Date.now() + 5000;
    do {
      try {
        if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return true;
      } catch {
        return true;
      }
      execFileSync('sleep', ['0.1']);
    } while (Date.now() < until);
    return false;
  };

  it('a delegate whose child keeps stdout open is killed with its whole process group at the timeout, and ADD rolls back with code 11', () => {
    const spy = { log: work.spyLog };
    const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, delegateTimeoutSeconds: 1,
      delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy', spy }, { cniVersion: '1.0.0', name: 'b', type: 'hang' }] };
    const r = runMultus({ command: 'ADD', conf, containerId: 'hang1', netns: work.fakeNetns, path: work.binDir });
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ code: 11 });
    expect(String(r.json?.msg)).toContain('did not answer within 1s');
    expect(dead(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
    expect(work.spyCalls().map((c) => c.command)).toEqual(['ADD', 'DEL']);
    expect(readdirSync(work.cniDir).filter((f) => f !== 'results')).toEqual([]);
  });
});

describe('hardening: state files that are not what they should be', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir,
    delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy', spy: { log: work.spyLog } }] };
  let n = 0;
  const call = (command: string, containerId: string, c: unknown = conf): RunOutcome =>
    runMultus({ command, conf: c, containerId, netns: work.fakeNetns, path: work.binDir });
  /** What is left in cniDir apart from the 'already deleted' marks. */
  const left = (): string[] => [
    ...readdirSync(work.cniDir).filter((f) => f !== 'results' && f !== '.deleted'),
    ...(existsSync(join(work.cniDir, 'results')) ? readdirSync(join(work.cniDir, 'results')) : []),
  ];
  const attached = (): string => {
    const id = `st${++n}`;
    expect(call('ADD', id).status).toBe(0);
    return id;
  };

  it.each([
    ['a directory', (p: string) => { rmSync(p); mkdirSync(p); writeFileSync(join(p, 'x'), 'y'); }],
    ['a FIFO', (p: string) => { rmSync(p); execFileSync('mkfifo', [p]); }],
    ['a symlink to /dev/zero', (p: string) => { rmSync(p); symlinkSync('/dev/zero', p); }],
    ['JSON nested 100000 deep', (p: string) => writeFileSync(p, `${'['.repeat(100000)}${']'.repeat(100000)}`)],
  ])('DEL makes progress when the delegate cache is %s: it DELs the configured networks, removes it and succeeds', (_what, spoil) => {
    const id = attached();
    spoil(join(work.cniDir, id));
    const r = call('DEL', id);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(left()).toEqual([]);
    expect(work.spyCalls().at(-1)?.command).toBe('DEL');
  });

  it.each([
    ['a directory', (p: string) => { rmSync(p); mkdirSync(p); }],
    ['a FIFO', (p: string) => { rmSync(p); execFileSync('mkfifo', [p]); }],
    ['a symlink to /dev/zero', (p: string) => { rmSync(p); symlinkSync('/dev/zero', p); }],
  ])('DEL makes progress when the cached result is %s', (_what, spoil) => {
    const id = attached();
    const results = join(work.cniDir, 'results');
    spoil(join(results, readdirSync(results).find((f) => f.includes(id))!));
    const r = call('DEL', id);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(left()).toEqual([]);
  });

  it.each([
    ['the lock file is a directory', (id: string) => mkdirSync(join(work.cniDir, `.lock.${id}`))],
    ['the lock file is a FIFO', (id: string) => execFileSync('mkfifo', [join(work.cniDir, `.lock.${id}`)])],
    ['the lock file is a symlink to /dev/zero', (id: string) => symlinkSync('/dev/zero', join(work.cniDir, `.lock.${id}`))],
  ])('ADD and DEL make progress when %s', (_what, spoil) => {
    const id = `lk${++n}`;
    mkdirSync(work.cniDir, { recursive: true });
    spoil(id);
    expect(call('ADD', id).status).toBe(0);
    const r = call('DEL', id);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    expect(left()).toEqual([]);
  });

  it.each(['/proc/multus-ts-test/cni', '/proc/self/fd/x', '/dev/null/x'])('cniDir %s that cannot be made fails ADD with code 7 naming the key', (cniDir) => {
    const r = call('ADD', 'proc1', { ...conf, cniDir });
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ code: 7 });
    expect(String(r.json?.msg)).toContain(`"cniDir" ${cniDir}`);
  });

  it('a configuration nested thousands of levels deep is a decoding error (code 6) with the position, not a crash', () => {
    const deep = `{"cniVersion":"1.0.0","name":"m","type":"multus","delegates":[${'['.repeat(700000)}${']'.repeat(700000)}]}`;
    const r = call('ADD', 'deep1', deep);
    expect(r.status).toBe(1);
    expect(r.json).toMatchObject({ code: 6 });
    expect(String(r.json?.msg)).toMatch(/nested deeper than \d+ levels at line 1, column \d+/);
    // The same nesting inside a string is no nesting at all.
    const inString = { ...conf, delegates: [{ ...conf.delegates[0], note: '['.repeat(100000) }] };
    expect(call('ADD', 'deep2', inString).status).toBe(0);
    expect(call('DEL', 'deep2', inString).status).toBe(0);
  });
});

describe('hardening: fan-out from a pod annotation', () => {
  const work = new Workdir();
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    await api.close();
    work.remove();
  });
  const add = (annotation: string): Promise<RunOutcome> => {
    const ns = `h-${uniqueId()}`;
    api.addPod({ namespace: ns, name: 'p', annotations: { 'k8s.v1.cni.cncf.io/networks': annotation } });
    const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, kubeconfig: api.writeKubeconfig(work.dir),
      delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy', spy: { log: work.spyLog } }] };
    api.resetLog();
    return runMultusAsync({ command: 'ADD', conf, containerId: `fan${uniqueId()}`, netns: work.fakeNetns, path: work.binDir,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=p` });
  };

  it('refuses more networks than a pod may have (code 7) before fetching any of them', async () => {
    const r = await add(Array.from({ length: 5000 }, (_, i) => `n${i}`).join(','));
    expect(r.json).toMatchObject({ code: 7 });
    expect(String(r.json?.msg)).toContain(`5001 networks; a pod may have at most ${MAX_NETWORKS_PER_POD}`);
    expect(api.count({ path: /network-attachment-definitions/ })).toBe(0);
    expect(work.spyCalls()).toEqual([]);
  });

  it('fetches a few NADs at a time and stops at the first that does not exist', async () => {
    const r = await add(Array.from({ length: 100 }, (_, i) => `missing${i}`).join(','));
    expect(r.status).toBe(1);
    expect(String(r.json?.msg)).toMatch(/network "h-[^/]+\/missing\d+"/);
    expect(api.count({ path: /network-attachment-definitions/ })).toBeLessThanOrEqual(MAX_REQUESTS_IN_FLIGHT);
    expect(work.spyCalls()).toEqual([]);
  });
});

describe('hardening: a host-local store locked by a live process', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  ourPlugin(work.binDir, 'host-local');

  it('ADD waits no longer than the delegate timeout, fails with code 11 and names the holder', async () => {
    const store = join(work.ipamDir, 'hl');
    mkdirSync(store, { recursive: true });
    const holder = spawn('flock', [join(store, 'lock'), '-c', 'echo held; exec sleep 300'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, delegateTimeoutSeconds: 1,
        delegates: [{ cniVersion: '1.0.0', name: 'hl', type: 'host-local', ipam: { type: 'host-local', subnet: '10.77.0.0/24', dataDir: work.ipamDir } }] };
      const r = await runMultusAsync({ command: 'ADD', conf, containerId: 'locked1', netns: work.fakeNetns, path: work.binDir });
      expect(r.json).toMatchObject({ code: 11 });
      expect(String(r.json?.details)).toContain(`pid ${holder.pid} (flock ${join(store, 'lock')} -c`);
      expect(readdirSync(store).filter((f) => /^\d/.test(f))).toEqual([]);
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
  });
});

describe('hardening: overlapping calls for one container', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const spy = { log: work.spyLog, sleep: 30 };
  const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, delegateTimeoutSeconds: 30,
    delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy', spy }, { cniVersion: '1.0.0', name: 'b', type: 'spy', spy }] };
  const call = (command: string, containerId: string, c: unknown = conf): Promise<RunOutcome> =>
    runMultusAsync({ command, conf: c, containerId, netns: work.fakeNetns, path: work.binDir });

  it('queue instead of interleaving: every call\'s delegates run together, and nothing is left after the last DELs', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `storm${i}`);
    const outcomes = await Promise.all(ids.flatMap((id) => ['ADD', 'DEL', 'ADD', 'DEL'].map((cmd) => call(cmd, id))));
    for (const o of outcomes) expect(o.stderr).toBe('');
    for (const id of ids) expect((await call('DEL', id)).status).toBe(0);
    for (const id of ids) {
      // One container's delegate calls, in order: each multus call is an unbroken ADD a, ADD b or DEL b, DEL a.
      const seq = work.spyCalls().filter((c) => c.env.CNI_CONTAINERID === id).map((c) => `${c.command} ${c.stdin.name as string}`);
      for (let i = 0; i < seq.length; i += 2) expect([['ADD a', 'ADD b'], ['DEL b', 'DEL a']]).toContainEqual(seq.slice(i, i + 2));
    }
    expect(readdirSync(work.cniDir).filter((f) => f !== '.deleted' && f !== 'results')).toEqual([]);
    expect(readdirSync(join(work.cniDir, 'results'))).toEqual([]);
  });

  it('a call that cannot get the container in time fails with code 11 and names the holder', async () => {
    const lockFile = join(work.cniDir, '.lock.held1');
    mkdirSync(work.cniDir, { recursive: true });
    const holder = spawn('flock', [lockFile, '-c', 'echo held; exec sleep 300'], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      const r = await call('ADD', 'held1', { ...conf, delegateTimeoutSeconds: 1 });
      expect(r.json).toMatchObject({ code: 11 });
      expect(String(r.json?.msg)).toContain('another multus operation on container held1 is still running');
      expect(String(r.json?.details)).toContain(`pid ${holder.pid} (flock ${lockFile}`);
      expect(work.spyCalls().filter((c) => c.env.CNI_CONTAINERID === 'held1')).toEqual([]);
    } finally {
      process.kill(-holder.pid!, 'SIGKILL');
    }
  });
});
