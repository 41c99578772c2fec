import { closeSync, constants, fstatSync, openSync, rmdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { LOCK_EX, LOCK_NB, nativeHelper } from '../netlink/native';
import { makeDirs, removeFile } from '../util/atomic-file';
import { lockHolders } from '../util/lock-holder';

/*
 * One multus operation per container ID at a time on this node. The spec forbids a runtime to overlap ADD and DEL
 * of one container, but retries after timeouts do overlap, and two operations interleaving on one pod leave
 * "eth0 already exists" behind. Each ADD, DEL and CHECK holds flock(2) on `<cniDir>/.locks/<containerID>`
 * (a name no container ID can have, so it never collides with a delegate cache): the kernel drops it when the process
 * exits however it exits, so a file a killed call leaves is harmless. Every call removes the file (and the directory,
 * when it was the last) while still holding the lock, so that between calls nothing of it is in cniDir: not after a
 * node moved to Go Multus, whose DEL knows nothing of it, nor for the names GC only looked at. A waiter that then gets
 * the lock on the removed file notices and opens it afresh.
 */

const DIR = '.locks';
const MAX_POLL_MS = 50;

export interface ContainerLock {
  /** Deletes the lock file and releases the lock. */
  release(): void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Never blocks on open (a FIFO planted at the name) and never follows a symlink; whatever is in the way (a FIFO, a
// symlink, a directory) is removed once, so that it cannot wedge every later call for the container.
function openLockFile(path: string, retried = false): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if (retried || !['EISDIR', 'ELOOP'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    removeFile(path);
    return openLockFile(path, true);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    if (retried) throw new Error(`${path} is not a regular file`);
    removeFile(path);
    return openLockFile(path, true);
  }
  return fd;
}

// The lock directory, replacing a file that took its name.
function makeLockDir(dir: string): void {
  try {
    makeDirs(dir, 0o700);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR' || (e as { path?: string }).path !== resolve(dir)) throw e;
    removeFile(dir);
    makeDirs(dir, 0o700);
  }
}

// The last container's lock takes the directory with it, so that nothing is left in cniDir; a directory that is
// not empty (another container's lock) stays.
function removeEmptyDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or already gone
  }
}

// The file at `path` is still the one `fd` has open: it was not removed by the holder we waited for.
function stillThere(fd: number, path: string): boolean {
  try {
    return statSync(path).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

/** Waits (at most `waitMs`) for the container's lock; code 11 naming the holder when it is not released in time. */
export async function lockContainer(cniDir: string, containerId: string, waitMs: number): Promise<ContainerLock> {
  const dir = join(cniDir, DIR);
  const path = join(dir, containerId);
  try {
    makeLockDir(dir);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `multus configuration: "cniDir" ${cniDir}: cannot create ${dir}: ${(e as Error).message}`,
      'set "cniDir" to a writable directory on a real file system (default /var/lib/cni/multus)');
  }
  const { flock } = nativeHelper();
  const deadline = Date.now() + waitMs;
  for (;;) {
    let fd: number;
    try {
      fd = openLockFile(path);
    } catch (e) {
      // The last holder removed the emptied directory just now.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        makeLockDir(dir);
        continue;
      }
      removeEmptyDir(dir);
      if ((e as NodeJS.ErrnoException).code === 'ENAMETOOLONG') {
        throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_CONTAINERID is too long to name a file', 'a container ID has at most 255 characters');
      }
      throw e;
    }
    let delay = 1;
    while (!flock(fd, LOCK_EX | LOCK_NB)) {
      if (Date.now() >= deadline) {
        const holder = lockHolders(fd);
        closeSync(fd);
        throw new CniError(ErrorCode.TryAgainLater,
          `another multus operation on container ${containerId} is still running after ${waitMs / 1000}s`,
          `${holder || 'a live process'} holds flock on ${path}`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_POLL_MS);
    }
    if (stillThere(fd, path)) {
      return {
        release() {
          removeFile(path);
          removeEmptyDir(dir);
          closeSync(fd);
        },
      };
    }
    closeSync(fd);
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
