import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { builtinRunner, loadBuiltinPlugin, runWithDeadline } from '../../src/builtins';
import type { CniPlugin, Invocation } from '../../src/cni/skel';
import { Stop, type ExecRequest, type PluginRunner, type StopSignal } from '../../src/cni/runner';
import { decodeResult, spawnRunner } from '../../src/delegation/exec-plugin';
import { decodeAnswer, pluginAnswer } from '../../src/delegation/add-answer';
import { formatResult } from '../../src/cni/result';
import { CniError } from '../../src/cni/errors';

// A built-in runs inside multus: it cannot be killed, so at the deadline it is told to stop and must undo its work.

const CONF = JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'fake' });

function request(timeoutMs: number, signal?: StopSignal): ExecRequest {
  return {
    pluginPath: '/nonexistent/fake',
    env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr-1', CNI_NETNS: '/var/run/netns/none-builtin-runner-test', CNI_IFNAME: 'net1', CNI_PATH: '/x' },
    stdin: Buffer.from(CONF),
    timeoutMs,
    label: 'fake ADD',
    signal,
  };
}

function plugin(add: (inv: Invocation) => Promise<Record<string, unknown>>): CniPlugin {
  const none = async () => undefined;
  return { about: 'fake', add, del: none, check: none, status: none, gc: none };
}

const runner: PluginRunner = spawnRunner;

describe('runWithDeadline: a built-in under delegateTimeoutSeconds', () => {
  it('passes a timely answer on as the plugin gave it', async () => {
    const out = await runWithDeadline(plugin(async () => ({ cniVersion: '1.0.0', ips: [] })), request(5_000), runner);
    expect(out).toMatchObject({ code: 0, stderr: '', timedOut: false });
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.0.0', ips: [] });
  });

  it('hands a successful ADD\'s result object over, whose text is what the plugin printed, and decodes it as the text would be', async () => {
    const given = { cniVersion: '1.0.0', interfaces: [{ name: 'net1', mac: '0a:58:0a:01:02:03', sandbox: '/x' }], ips: [{ address: '10.1.2.3/24', interface: 0 }], dns: {} };
    const req = request(5_000);
    const out = await runWithDeadline(plugin(async () => given), req, runner);
    expect(out.result).toBe(given);
    expect(out.stdout).toBe(formatResult(given));
    expect(pluginAnswer(req, out)).toBe(given);
    expect(decodeAnswer(pluginAnswer(req, out), '1.0.0', 'fake')).toEqual(decodeResult(out.stdout, '1.0.0', 'fake'));
    // A result without a version takes the configuration's, as decoding its text does, without changing the object.
    const bare = { ips: [] };
    const noVersion = await runWithDeadline(plugin(async () => bare), req, runner);
    expect(decodeAnswer(pluginAnswer(req, noVersion), '0.4.0', 'fake')).toEqual(decodeResult(noVersion.stdout, '0.4.0', 'fake'));
    expect(bare).toEqual({ ips: [] });
    // A failure has no object: its error is the plugin's, from its text.
    const failing = await runWithDeadline(plugin(async () => { throw new CniError(7, 'no') }), req, runner);
    expect(failing.result).toBeUndefined();
    expect(() => pluginAnswer(req, failing)).toThrow(/no/);
  });

  it('arms no timer for a built-in that answers before the event loop turns, and one for the time left otherwise', async () => {
    const timers = vi.spyOn(globalThis, 'setTimeout');
    await runWithDeadline(plugin(async () => ({ cniVersion: '1.0.0', ips: [] })), request(5_000), runner);
    expect(timers).not.toHaveBeenCalled();
    const waits = plugin(async () => {
      await new Promise((r) => setImmediate(r));
      return { cniVersion: '1.0.0', ips: [] };
    });
    expect((await runWithDeadline(waits, request(5_000), runner)).code).toBe(0);
    expect(timers).toHaveBeenCalledTimes(1);
    expect(timers.mock.calls[0]![1]).toBeLessThanOrEqual(5_000);
    expect(timers.mock.calls[0]![1]).toBeGreaterThan(4_000);
    timers.mockRestore();
  });

  it('stops a built-in that never answers: its signal fires, it undoes its work, the call times out', async () => {
    const steps: string[] = [];
    const stalls = plugin((inv) => new Promise((_, reject) => {
      steps.push('link created');
      inv.signal!.addEventListener('abort', () => {
        steps.push('link removed');
        reject(new Error('stopped'));
      });
    }));
    const out = await runWithDeadline(stalls, request(50), runner);
    expect(out.timedOut).toBe(true);
    // The undo ran before the call returned, so the caller's rollback finds nothing half-done.
    expect(steps).toEqual(['link created', 'link removed']);
  });

  it('gives up on a built-in that ignores its signal after the grace period', async () => {
    let told = false;
    const deaf = plugin((inv) => new Promise(() => {
      inv.signal!.addEventListener('abort', () => { told = true; });
    }));
    const out = await runWithDeadline(deaf, request(50), runner, 50);
    expect(out).toEqual({ code: null, stdout: '', stderr: '', timedOut: true });
    expect(told).toBe(true);
  });

  it('stops the built-in when its own caller gives up first', async () => {
    const caller = new AbortController();
    let stopped = false;
    const waits = plugin((inv) => new Promise((_, reject) => {
      inv.signal!.addEventListener('abort', () => { stopped = true; reject(new Error('stopped')); });
      caller.abort();
    }));
    const out = await runWithDeadline(waits, request(60_000, caller.signal), runner);
    expect(out.timedOut).toBe(true);
    expect(stopped).toBe(true);
  });

  it('stops the built-in at once when its caller had already given up', async () => {
    const caller = new Stop();
    caller.abort();
    const out = await runWithDeadline(plugin((inv) => new Promise((_, reject) => {
      if (inv.signal!.aborted) reject(new Error('stopped'));
      else inv.signal!.addEventListener('abort', () => reject(new Error('stopped')));
    })), request(60_000, caller), runner);
    expect(out.timedOut).toBe(true);
  });

  it("leaves no listener on its caller's signal, whichever way the call ends", async () => {
    // A multus call hands one signal to many delegate calls in turn; listeners left behind would pile up on it.
    const caller = new AbortController();
    await runWithDeadline(plugin(async () => ({ cniVersion: '1.0.0' })), request(5_000, caller.signal), runner);
    await runWithDeadline(plugin(() => new Promise(() => undefined)), request(20, caller.signal), runner, 20);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });
});

describe('Stop: the signal an in-process plugin is told to stop by', () => {
  it('runs each listener once, at the first abort, and not a removed one', () => {
    const stop = new Stop();
    const calls: string[] = [];
    const gone = () => calls.push('removed');
    stop.addEventListener('abort', () => calls.push('kept'), { once: true });
    stop.addEventListener('abort', gone);
    stop.removeEventListener('abort', gone);
    stop.abort();
    stop.abort();
    expect(stop.aborted).toBe(true);
    expect(calls).toEqual(['kept']);
  });
});

describe('prepareAdds: the built-ins readied while the caller waits for another plugin', () => {
  const add = (ifName: string) => ({
    pluginPath: 'builtin:macvlan',
    env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'prep-runner', CNI_NETNS: '/nonexistent/netns', CNI_IFNAME: ifName, CNI_PATH: '/nonexistent' },
    stdin: Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: `prep-${ifName}`, type: 'macvlan', master: 'eth0' })),
  });
  const turns = async (n: number) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

  it('prepares each ADD while the awaited plugin runs, and none once it answered', async () => {
    const prepared = vi.spyOn(await loadBuiltinPlugin('macvlan'), 'prepareAdd');
    let answer = (): void => undefined;
    const waiting = new Promise<void>((r) => { answer = r; });
    const release = builtinRunner.prepareAdds!([add('net1'), add('net2')], waiting);
    await turns(5);
    expect(prepared).toHaveBeenCalledTimes(2);
    release();
    prepared.mockClear();
    answer();
    const late = builtinRunner.prepareAdds!([add('net3')], waiting);
    await turns(5);
    expect(prepared).not.toHaveBeenCalled();
    late();
    prepared.mockRestore();
  });
});
