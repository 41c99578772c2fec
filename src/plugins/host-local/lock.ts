import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { lock as properLock } from 'proper-lockfile';
import { CniError, ErrorCode } from '../../cni/errors';
import { LOCK_EX, LOCK_NB, nativeHelper } from '../../netlink/native';
import { goErrorText } from './go-error';
import { stopIfAborted } from '../../cni/runner';

/*
 * A network's store is locked twice, always in this order:
 *
 * 1. proper-lockfile, a lock directory `<dir>/lock.proper` whose mtime the holder keeps fresh. It orders our own
 *    processes, and a holder that is killed leaves it behind only until it is STALE_MS old, when the next process
 *    takes it over. It is a directory, never a regular file, because the reference's DEL reads and deletes every
 *    regular file whose content matches a container ID.
 * 2. flock(LOCK_EX) on `<dir>/lock`, the lock the reference plugin takes, so that it and we exclude each other.
 *    The kernel drops it when its holder dies, and it is the lock that makes the store safe: even if a slow holder's
 *    lock directory were wrongly taken over as stale, the flock would still keep the two apart.
 *
 * Waiting for the flock while holding the lock directory (never the reverse) means a stale lock directory is waited
 * out without blocking the reference plugin. Neither wait blocks the event loop.
 */

export const LOCK_FILE = 'lock';
export const LOCK_DIR = 'lock.proper';

/**
 * How old a lock directory must be before it counts as abandoned: proper-lockfile's minimum is 2 s and a live holder
 * refreshes it every STALE_MS / 2, so 5 s leaves a holder whose process is starved for CPU (64 plugin processes
 * starting at once on a small node) seconds of margin, while a crashed holder delays the next pod by 5 s at most.
 */
export const STALE_MS = 5000;

/** How long a call waits for the store before failing with "try again later"; far above STALE_MS. */
export const WAIT_MS = 30_000;

// Short polls: a holder keeps the store for a few milliseconds.
const MAX_POLL_MS = 50;

export type Unlock = () => Promise<void>;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function busy(dir: string, details: string): CniError {
  return new CniError(ErrorCode.TryAgainLater, `timed out after ${WAIT_MS / 1000}s waiting for the lock on ${dir}`, details);
}

/** The reference creates its lock file this way (mode 0750, empty) and keeps it forever. */
function openLockFile(path: string): number {
  try {
    return openSync(path, constants.O_CREAT | constants.O_RDONLY, 0o750);
  } catch (e) {
    throw new Error(goErrorText(e, 'open', path));
  }
}

async function flockBefore(fd: number, deadline: number, path: string, dir: string, signal?: AbortSignal): Promise<void> {
  const { flock } = nativeHelper();
  for (let delay = 1; !flock(fd, LOCK_EX | LOCK_NB); delay = Math.min(delay * 2, MAX_POLL_MS)) {
    if (Date.now() >= deadline) throw busy(dir, `a live process holds flock on ${path} (fuser ${path} names it)`);
    stopIfAborted(signal);
    await sleep(delay);
  }
}

/**
 * The lock directory, polled like the flock: proper-lockfile's own retries precompute their whole backoff schedule
 * on every call, which cost more than the allocation itself.
 */
async function lockDirBefore(lockFile: string, lockDir: string, deadline: number, dir: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  for (let delay = 1; ; delay = Math.min(delay * 2, MAX_POLL_MS)) {
    try {
      return await properLock(lockFile, {
        lockfilePath: lockDir,
        realpath: false,
        stale: STALE_MS,
        retries: 0,
        // Only a holder starved for longer than STALE_MS gets here; the flock still protects the store.
        onCompromised: (err) => {
          void import('../../log/logger').then(({ logError }) => logError(`host-local: lock ${lockDir} was taken over while held: ${err.message}`));
        },
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw new Error(goErrorText(e, 'mkdir', lockDir));
      if (Date.now() >= deadline) throw busy(dir, `${lockDir} was kept fresh the whole time, so its holder is alive but stuck`);
      stopIfAborted(signal);
    }
    await sleep(delay);
  }
}

/** Takes both locks of the network directory `dir`; the returned function releases them. `signal` ends the wait. */
export async function lockStore(dir: string, signal?: AbortSignal): Promise<Unlock> {
  const lockFile = join(dir, LOCK_FILE);
  const lockDir = join(dir, LOCK_DIR);
  const deadline = Date.now() + WAIT_MS;
  const fd = openLockFile(lockFile);
  let releaseDir: () => Promise<void>;
  try {
    releaseDir = await lockDirBefore(lockFile, lockDir, deadline, dir, signal);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  try {
    await flockBefore(fd, deadline, lockFile, dir, signal);
  } catch (e) {
    closeSync(fd);
    await releaseDir().catch(() => undefined);
    throw e;
  }
  return async () => {
    // Closing the only descriptor of the open file drops the flock.
    closeSync(fd);
    // A lock directory taken over meanwhile is no longer ours to remove.
    await releaseDir().catch(() => undefined);
  };
}
