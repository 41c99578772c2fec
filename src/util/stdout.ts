import { writeSync } from 'node:fs';

/**
 * Writes `text` to stdout, all of it, before returning. process.stdout would do the same, but creating that stream
 * loads Node's whole stream stack, a good part of what a VERSION call costs (the runtime starts a process per pod).
 * A stdout the runtime left non-blocking (EAGAIN) gets the rest through process.stdout after all.
 */
export function writeStdout(text: string): void {
  const data = Buffer.from(text);
  for (let done = 0; done < data.length;) {
    try {
      done += writeSync(1, data, done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      process.stdout.write(data.subarray(done));
      return;
    }
  }
}
