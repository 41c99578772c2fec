import { CniError, ErrorCode } from '../cni/errors';

// The texts Go gives these errnos (its syscall error table): the reference plugins print them, and so do we.
const GO_ERRNO_TEXT: Record<number, string> = {
  1: 'operation not permitted',
  2: 'no such file or directory',
  3: 'no such process',
  5: 'input/output error',
  6: 'no such device or address',
  9: 'bad file descriptor',
  11: 'resource temporarily unavailable',
  12: 'cannot allocate memory',
  13: 'permission denied',
  16: 'device or resource busy',
  17: 'file exists',
  19: 'no such device',
  22: 'invalid argument',
  28: 'no space left on device',
  34: 'numerical result out of range',
  90: 'message too long',
  93: 'protocol not supported',
  95: 'operation not supported',
  97: 'address family not supported by protocol',
  98: 'address already in use',
  99: 'cannot assign requested address',
  100: 'network is down',
  101: 'network is unreachable',
  105: 'no buffer space available',
  113: 'no route to host',
};

export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;

export function errnoText(errno: number): string {
  return GO_ERRNO_TEXT[errno] ?? `errno ${errno}`;
}

/**
 * A request the kernel refused. `reason` is the bare kernel answer in Go's words (what the reference plugins put
 * after their own prefix); the message says which operation on which interface failed.
 */
export class NetlinkError extends CniError {
  constructor(
    readonly errno: number,
    readonly reason: string,
    operation: string,
  ) {
    super(ErrorCode.Internal, `${operation}: ${reason}`);
    this.name = 'NetlinkError';
  }
}

/** A link lookup that found nothing; the reason is the vishvananda/netlink wording the reference plugins print. */
export class LinkNotFoundError extends NetlinkError {
  constructor(what: string) {
    super(ENODEV, 'Link not found', `failed to find link ${what}`);
    this.name = 'LinkNotFoundError';
  }
}

export function isErrno(e: unknown, errno: number): boolean {
  return e instanceof NetlinkError && e.errno === errno;
}
