import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';

/** The native helper (native/netns.c, built by node-gyp at install time). */
interface NativeHelper {
  /** Runs `fn` with this thread inside the network namespace at `path`; always back home when it returns. */
  withNetns<T>(path: string, fn: () => T): T;
  /** An rtnetlink socket (its fd) created in the namespace at `path`, or in this thread's own one. */
  rtnlOpen(path?: string): number;
  /**
   * Sends one rtnetlink request (NLM_F_REQUEST | NLM_F_ACK added to `flags`) and returns its replies' payloads,
   * every part of a dump. Throws an Error with `errno`: the kernel's refusal, or with `syscall` when the socket
   * itself failed.
   */
  rtnlRequest(fd: number, type: number, flags: number, payload: Buffer): Buffer[];
  /** flock(2); false when LOCK_NB was given and another process holds the lock. */
  flock(fd: number, operation: number): boolean;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;

let helper: NativeHelper | undefined;

export function nativeHelper(): NativeHelper {
  if (helper === undefined) {
    try {
      // Loaded as require would, without its look-up (the package scope's package.json, a stat and a realpath of
      // every directory up to /: half a millisecond of every call that takes a lock or opens a socket). The bundles
      // sit as deep below the project as dist/netlink/ does.
      const module = { exports: {} as NativeHelper };
      process.dlopen(module, join(__dirname, '../../build/Release/netns.node'));
      helper = module.exports;
    } catch (e) {
      throw new CniError(ErrorCode.Internal, `the native netns helper is not built (run npm ci): ${(e as Error).message}`);
    }
  }
  return helper;
}
