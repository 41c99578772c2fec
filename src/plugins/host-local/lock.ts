import { constants } from 'node:fs';
import { childPath } from '../../util/child-path';
import { CniError, ErrorCode } from '../../cni/errors';
import type { StopSignal } from '../../cni/runner';
import { LOCK_EX, LOCK_NB, nativeHelper } from '../../netlink/native';
import { fileError } from './go-error';
import { lockHolders } from '../../util/lock-holder';

/*
 * A network's store is locked with flock(LOCK_EX) on `<dir>/lock`, the lock the reference plugin takes: it and we
 * exclude each other, and so do our own processes and the several in-process calls of one multus (each opens the
 * file anew, and flock excludes open files, not processes). The kernel drops the lock when its holder dies, so a
 * killed holder never wedges the network. One lock, taken once per network per call: an earlier second lock (a
 * proper-lockfile directory beside it) added nothing flock does not give, and cost every call a mkdir, an rmdir, a
 * refresh timer and loading graceful-fs, which patches the whole fs module. The wait polls without blocking the
 * event loop.
 */

export const LOCK_FILE = 'lock';

/** How long a call waits for the store before failing with "try again later". */
export const WAIT_MS = 30_000;

// Short polls: a holder keeps the store for a few milliseconds.
const MAX_POLL_MS = 50;

export type Unlock = () => void;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function busy(dir: string, details: string): CniError {
  return new CniError(ErrorCode.TryAgainLater, `timed out after ${WAIT_MS / 1000}s waiting for the lock on ${dir}`, details);
}

/**
 * The reference creates its lock file this way (mode 0750, empty) and keeps it forever. Undefined, for
 * `ifStoreExists`, when the store's directory does not exist (the only ways creating the file fails with ENOENT or
 * ENOTDIR).
 */
function openLockFile(path: string, ifStoreExists: boolean): number | undefined {
  const { fsOpen, fsErrno } = nativeHelper();
  // Never blocks (a FIFO planted at the name), never follows a symlink out of the store, and only a regular file.
  const fd = fsOpen(path, constants.O_CREAT | constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0o750, true);
  // No directory (ENOENT), or a file where one would be (ENOTDIR): no store.
  if (ifStoreExists && (fd === -fsErrno.ENOENT || fd === -fsErrno.ENOTDIR)) return undefined;
  if (fd < 0) throw fileError(fd, 'open', path);
  return fd;
}

async function flockBefore(fd: number, deadline: number, path: string, dir: string, signal?: StopSignal): Promise<void> {
  const { flock } = nativeHelper();
  for (let delay = 1; !flock(fd, LOCK_EX | LOCK_NB); delay = Math.min(delay * 2, MAX_POLL_MS)) {
    const expired = Date.now() >= deadline;
    if (expired || signal?.aborted) {
      const holder = lockHolders(fd) || 'a live process (fuser names it)';
      const details = `${holder} holds flock on ${path}`;
      if (expired) throw busy(dir, details);
      throw new CniError(ErrorCode.TryAgainLater, `stopped at the caller's deadline while waiting for the lock on ${dir}`, details);
    }
    await sleep(delay);
  }
}

/** Takes the lock of the network directory `dir`; the returned function releases it. `signal` ends the wait. */
export async function lockStore(dir: string, signal?: StopSignal): Promise<Unlock> {
  return (await lockFile(dir, false, signal))!;
}

/**
 * The same for a store that may not exist: undefined, and nothing created, when `dir` does not exist. One open tells
 * both, where looking for the directory first cost every DEL a system call more.
 */
export async function lockExistingStore(dir: string, signal?: StopSignal): Promise<Unlock | undefined> {
  return lockFile(dir, true, signal);
}

async function lockFile(dir: string, ifStoreExists: boolean, signal?: StopSignal): Promise<Unlock | undefined> {
  const path = childPath(dir, LOCK_FILE);
  const fd = openLockFile(path, ifStoreExists);
  if (fd === undefined) return undefined;
  try {
    await flockBefore(fd, Date.now() + WAIT_MS, path, dir, signal);
  } catch (e) {
    nativeHelper().fsClose(fd);
    throw e;
  }
  // Closing the only descriptor of the open file drops the flock.
  return () => {
    nativeHelper().fsClose(fd);
  };
}
