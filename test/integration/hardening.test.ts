import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { execPluginSync, ourPlugin } from '../helpers/plugin-exec';
import { runMultus, Workdir, type RunOutcome } from '../helpers/multus';

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
