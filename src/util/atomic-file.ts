import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes a state file so that a reader (or a DEL after a node crash) sees either the old or the new
 * content, never a torn one: temporary file, fsync, rename, then fsync of the directory.
 */
export function writeFileAtomic(path: string, data: string | Buffer, fileMode = 0o600, dirMode = 0o700): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: dirMode });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tmp, 'wx', fileMode);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
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
