import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Stop, type ExecRequest } from '../../src/cni/runner';
import { MAX_PLUGIN_OUTPUT, spawnRunner } from '../../src/delegation/exec-plugin';
import { nativeHelper, RUN_NO_PIDFD } from '../../src/netlink/native';

// The spawning runner starts plugins through the native helper (native/process.c), not node:child_process: these
// are the promises node's spawn with `detached: true` kept, and the ones libcni's invoke.Exec keeps.

const dir = mkdtempSync(join(tmpdir(), 'exec-plugin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function plugin(name: string, script: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

function request(pluginPath: string, more: Partial<ExecRequest> = {}): ExecRequest {
  return { pluginPath, env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD' }, stdin: Buffer.from('{"cniVersion":"1.0.0"}'),
    timeoutMs: 30_000, label: 'test ADD', ...more };
}

/** Gone, or a zombie nobody reaped (SIGKILL takes effect when the process is next scheduled). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Whether `pid` is a zombie or alive (not reaped). */
function exists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

describe('the spawning runner', () => {
  it('gives the plugin its stdin and exactly the environment asked for, and returns stdout, stderr and the exit code', async () => {
    const p = plugin('echo', 'cat; echo; env | sort; echo "$0" >&2; pwd >&2; exit 3');
    const o = await spawnRunner.run(request(p, { env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD', UNSET: undefined } }));
    expect(o.code).toBe(3);
    expect(o.timedOut).toBe(false);
    expect(o.stdout.split('\n')).toEqual(['{"cniVersion":"1.0.0"}', 'CNI_COMMAND=ADD', 'PATH=/usr/bin:/bin', 'PWD=' + process.cwd(), '']);
    expect(o.stderr).toBe(`${p}\n${process.cwd()}\n`);
  });

  it('starts the plugin with every signal at its default and none blocked (this process ignores SIGPIPE)', async () => {
    const p = plugin('signals', 'exec grep -E "^Sig(Ign|Blk)" /proc/self/status');
    const o = await spawnRunner.run(request(p));
    expect(o.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('starts the plugin as the leader of its own session and process group', async () => {
    // /proc/<pid>/stat: pid (comm) state ppid pgrp session
    const p = plugin('session', 'echo $$; cut -d" " -f5,6 /proc/$$/stat');
    const o = await spawnRunner.run(request(p));
    const [pid, groups] = o.stdout.trim().split('\n');
    expect(groups).toBe(`${pid} ${pid}`);
  });

  it('hands the plugin none of this process\'s close-on-exec fds (its own pipes, sockets, locks)', async () => {
    const inherited = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        // Octal flags; O_CLOEXEC is 02000000.
        const flags = parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
        return (flags & 0o2000000) === 0;
      } catch {
        return false; // the directory's own fd, closed by now
      }
    });
    const socket = nativeHelper().rtnlOpen();
    const file = openSync(join(dir, 'held'), 'w');
    try {
      const p = plugin('fds', 'exec ls /proc/self/fd');
      const fds = (await spawnRunner.run(request(p))).stdout.trim().split('\n');
      // ls's own fd 3 (the directory it lists), and whatever this process itself inherited without close-on-exec.
      expect(fds.filter((fd) => !['0', '1', '2', '3'].includes(fd) && !inherited.includes(fd))).toEqual([]);
      expect(fds).toEqual(expect.arrayContaining(['0', '1', '2']));
    } finally {
      closeSync(socket);
      closeSync(file);
    }
  });

  it('reports a plugin ended by a signal with a null exit code, and reaps it', async () => {
    const p = plugin('killed', 'echo $$; kill -TERM $$');
    const o = await spawnRunner.run(request(p));
    expect(o.code).toBeNull();
    expect(o.timedOut).toBe(false);
    expect(exists(Number(o.stdout.trim()))).toBe(false);
  });

  it('reaps a plugin that exits normally', async () => {
    const p = plugin('pid', 'echo $$');
    const o = await spawnRunner.run(request(p));
    expect(o.code).toBe(0);
    expect(exists(Number(o.stdout.trim()))).toBe(false);
  });

  it('does not mind a plugin that exits without reading a large stdin', async () => {
    const p = plugin('no-read', 'exit 0');
    const o = await spawnRunner.run(request(p, { stdin: Buffer.alloc(4 << 20, 0x20) }));
    expect(o).toEqual({ code: 0, stdout: '', stderr: '', timedOut: false });
  });

  it('writes a stdin larger than a pipe holds while reading stdout', async () => {
    const p = plugin('copy', 'cat');
    const input = Buffer.alloc(1 << 20, 0x61);
    const o = await spawnRunner.run(request(p, { stdin: input }));
    expect(o.code).toBe(0);
    expect(o.stdout.length).toBe(input.length);
  });

  it('kills the plugin\'s whole process group at the deadline: code null, timedOut, what it printed so far', async () => {
    const pidFile = join(dir, 'deadline.pid');
    const p = plugin('deadline', `echo partial; sleep 300 & echo $! > ${pidFile}; wait`);
    const o = await spawnRunner.run(request(p, { timeoutMs: 500 }));
    expect(o).toEqual({ code: null, stdout: 'partial\n', stderr: '', timedOut: true });
    expect(await gone(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
  });

  it('kills the plugin\'s whole process group when the caller aborts', async () => {
    const pidFile = join(dir, 'abort.pid');
    const p = plugin('abort', `sleep 300 & echo $! > ${pidFile}; echo started; wait`);
    const stop = new Stop();
    const run = spawnRunner.run(request(p, { signal: stop }));
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '') await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const o = await run;
    expect(o.timedOut).toBe(true);
    expect(o.code).toBeNull();
    expect(await gone(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
  });

  it('runs a plugin started after the caller gave up to its end: the undo of what it did (an IPAM DEL)', async () => {
    const stop = new Stop();
    stop.abort();
    const o = await spawnRunner.run(request(plugin('undo', 'sleep 0.2; echo undone'), { signal: stop }));
    expect(o).toEqual({ code: 0, stdout: 'undone\n', stderr: '', timedOut: false });
  });

  it('kills a plugin that prints more than the limit on stdout, keeping its stderr', async () => {
    const p = plugin('flood', `echo "about to flood" >&2; head -c ${MAX_PLUGIN_OUTPUT + 1} /dev/zero; sleep 300`);
    const o = await spawnRunner.run(request(p));
    expect(o.code).toBe(-1);
    expect(o.timedOut).toBe(false);
    expect(o.stdout).toBe('');
    expect(o.stderr).toBe(`about to flood\n\n(multus: the plugin printed more than ${MAX_PLUGIN_OUTPUT} bytes on stdout and was killed)`);
  });

  it('returns after the plugin exited although a child it left holds the pipes', async () => {
    const pidFile = join(dir, 'left.pid');
    const p = plugin('leaves-child', `sleep 300 & echo $! > ${pidFile}; echo '{"ok":1}'; exit 0`);
    const o = await spawnRunner.run(request(p));
    const child = Number(readFileSync(pidFile, 'utf8'));
    try {
      expect(o).toEqual({ code: 0, stdout: '{"ok":1}\n', stderr: '', timedOut: false });
    } finally {
      process.kill(child, 'SIGKILL');
    }
  });

  it('keeps the event loop free while it waits', async () => {
    const p = plugin('slow', 'sleep 0.3; echo done');
    let ticked = false;
    setTimeout(() => { ticked = true; }, 1);
    const o = await spawnRunner.run(request(p));
    expect(o.stdout).toBe('done\n');
    expect(ticked).toBe(true);
  });

  it('names the errno when the plugin cannot be started: ENOENT, EACCES', async () => {
    const missing = join(dir, 'missing');
    await expect(spawnRunner.run(request(missing))).rejects.toMatchObject({ code: 999, message: `test ADD: cannot run ${missing}: spawn ${missing} ENOENT` });
    const notExecutable = join(dir, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    await expect(spawnRunner.run(request(notExecutable))).rejects.toMatchObject({ message: `test ADD: cannot run ${notExecutable}: spawn ${notExecutable} EACCES` });
  });

  it('retries a binary that is being written (ETXTBSY), as libcni does', async () => {
    const p = plugin('busy', 'echo ran');
    const writer = openSync(p, 'r+');
    const run = spawnRunner.run(request(p));
    // The first attempt fails while this process holds the binary open for writing; a retry comes 100 ms later.
    await new Promise((r) => setTimeout(r, 50));
    closeSync(writer);
    expect((await run).stdout).toBe('ran\n');
  });
});

// On a kernel without pidfd_open (before 5.3, e.g. RHEL 8's 4.18) the wait learns of the exit from SIGCHLD.
describe.each([['with a pidfd', 0], ['without a pidfd', RUN_NO_PIDFD]])('the native wait, %s', (_name, flags) => {
  const start = (path: string, stdin: string, timeoutMs: number) =>
    nativeHelper().startPlugin(path, ['PATH=/usr/bin:/bin'], Buffer.from(stdin), timeoutMs, 1 << 20, 1000, flags);

  it('returns the exit code, stdout and stderr, and reaps the plugin', async () => {
    const run = start(plugin(`wait-${flags}`, 'cat; echo err >&2; exit 7'), 'in', 30_000);
    const o = await run.done;
    expect(o).toEqual({ code: 7, signal: 0, stdout: 'in', stderr: 'err\n', timedOut: false, overflow: false, reaped: true });
    expect(exists(run.pid)).toBe(false);
  });

  it('returns once the plugin exited while its child holds the pipes, and a signal\'s end as code null', async () => {
    const pidFile = join(dir, `grace-${flags}.pid`);
    const run = start(plugin(`grace-${flags}`, `sleep 300 & echo $! > ${pidFile}; kill -KILL $$`), '', 30_000);
    const o = await run.done;
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    expect(o).toMatchObject({ code: null, signal: 9, timedOut: false, reaped: true });
    expect(exists(run.pid)).toBe(false);
  });

  it('kills the process group at the deadline and at stop()', async () => {
    const deadline = start(plugin(`hang-${flags}`, 'sleep 300 & wait'), '', 300);
    expect(await deadline.done).toMatchObject({ code: null, signal: 9, timedOut: true, reaped: true });
    const stopped = start(plugin(`hang2-${flags}`, 'echo go; sleep 300 & wait'), '', 30_000);
    stopped.stop();
    expect(await stopped.done).toMatchObject({ code: null, timedOut: true, reaped: true });
    stopped.stop(); // after the end: nothing
  });

  it('kills the process group when the deadline passes, or stop() comes, while a child it left holds the pipes', async () => {
    for (const how of ['deadline', 'stop']) {
      const pidFile = join(dir, `late-${how}-${flags}.pid`);
      const run = nativeHelper().startPlugin(plugin(`late-${how}-${flags}`, `sleep 300 & echo $! > ${pidFile}; echo out`), ['PATH=/usr/bin:/bin'],
        // The deadline long enough for the plugin itself to have exited by then, even on a loaded machine.
        Buffer.alloc(0), how === 'deadline' ? 3000 : 30_000, 1 << 20, 20_000, flags);
      if (how === 'stop') {
        while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8') === '' || exists(run.pid)) await new Promise((r) => setTimeout(r, 20));
        run.stop();
      }
      // The plugin itself exited 0 and was reaped; its child goes with the group.
      expect(await run.done).toEqual({ code: 0, signal: 0, stdout: 'out\n', stderr: '', timedOut: true, overflow: false, reaped: true });
      expect(await gone(Number(readFileSync(pidFile, 'utf8')))).toBe(true);
    }
  });

  it('keeps runs at once apart: each its own outcome', async () => {
    const runs = [0, 1, 2, 3].map((i) => start(plugin(`many-${i}-${flags}`, `sleep 0.${i}; cat; exit ${i}`), `in${i}`, 30_000));
    const outcomes = await Promise.all(runs.map((r) => r.done));
    expect(outcomes.map((o) => [o.code, o.stdout])).toEqual([[0, 'in0'], [1, 'in1'], [2, 'in2'], [3, 'in3']]);
  });

  it('waits on the event loop, starting no thread (libuv\'s pool would start 4 that compete with the plugin)', () => {
    // A fresh process: this one may have started the pool already.
    const addon = resolve(__dirname, '../../build/Release/netns.node');
    const script = `const fs = require('fs'); const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addon)});
      const threads = () => Number(/^Threads:\\s+(\\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = threads();
      m.exports.startPlugin('/bin/true', [], Buffer.from('{}'), 30000, 1024, 1000, ${flags}).done.then((o) => console.log(before, threads(), o.code));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const [before, after, code] = r.stdout.trim().split(' ').map(Number);
    expect(code).toBe(0);
    expect(after).toBe(before);
  });
});

describe('exitNow', () => {
  it('ends the process with the code and its output complete', () => {
    const addon = resolve(__dirname, '../../build/Release/netns.node');
    const script = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addon)}); const fs = require('fs');
      fs.writeSync(1, 'answer'); fs.writeSync(2, 'log'); m.exports.exitNow(7); fs.writeSync(1, ' more');`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect([r.status, r.signal, r.stdout, r.stderr]).toEqual([7, null, 'answer', 'log']);
  });
});
