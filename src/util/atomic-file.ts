import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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
  makeDirs(dir, dirMode);
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
  if (durable) fsyncDir(dir);
}

/** Makes a rename or unlink in `dir` durable: the directory entry is flushed like a file's data. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function notADirectory(path: string): Error {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`), { code: 'ENOTDIR', path });
}

/**
 * mkdir -p, from the deepest component up: Node's recursive mkdir loops forever where mkdir answers ENOENT for a
 * parent that exists (under /proc, say). Here every component is tried once, and the usual case, a directory that
 * exists, costs one stat.
 */
export function makeDirs(dir: string, mode = 0o700): void {
  const path = resolve(dir);
  try {
    if (statSync(path).isDirectory()) return;
    throw notADirectory(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent, mode);
  try {
    mkdirSync(path, { mode });
  } catch (e) {
    // Made by another process meanwhile is as good as made here.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) throw e;
  }
}

/**
 * Removes a state file; one that is already gone is what the caller wanted. Whatever took its place (a directory,
 * a FIFO, a symlink) goes too: it cannot be ours, and leaving it would make every later DEL fail on it. A plain
 * unlink first: one system call for the usual case (rmSync looks at the file twice before unlinking it).
 */
export function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    // Linux answers EISDIR for a directory (POSIX allows EPERM).
    if (code !== 'EISDIR' && code !== 'EPERM') throw e;
    rmSync(path, { recursive: true, force: true });
  }
}
