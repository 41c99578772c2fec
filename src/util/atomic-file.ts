import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  mode?: number;
  dirMode?: number;
  /**
   * fsync the file and its directory, so the new content survives a node crash. Off only for state that can be
   * lost without harm (a cached result), because every fsync costs a disk flush on the pod's critical path.
   */
  durable?: boolean;
}

/**
 * Writes a state file so that a reader (or a DEL after a node crash) sees either the old or the new
 * content, never a torn one: temporary file, fsync, rename, then fsync of the directory.
 */
export function writeFileAtomic(path: string, data: string | Buffer, options: AtomicWriteOptions = {}): void {
  const { mode: fileMode = 0o600, dirMode = 0o700, durable = true } = options;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: dirMode });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tmp, 'wx', fileMode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (!durable) return;
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Removes a file; a file that is already gone is what the caller wanted. */
export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
