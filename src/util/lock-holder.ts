import { fstatSync, readFileSync } from 'node:fs';

/*
 * Who holds a lock we are waiting for, from /proc/locks: a message that says "held by pid 4242 (host-local)" lets an
 * operator find a stuck process at once, where "timed out" alone leaves them guessing.
 */

function major(dev: bigint): bigint {
  return ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
}

function minor(dev: bigint): bigint {
  return (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
}

function commandOf(pid: string): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    return argv.join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

/**
 * The processes holding a lock (flock, POSIX or OFD) on the file open at `fd`, e.g. `pid 4242 (/usr/lib/cni/host-local)`;
 * '' when none can be named (the holder is in another PID namespace, or /proc/locks cannot be read).
 */
export function lockHolders(fd: number): string {
  let locks: string;
  let want: string;
  try {
    const st = fstatSync(fd, { bigint: true });
    want = `${major(st.dev).toString(16).padStart(2, '0')}:${minor(st.dev).toString(16).padStart(2, '0')}:${st.ino}`;
    locks = readFileSync('/proc/locks', 'utf8');
  } catch {
    return '';
  }
  const holders = new Set<string>();
  for (const line of locks.split('\n')) {
    // Waiters are listed with "->"; only holders are of interest.
    const m = /^\d+:\s+(?:FLOCK|POSIX|OFDLCK)\s+\S+\s+\S+\s+(-?\d+)\s+(\S+)\s/.exec(line);
    if (m && m[2] === want && Number(m[1]) > 0) holders.add(m[1]!);
  }
  return [...holders].map((pid) => {
    const cmd = commandOf(pid);
    return cmd ? `pid ${pid} (${cmd})` : `pid ${pid}`;
  }).join(', ');
}
