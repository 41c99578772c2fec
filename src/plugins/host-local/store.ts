import { constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CniError, ErrorCode } from '../../cni/errors';
import { isSafeName } from '../../cni/environment';
import { nativeHelper } from '../../netlink/native';
import { formatIp, parseIp, type IP } from './address';
import { fileError, goErrorText } from './go-error';
import { MAX_FILE_BYTES } from '../../util/bounded-read';
import { makeDirs } from '../../util/atomic-file';
import { childPath } from '../../util/child-path';

/*
 * The reference plugin's on-disk store, byte for byte, so that a node can switch between the two plugins either way
 * and keep every reservation: `<dataDir>/<network>/` (0755) holds one file per reserved address, named by the
 * address, containing `<containerID>\r\n<ifname>` with no newline (older plugins wrote the container ID alone), and
 * `last_reserved_ip.<range set index>` with the last address handed out from that set. Files are 0600.
 * Container IDs only ever appear in file contents, never in paths.
 *
 * The files are read and written through the native helper (native/fs.c), which the lock loads anyway: Node's fs
 * functions are JavaScript that V8 compiles on first use in every process, and they answer an expected "taken" or
 * "not there yet" with an Error and its stack.
 */

const LAST_RESERVED_PREFIX = 'last_reserved_ip.';
// At least any address text (an IPv6 one is at most 45 characters): a longer content is no address.
const LAST_RESERVED_MAX = 63;
const FILE_MODE = 0o600;
const DIR_MODE = 0o755;

/** One reservation file. */
export interface Reservation {
  /** The file name, which is the address. */
  name: string;
  ip: IP;
  /** The content without surrounding white space: an owner key. */
  owner: string;
}

/** What a reservation file holds for an attachment. */
export function ownerKey(containerId: string, ifName: string): string {
  return `${containerId.trim()}\r\n${ifName}`;
}

/** What the oldest reference versions wrote: the container ID alone, for any interface. */
export function legacyOwnerKey(containerId: string): string {
  return containerId.trim();
}

/** `<dataDir>/<name>`, refusing any name that would not be a single directory right under dataDir. */
export function networkDir(dataDir: string, name: string): string {
  const base = resolve(dataDir);
  const dir = childPath(base, name);
  // Skel already requires a safe name; this keeps the store safe for any other caller too.
  if (!isSafeName(name) || dirname(dir) !== base) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, 'invalid characters found in network name', name);
  }
  return dir;
}

export class NetworkStore {
  // The length of each last_reserved_ip.N as this call read it (under the lock, so nobody changed it since).
  private readonly lastLength = new Map<number, number>();
  // Each last_reserved_ip.N as this call read it, still open: the address reserved next is written through it.
  private readonly lastFds = new Map<number, number>();

  private constructor(readonly dir: string) {}

  /** Creates the network's directory when missing, as the reference does on every command. */
  static open(dataDir: string, name: string): NetworkStore {
    const store = NetworkStore.at(dataDir, name);
    store.create();
    return store;
  }

  /** Makes the store's directory (and dataDir) when missing. */
  create(): void {
    try {
      makeDirs(this.dir, DIR_MODE);
    } catch (e) {
      throw new Error(goErrorText(e, 'mkdir', this.dir));
    }
  }

  /**
   * The network's store, whether or not its directory exists: DEL, CHECK and GC of a network that never allocated
   * anything must leave no directory or lock file behind (a failed ADD's rollback runs DEL on networks that never got
   * that far), and find out whether it exists by taking its lock (lockExistingStore).
   */
  static at(dataDir: string, name: string): NetworkStore {
    return new NetworkStore(networkDir(dataDir, name));
  }

  /**
   * Reserves `ip` for the owner: creating its file exclusively is the reservation, so two allocators can never both
   * win it. Records the address as the set's last reserved one. False when the address is taken.
   */
  reserve(ip: IP, owner: string, rangeId: number): boolean {
    const { fsOpen, fsWrite, fsClose, fsErrno } = nativeHelper();
    const name = formatIp(ip);
    const path = childPath(this.dir, name);
    const fd = fsOpen(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, FILE_MODE, false);
    if (fd === -fsErrno.EEXIST) return false;
    if (fd < 0) throw fileError(fd, 'open', path);
    const written = fsWrite(fd, owner, -1);
    fsClose(fd);
    if (written < 0) {
      // An empty file would be a reservation nobody owns; the write error is still the one to report.
      try {
        this.remove(name);
      } catch {
        // GC releases it, as it belongs to no attachment.
      }
      throw fileError(written, 'write', path);
    }
    this.writeLastReserved(ip, rangeId);
    return true;
  }

  /**
   * Overwritten in place and cut to length rather than truncated first (O_TRUNC, as the reference's WriteFile does):
   * truncating frees the file's block and the write allocates it again, which here cost more than creating the
   * reservation itself. The content is the same either way; a torn one only costs round robin its place.
   */
  private writeLastReserved(ip: IP, rangeId: number): void {
    const { fsOpen, fsWrite, fsTruncate, fsClose } = nativeHelper();
    const path = childPath(this.dir, `${LAST_RESERVED_PREFIX}${rangeId}`);
    // The descriptor lastReserved read it through, else opened now; never blocks on a FIFO planted at the name.
    let fd = this.lastFds.get(rangeId);
    this.lastFds.delete(rangeId);
    if (fd === undefined) {
      fd = fsOpen(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NONBLOCK, FILE_MODE, false);
      if (fd < 0) throw fileError(fd, 'open', path);
    }
    try {
      const length = fsWrite(fd, formatIp(ip), 0);
      if (length < 0) throw fileError(length, 'write', path);
      // Only a longer old content (or one this call did not read) has a tail to cut.
      if ((this.lastLength.get(rangeId) ?? Infinity) > length) {
        const cut = fsTruncate(fd, length);
        if (cut < 0) throw fileError(cut, 'truncate', path);
      }
      this.lastLength.set(rangeId, length);
    } finally {
      fsClose(fd);
    }
  }

  /**
   * The set's last reserved address; unset or unreadable content only costs round robin its place. The file stays
   * open (for writing too) until the next reservation rewrites it or close(): one open and close per ADD fewer.
   * Only a regular file is read and kept.
   */
  lastReserved(rangeId: number): IP | undefined {
    const { fsOpen, fsRead, fsClose } = nativeHelper();
    const fd = fsOpen(childPath(this.dir, `${LAST_RESERVED_PREFIX}${rangeId}`), constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOFOLLOW, 0, true);
    if (fd < 0) return undefined;
    const text = fsRead(fd, LAST_RESERVED_MAX, 0);
    if (typeof text === 'number' && text !== -nativeHelper().fsErrno.EFBIG) {
      fsClose(fd);
      return undefined;
    }
    const ip = typeof text === 'string' ? parseIp(text) : undefined;
    // An address is ASCII, so its length is its size; for anything else the length is not known, and the rewrite cuts.
    if (ip) this.lastLength.set(rangeId, (text as string).length);
    else this.lastLength.delete(rangeId);
    this.closeLast(rangeId);
    this.lastFds.set(rangeId, fd);
    return ip;
  }

  private closeLast(rangeId: number): void {
    const fd = this.lastFds.get(rangeId);
    if (fd === undefined) return;
    this.lastFds.delete(rangeId);
    nativeHelper().fsClose(fd);
  }

  /** Closes what lastReserved left open; the store's user calls it when done (before releasing the lock). */
  close(): void {
    for (const rangeId of [...this.lastFds.keys()]) this.closeLast(rangeId);
  }

  /**
   * Every reservation, by file name. Only regular files named by an address count: the lock, last_reserved_ip.N and
   * anything else an operator leaves in the directory are never taken for reservations. (The names alone are listed:
   * reading refuses what is not a regular file anyway, and the listing with types cost every ADD 0.15 ms more.)
   */
  reservations(): Reservation[] {
    const { fsList, fsReadFiles } = nativeHelper();
    const names = fsList(this.dir);
    if (typeof names === 'number') throw fileError(names, 'open', this.dir);
    const ips: IP[] = [];
    const named: string[] = [];
    for (const name of names) {
      const ip = parseIp(name);
      if (!ip) continue;
      ips.push(ip);
      named.push(name);
    }
    // All of them in one call: each is opened without following a symlink, and only a regular file is read.
    const contents = named.length > 0 ? fsReadFiles(this.dir, named, MAX_FILE_BYTES) : [];
    if (typeof contents === 'number') throw fileError(contents, 'open', this.dir);
    const out: Reservation[] = [];
    for (let i = 0; i < named.length; i++) {
      const content = contents[i];
      // A number: not a regular file (a directory, a link), or released by someone else since the listing.
      if (typeof content === 'string') out.push({ name: named[i]!, ip: ips[i]!, owner: content.trim() });
    }
    // The reference walks in name order, which decides which address its messages name.
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes a reservation; one that is already gone is what the caller wanted. */
  remove(name: string): void {
    const { fsUnlink, fsErrno } = nativeHelper();
    const path = childPath(this.dir, name);
    const r = fsUnlink(path);
    if (r < 0 && r !== -fsErrno.ENOENT) throw fileError(r, 'remove', path);
  }
}
