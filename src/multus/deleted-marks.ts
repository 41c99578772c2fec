import { closeSync, constants, openSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { logError } from '../log/logger';
import { makeDirs, removeFile } from '../util/atomic-file';

/*
 * "This container's DEL already succeeded": containerd calls DEL at StopPodSandbox and again at RemovePodSandbox
 * (empty CNI_NETNS, no prevResult). With the delegate cache gone the second call would otherwise fall back to the
 * configured networks and run every delegate's DEL again. A mark is an empty file `<cniDir>/.deleted/<containerID>`
 * (a name no container ID can have, so it never collides with a delegate cache); it lives on disk beside the caches,
 * so it survives a reboot as they do, which is right: container IDs are not reused, and an ADD that reuses one (cnitool
 * derives it from the netns path) removes its mark first. Marks go when GC no longer lists their container, and
 * after MAX_AGE_MS in any case (checked at most once per PRUNE_EVERY_MS, by the DEL that writes a mark).
 */

const DIR = '.deleted';
const STAMP = '.pruned';
export const MAX_AGE_MS = 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

function marksDir(cniDir: string): string {
  return join(cniDir, DIR);
}

export function isMarkedDeleted(cniDir: string, containerId: string): boolean {
  try {
    statSync(join(marksDir(cniDir), containerId));
    return true;
  } catch {
    return false;
  }
}

// Never blocks or follows: a FIFO or a symlink planted at the mark's name fails the write instead of hanging DEL.
function touch(path: string): void {
  closeSync(openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0o600));
}

/** Records a successful DEL; a failure only costs the repeated DEL its shortcut. */
export function markDeleted(cniDir: string, containerId: string, now = Date.now()): void {
  const dir = marksDir(cniDir);
  try {
    makeDirs(dir, 0o700);
    touch(join(dir, containerId));
    let stampAge = Infinity;
    try {
      stampAge = now - statSync(join(dir, STAMP)).mtimeMs;
    } catch {
      // never pruned
    }
    if (stampAge >= PRUNE_EVERY_MS) {
      touch(join(dir, STAMP));
      utimesSync(join(dir, STAMP), now / 1000, now / 1000);
      pruneDeletedMarks(cniDir, undefined, now);
    }
  } catch (e) {
    logError(`cannot record that container ${containerId} was deleted (a repeated DEL will redo the work): ${(e as Error).message}`);
  }
}

/** An ADD for this container ID: whatever was deleted before is not this attachment. */
export function clearDeletedMark(cniDir: string, containerId: string): void {
  try {
    removeFile(join(marksDir(cniDir), containerId));
  } catch (e) {
    // A cniDir that is not a directory holds no mark; writing the delegate cache reports what is wrong with it.
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
  }
}

/** Removes marks older than MAX_AGE_MS and, when `keep` is given (GC), every mark of a container not in it. */
export function pruneDeletedMarks(cniDir: string, keep: ReadonlySet<string> | undefined, now = Date.now()): void {
  const dir = marksDir(cniDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === STAMP) continue;
    const path = join(dir, name);
    try {
      if ((keep && !keep.has(name)) || now - statSync(path).mtimeMs > MAX_AGE_MS) rmSync(path, { force: true });
    } catch {
      // removed meanwhile
    }
  }
}
