import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { LOCK_EX, LOCK_NB, nativeHelper } from '../netlink/native';
import { makeDirs, removeFile } from '../util/atomic-file';
import { lockHolders } from '../util/lock-holder';

/*
 * One multus operation per container ID at a time on this node. The spec forbids a runtime to overlap ADD and DEL
 * of one container, but retries after timeouts do overlap, and two operations interleaving on one pod leave
 * "eth0 already exists" behind. Each ADD, DEL and CHECK holds flock(2) on `<cniDir>/.lock.<containerID>` (a container
 * ID starts with a letter or digit, so the name never collides with a delegate cache): the kernel drops it when the
 * process exits however it exits, so a file a killed call leaves is harmless. Every call removes the file while
 * still holding the lock, so that between calls nothing of it is in cniDir: not after a node moved to Go Multus,
 * whose DEL knows nothing of it, nor for the names GC only looked at. A waiter that then gets the lock on the removed
 * file notices and opens it afresh. The file sits in cniDir itself, not in a directory of locks: such a directory,
 * made and removed by every call to keep that promise, cost each call a mkdir and an rmdir (0.2-0.8 ms on this
 * project's machine: a directory, unlike an empty file, takes a block, freed again with a discard).
 */

const PREFIX = '.lock.';
const MAX_POLL_MS = 50;
// Linux's NAME_MAX, less the prefix.
const MAX_ID = 255 - PREFIX.length;

export interface ContainerLock {
  /** Deletes the lock file and releases the lock. */
  release(): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface OpenLock {
  fd: number;
  ino: number;
}

// Never blocks on open (a FIFO planted at the name) and never follows a symlink; whatever is in the way (a FIFO, a
// symlink, a directory) is removed once, so that it cannot wedge every later call for the container.
function openLockFile(path: string, retried = false): OpenLock {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if (retried || !['EISDIR', 'ELOOP'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    removeFile(path);
    return openLockFile(path, true);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    if (retried) throw new Error(`${path} is not a regular file`);
    removeFile(path);
    return openLockFile(path, true);
  }
  return { fd, ino: st.ino };
}

// The file at `path` is still the one we have open: it was not removed by the holder we waited for.
function stillThere(lock: OpenLock, path: string): boolean {
  try {
    return statSync(path).ino === lock.ino;
  } catch {
    return false;
  }
}

function badCniDir(cniDir: string, e: unknown): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `multus configuration: "cniDir" ${cniDir}: cannot create a file in it: ${(e as Error).message}`,
    'set "cniDir" to a writable directory on a real file system (default /var/lib/cni/multus)');
}

/** Waits (at most `waitMs`) for the container's lock; code 11 naming the holder when it is not released in time. */
export async function lockContainer(cniDir: string, containerId: string, waitMs: number): Promise<ContainerLock> {
  if (containerId.length > MAX_ID) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_CONTAINERID is too long to name a file', `a container ID has at most ${MAX_ID} characters`);
  }
  const path = join(cniDir, PREFIX + containerId);
  const { flock } = nativeHelper();
  const deadline = Date.now() + waitMs;
  let made = false;
  for (;;) {
    let lock: OpenLock;
    try {
      lock = openLockFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // cniDir does not exist yet (a node's first pod): made once, then the open is tried again.
      if (code === 'ENOENT' && !made) {
        try {
          makeDirs(cniDir, 0o700);
        } catch (err) {
          throw badCniDir(cniDir, err);
        }
        made = true;
        continue;
      }
      // The system's answer (ENOTDIR, EACCES, EROFS, ...) is about cniDir; anything else is not.
      if (code === undefined) throw e;
      throw badCniDir(cniDir, e);
    }
    let delay = 1;
    while (!flock(lock.fd, LOCK_EX | LOCK_NB)) {
      if (Date.now() >= deadline) {
        const holder = lockHolders(lock.fd);
        closeSync(lock.fd);
        throw new CniError(ErrorCode.TryAgainLater,
          `another multus operation on container ${containerId} is still running after ${waitMs / 1000}s`,
          `${holder || 'a live process'} holds flock on ${path}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
    if (stillThere(lock, path)) {
      return {
        release() {
          removeFile(path);
          closeSync(lock.fd);
        },
      };
    }
    closeSync(lock.fd);
  }
}

/** Runs one multus operation holding the container's lock. */
export async function withContainerLock<T>(cniDir: string, containerId: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = await lockContainer(cniDir, containerId, waitMs);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
