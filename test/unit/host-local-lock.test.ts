import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockExistingStore, lockStore } from '../../src/plugins/host-local/lock';

// cni-contracts.md 4.4: flock on <dir>/lock, mode 0750, the only lock (nothing else appears in the store).

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hl-lock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Whether flock(1) could take the lock right now, as the reference plugin would try to. */
function othersCanFlock(): boolean {
  return spawnSync('flock', ['-n', '-x', join(dir, LOCK_FILE), 'true']).status === 0;
}

describe('host-local store lock', () => {
  it('creates the reference lock file, excludes flock users while held, and leaves nothing else', async () => {
    const unlock = await lockStore(dir);
    expect(statSync(join(dir, LOCK_FILE)).size).toBe(0);
    expect(statSync(join(dir, LOCK_FILE)).mode & 0o777).toBe(0o750 & ~process.umask());
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
    expect(othersCanFlock()).toBe(false);
    unlock();
    expect(othersCanFlock()).toBe(true);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('locks a store that may not exist only when it does, creating nothing when it does not', async () => {
    expect(await lockExistingStore(join(dir, 'never-allocated'))).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(join(dir, 'a-file'), '');
    expect(await lockExistingStore(join(dir, 'a-file', 'net'))).toBeUndefined();
    rmSync(join(dir, 'a-file'));
    const unlock = await lockExistingStore(dir);
    expect(unlock).toBeTypeOf('function');
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
    expect(othersCanFlock()).toBe(false);
    unlock!();
    expect(othersCanFlock()).toBe(true);
  });

  it('serialises holders in one process', async () => {
    const events: string[] = [];
    const holder = async (name: string) => {
      const unlock = await lockStore(dir);
      events.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 20));
      events.push(`${name} out`);
      unlock();
    };
    await Promise.all([holder('a'), holder('b'), holder('c')]);
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]!.replace('in', 'out'));
  });

  it('waits for a flock held by another process (the reference plugin) and then takes the lock', async () => {
    const holder = spawn('flock', ['-x', join(dir, LOCK_FILE), 'sh', '-c', 'echo locked; cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    let locked = false;
    const pending = lockStore(dir).then((unlock) => {
      locked = true;
      return unlock;
    });
    await new Promise((r) => setTimeout(r, 200));
    // The holder is alive until its stdin closes, so nothing can have taken the lock yet.
    expect(locked).toBe(false);
    const exited = new Promise((r) => holder.once('exit', r));
    holder.stdin.end();
    await exited;
    const unlock = await pending;
    expect(locked).toBe(true);
    unlock();
  });
});
