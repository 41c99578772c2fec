import { nativeHelper } from '../../netlink/native';

/**
 * A Node file-system error in the words of Go's *PathError (`open /x: no such file or directory`), the text the
 * reference host-local prints for the same failure. `syscall` and `path` fill in when the error lacks them.
 */
export function goErrorText(err: unknown, syscall: string, path: string): string {
  const e = err as NodeJS.ErrnoException;
  // Node's message is `CODE: description, syscall 'path'`; the description is strerror's, as in Go.
  const description = /^[A-Z0-9_]+: ([^,]+),/.exec(e?.message ?? '')?.[1] ?? e?.message ?? String(err);
  return `${e?.syscall ?? syscall} ${e?.path ?? path}: ${description}`;
}

/** The same for the negative errno a native file call answered (native/fs.c), in libuv's words as Node's errors have them. */
export function fileError(answer: number, syscall: string, path: string): Error {
  const { fsErrno, fsErrorText } = nativeHelper();
  return new Error(`${syscall} ${path}: ${answer === -fsErrno.NOT_REGULAR ? 'not a regular file' : fsErrorText(answer)}`);
}
