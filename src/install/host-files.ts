import {
  chmodSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmdirSync, rmSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, makeDirs, removeFile, writeFileAtomic } from '../util/atomic-file';

/** Where the installer reports: `out` is stdout (what --dry-run prints), `log` is stderr (what it did). */
export interface InstallIo {
  out(text: string): void;
  log(msg: string): void;
}

export interface WriteOptions {
  mode: number;
  dirMode: number;
  /** Printed by --dry-run instead of the content (for secrets). */
  shown?: string;
}

function readOrUndefined(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** Replaces whatever is at `path` with a symlink in one rename, so a runtime exec never finds the name missing. */
function replaceWithSymlink(path: string, target: string): void {
  makeDirs(dirname(path), 0o755);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}

export function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Every change the installer makes to the host goes through here, so that running it twice changes nothing
 * (content is compared, an unchanged file keeps its mtime) and --dry-run prints each change instead of making it.
 * Each method returns whether something changed (or would have).
 */
export class HostFiles {
  constructor(readonly dryRun: boolean, readonly io: InstallIo) {}

  writeFile(path: string, content: string, o: WriteOptions): boolean {
    const data = Buffer.from(content);
    const current = readOrUndefined(path);
    if (current !== undefined && current.equals(data)) {
      if (modeOf(path) === o.mode) return false;
      if (this.dryRun) this.io.out(`would chmod ${path} to ${o.mode.toString(8)}\n`);
      else {
        chmodSync(path, o.mode);
        this.io.log(`chmod ${o.mode.toString(8)} ${path}`);
      }
      return true;
    }
    if (this.dryRun) {
      this.io.out(`would write ${path} (mode ${o.mode.toString(8)}):\n${o.shown ?? content}${(o.shown ?? content).endsWith('\n') ? '' : '\n'}`);
      return true;
    }
    writeFileAtomic(path, data, { mode: o.mode, dirMode: o.dirMode });
    this.io.log(`wrote ${path}`);
    return true;
  }

  remove(path: string): boolean {
    try {
      lstatSync(path);
    } catch {
      return false;
    }
    if (this.dryRun) this.io.out(`would remove ${path}\n`);
    else {
      removeFile(path);
      this.io.log(`removed ${path}`);
    }
    return true;
  }

  symlink(path: string, target: string): boolean {
    if (readlinkOrUndefined(path) === target) return false;
    if (this.dryRun) this.io.out(`would link ${path} -> ${target}\n`);
    else {
      replaceWithSymlink(path, target);
      this.io.log(`linked ${path} -> ${target}`);
    }
    return true;
  }

  rename(from: string, to: string): boolean {
    if (this.dryRun) this.io.out(`would rename ${from} to ${to}\n`);
    else {
      renameSync(from, to);
      fsyncDir(dirname(to));
      this.io.log(`renamed ${from} to ${to}`);
    }
    return true;
  }

  /** Creates a directory (and its parents) if it is missing. */
  mkdir(path: string): boolean {
    if (existsSync(path)) return false;
    if (this.dryRun) this.io.out(`would create ${path}\n`);
    else {
      makeDirs(path, 0o755);
      this.io.log(`created ${path}`);
    }
    return true;
  }

  /** Removes an empty directory; a directory that still holds something is left alone. */
  removeEmptyDir(path: string): boolean {
    try {
      if (readdirSync(path).length > 0) return false;
    } catch {
      return false;
    }
    if (this.dryRun) this.io.out(`would remove ${path}\n`);
    else {
      rmdirSync(path);
      this.io.log(`removed ${path}`);
    }
    return true;
  }

  removeTree(path: string): void {
    if (this.dryRun) this.io.out(`would remove ${path}\n`);
    else {
      rmSync(path, { recursive: true, force: true });
      this.io.log(`removed ${path}`);
    }
  }
}
