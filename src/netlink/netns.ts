import { statfsSync } from 'node:fs';
import { CniError, ErrorCode } from '../cni/errors';

// A network namespace is a bind mount of an nsfs inode, or /proc/<pid>/ns/net (procfs on older kernels).
const NSFS_MAGIC = 0x6e736673;
const PROC_SUPER_MAGIC = 0x9fa0;

/** CNI_NETNS names nothing: the pod (and its namespace) is already gone, which DEL accepts as done. */
export class NetnsMissingError extends CniError {
  constructor(readonly path: string, reason: string) {
    super(ErrorCode.Internal, `failed to Statfs "${path}": ${reason}`);
    this.name = 'NetnsMissingError';
  }
}

/**
 * Checks that `path` is a network namespace before anything is done in it, with the reference plugins' wording
 * (their ns.GetNS); a missing path throws NetnsMissingError.
 */
export function checkNetnsPath(path: string): void {
  let type: number;
  try {
    type = statfsSync(path).type;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new NetnsMissingError(path, 'no such file or directory');
    throw new CniError(ErrorCode.Internal, `failed to Statfs "${path}": ${err.message}`);
  }
  if (type !== NSFS_MAGIC && type !== PROC_SUPER_MAGIC) {
    throw new CniError(ErrorCode.Internal, `unknown FS magic on "${path}": ${type.toString(16)}`);
  }
}
