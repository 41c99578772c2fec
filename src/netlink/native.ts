import { CniError, ErrorCode } from '../cni/errors';

/** What a plugin started by startPlugin did: its exit code (null when a signal ended it), outputs and end. */
export interface PluginRun {
  code: number | null;
  /** The signal that ended it, 0 if none. */
  signal: number;
  stdout: string;
  /** Its start, up to maxOutput bytes. */
  stderr: string;
  /** The deadline passed, or stop() was called: its process group was killed. */
  timedOut: boolean;
  /** It printed more than maxOutput bytes on stdout: its process group was killed. */
  overflow: boolean;
  /** It was reaped (false only when a killed one did not go within a second). */
  reaped: boolean;
}

/** A plugin started by startPlugin: its pid, its outcome, and stop(), which kills its process group. */
export interface StartedPlugin {
  pid: number;
  done: Promise<PluginRun>;
  stop(): void;
}

/** startPlugin's flags: the wait learns of the exit from SIGCHLD instead of a pidfd (kernels before 5.3). */
export const RUN_NO_PIDFD = 1;

/** The native helper (native/netns.c and native/process.c, built by node-gyp at install time). */
interface NativeHelper {
  /** Runs `fn` with this thread inside the network namespace at `path`; always back home when it returns. */
  withNetns<T>(path: string, fn: () => T): T;
  /** An rtnetlink socket (its fd) created in the namespace at `path`, or in this thread's own one. */
  rtnlOpen(path?: string): number;
  /**
   * Sends one rtnetlink request (NLM_F_REQUEST | NLM_F_ACK added to `flags`) and returns its replies' payloads,
   * every part of a dump. Throws an Error with `errno`: the kernel's refusal, or with `syscall` when the socket
   * itself failed. With `echoFd`, also what the kernel echoed to that socket for the request (NLM_F_ECHO from another
   * namespace), read without waiting once the request is acknowledged.
   */
  rtnlRequest(fd: number, type: number, flags: number, payload: Buffer, echoFd?: number): Buffer[];
  /** The port the kernel bound an rtnetlink socket to (rtnlOpen binds it at once). */
  rtnlPortId(fd: number): number;
  /**
   * Sends up to 16 requests ([type, flags, payload]) in one write and returns, per request, its replies' payloads or
   * the errno the kernel refused it with (the kernel handles the ones after a refused one too). Throws as rtnlRequest
   * does when the socket itself fails.
   */
  rtnlBatch(fd: number, requests: [number, number, Buffer][]): (Buffer[] | number)[];
  /**
   * Writes `value` to /proc/sys/<key> for each key inside the network namespace of the open fd `netnsFd`, in one
   * visit; returns an errno per key (0: written). Throws when the namespace cannot be entered.
   */
  writeSysctls(netnsFd: number, keys: string[], value: string): number[];
  /** flock(2); false when LOCK_NB was given and another process holds the lock. */
  flock(fd: number, operation: number): boolean;
  /**
   * Starts `path` (argv [path]) with `env` ("KEY=value" strings) and `stdin` in a session of its own, every signal at
   * its default, and waits for it on the event loop: until it exited and closed its pipes, or `graceMs` after its
   * exit, whatever holds them; its process group is killed after `timeoutMs`, at stop(), or when stdout passes
   * `maxOutput` bytes. Throws as Node's spawn does when it cannot be started (code ENOENT, EACCES, ETXTBSY...).
   */
  startPlugin(path: string, env: string[], stdin: Buffer, timeoutMs: number, maxOutput: number, graceMs: number, flags: number): StartedPlugin;
  /** _exit(2): ends the process at once, without Node's teardown. */
  exitNow(code: number): never;
  /*
   * File calls for host-local's store (native/fs.c): each answers a number (an fd, a count, 0) or the negative errno
   * instead of throwing, and opens close-on-exec.
   */
  /** open(2) of `path`; with `regular`, -fsErrno.NOT_REGULAR (and nothing left open) for anything but a regular file. */
  fsOpen(path: string, flags: number, mode: number, regular: boolean): number;
  /** Up to `max` bytes as UTF-8 text, from `offset` (or the fd's position when negative); -EFBIG when longer. */
  fsRead(fd: number, max: number, offset: number): string | number;
  /** Writes all of `text` (UTF-8) at `offset` (or the fd's position when negative); the bytes written. */
  fsWrite(fd: number, text: string, offset: number): number;
  fsTruncate(fd: number, length: number): number;
  fsClose(fd: number): number;
  fsUnlink(path: string): number;
  /** The names in a directory, without `.` and `..`. */
  fsList(dir: string): string[] | number;
  /** fsRead of each regular file `<dir>/<name>` (opened without following a symlink and without blocking), in one call. */
  fsReadFiles(dir: string, names: string[], max: number): (string | number)[] | number;
  /** All of an fd's bytes up to its end (stdin, a code cache), waiting when it is non-blocking; -EFBIG past `max`. */
  fsReadBytes(fd: number, max: number): Buffer | number;
  /** `prefix`, an fd's bytes up to its end as Latin-1, and `suffix`, in one string; -EFBIG past `max` bytes. */
  fsReadLatin1(fd: number, prefix: string, suffix: string, max: number): string | number;
  /** fstat(2) of an open file: its size and its modification time in whole milliseconds. */
  fsStat(fd: number): [size: number, mtimeMs: number] | number;
  /** 1 when both paths (symlinks followed) are one file, 0 when not, or the negative errno of the stat that failed. */
  fsSameFile(a: string, b: string): number;
  /** libuv's (Node's) words for a negative errno that one of these answered: `no such file or directory`. */
  fsErrorText(answer: number): string;
  /** The errno values the answers are compared with, and NOT_REGULAR (not an errno). */
  readonly fsErrno: Readonly<Record<'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'EFBIG' | 'NOT_REGULAR', number>>;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;

// The installed executable carries the main bundle inline, and a copy of this module with it: it loads the helper to
// read the CNI bundle and its code cache, and the CNI bundle's own copy of this module finds it loaded (an addon's
// init run twice would make a second set of its functions and state).
const LOADED = Symbol.for('multus-ts.nativeHelper');
const shared = globalThis as { [LOADED]?: NativeHelper };

export function nativeHelper(): NativeHelper {
  let helper = shared[LOADED];
  if (helper === undefined) {
    try {
      // Loaded as require would, without its look-up (the package scope's package.json, a stat and a realpath of
      // every directory up to /: half a millisecond of every call that takes a lock or opens a socket). The bundles
      // sit as deep below the project as dist/netlink/ does.
      const module = { exports: {} as NativeHelper };
      // (Joined as text: dlopen takes the `..`, and path.join was compiled on its first use in every call.)
      process.dlopen(module, `${__dirname}/../../build/Release/netns.node`);
      helper = module.exports;
      shared[LOADED] = helper;
    } catch (e) {
      throw new CniError(ErrorCode.Internal, `the native netns helper is not built (run npm ci): ${(e as Error).message}`);
    }
  }
  return helper;
}
