import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/*
 * Reading a file that someone else could have replaced: a FIFO blocks the open and the read forever, a symlink to
 * /dev/zero never ends, a directory fails with EISDIR. Every state and configuration file multus reads goes through
 * here: opened without blocking (and, for our own state, without following a symlink), checked to be a regular file
 * on the descriptor that is then read, and read up to a bound.
 */

/** Our own state files (caches, records) are kilobytes; configurations and kubeconfigs stay far below this. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface ReadOptions {
  /** Follow a symlink at `path` (configuration files may be links, as Kubernetes mounts them); state files may not. */
  follow?: boolean;
  maxBytes?: number;
}

/** The file is not what a reader may read; `code` mirrors an errno so callers can treat it like one. */
export class UnreadableFileError extends Error {
  constructor(
    readonly path: string,
    readonly code: 'ENOTREG' | 'EFBIG',
    msg: string,
  ) {
    super(msg);
    this.name = 'UnreadableFileError';
  }
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The content of the regular file at `path`. Throws the system error (ENOENT, ELOOP for a symlink when not
 * following, …) or an UnreadableFileError for anything that is not a regular file or is larger than the bound.
 */
export function readRegularFile(path: string, options: ReadOptions = {}): Buffer {
  const { follow = false, maxBytes = MAX_FILE_BYTES } = options;
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (follow ? 0 : constants.O_NOFOLLOW);
  const fd = openSync(path, flags);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UnreadableFileError(path, 'ENOTREG', `${path} is ${kind(st)}, not a regular file`);
    if (st.size > maxBytes) throw new UnreadableFileError(path, 'EFBIG', `${path} is larger than ${maxBytes} bytes`);
    // The size may change while reading; one byte more than the bound says it grew past it.
    const buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > maxBytes) throw new UnreadableFileError(path, 'EFBIG', `${path} is larger than ${maxBytes} bytes`);
        throw new UnreadableFileError(path, 'EFBIG', `${path} grew while it was read`);
      }
      const wanted = buf.length - length;
      const n = readSync(fd, buf, length, wanted, null);
      if (n === 0) break;
      length += n;
      // A short read that brought exactly the size fstat saw is the end: no second read to hear it again. (Files
      // whose size says nothing, like /proc's, report 0 and are read until a read returns nothing.)
      if (n < wanted && length === st.size) break;
    }
    return buf.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
