import { writeSync } from 'node:fs';

/*
 * Writing to stdout and stderr without their streams. process.stdout and process.stderr would write the same bytes
 * just as synchronously (files and pipes), but creating either stream loads Node's stream modules, and for a pipe
 * (what a container runtime gives a plugin) node:net too: 5-7 ms, more than a pod's whole ADD spends of its own
 * before the first delegate. A descriptor the runtime left non-blocking (EAGAIN) gets the rest through the stream
 * after all.
 */
function writeAll(fd: 1 | 2, text: string): void {
  const data = Buffer.from(text);
  for (let done = 0; done < data.length;) {
    try {
      done += writeSync(fd, data, done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      (fd === 1 ? process.stdout : process.stderr).write(data.subarray(done));
      return;
    }
  }
}

/** Writes `text` to stdout, all of it, before returning: the CNI answer. */
export function writeStdout(text: string): void {
  writeAll(1, text);
}

/** Writes `text` to stderr, all of it, before returning: the log, when it goes there. */
export function writeStderr(text: string): void {
  writeAll(2, text);
}
