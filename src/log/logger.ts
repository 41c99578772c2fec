/**
 * The plugin's logger, equivalent to Multus's pkg/logging with lumberjack file rotation.
 *
 * The plugin is a short-lived process started by kubelet for every pod, so nothing happens at import
 * time, the log file is only touched when a line at an enabled level is logged, and every write is
 * synchronous because the process may exit right after. Stdout is the CNI result channel and is
 * never written. Logging never throws into its caller.
 */
// Named imports: in the bundle, a namespace import copies the whole export list of the module, in every process.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { makeDirs } from '../util/atomic-file';
import { writeStderr as writeToStderr } from '../util/stdout';

export type LogLevel = 'panic' | 'error' | 'verbose' | 'debug';

export interface LogOptions {
  /** Days to keep backups; 0 keeps them regardless of age. */
  maxAge?: number;
  /** Megabytes (may be fractional) a log file may reach before it is rotated; 0 means the default. */
  maxSize?: number;
  /** Backups to keep; 0 keeps all of them. */
  maxBackups?: number;
  /** Gzip backups. */
  compress?: boolean;
}

export interface LoggingConfig {
  logFile?: string;
  logLevel?: string;
  logToStderr?: boolean;
  logOptions?: LogOptions;
}

// Index order is severity order: a line is written when its index is <= the configured one.
export const LOG_LEVELS: readonly LogLevel[] = ['panic', 'error', 'verbose', 'debug'];

const DEFAULT_LOG_OPTIONS: Required<LogOptions> = { maxAge: 5, maxSize: 100, maxBackups: 5, compress: true };
const BYTES_PER_MB = 1024 * 1024;
const MS_PER_DAY = 24 * 60 * 60 * 1000;
const GZ = '.gz';
// Each retry needs yet another rotation racing the write, so this bound is never reached in practice.
const MAX_WRITE_ATTEMPTS = 5;

let currentLevel = 0;
let toStderr = true;
let logFile: string | undefined;
let fileOptions: Required<LogOptions> = DEFAULT_LOG_OPTIONS;

/**
 * Applies the logging keys of the plugin configuration. Mirrors Multus: an empty logFile or logLevel
 * leaves the current setting alone, an unknown level is reported on stderr and ignored, and options
 * missing from logOptions take the lumberjack defaults Multus uses.
 */
export function configureLogging(config: LoggingConfig): void {
  if (config.logToStderr !== undefined) toStderr = config.logToStderr;
  if (config.logFile) logFile = config.logFile;
  if (config.logLevel) {
    const level = LOG_LEVELS.indexOf(config.logLevel.toLowerCase() as LogLevel);
    if (level < 0) writeStderr(`multus logging: cannot set logging level to ${config.logLevel}\n`);
    else currentLevel = level;
  }
  if (config.logOptions) fileOptions = { ...DEFAULT_LOG_OPTIONS, ...definedOnly(config.logOptions) };
}

/** Lets callers skip building messages that would be discarded. */
export function isLevelEnabled(level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= currentLevel;
}

export function logError(msg: string): void {
  emit('error', msg);
}

export function logVerbose(msg: string): void {
  emit('verbose', msg);
}

export function logDebug(msg: string): void {
  emit('debug', msg);
}

// A caller building LogOptions from parsed JSON may pass explicit undefineds, which must not mask defaults.
function definedOnly(options: LogOptions): LogOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
}

function emit(level: LogLevel, msg: string): void {
  if (!isLevelEnabled(level)) return;
  const line = `${rfc3339(new Date())} [${level}] ${msg}\n`;
  if (toStderr) writeStderr(line);
  if (logFile === undefined) return;
  try {
    appendLine(logFile, Buffer.from(line));
  } catch (err) {
    // Keep the line when stderr logging is off, so a broken log file does not swallow it.
    const dropped = toStderr ? '' : `: ${line.trimEnd()}`;
    writeStderr(`multus logging: cannot write to log file ${logFile} (${errorText(err)})${dropped}\n`);
  }
}

function writeStderr(text: string): void {
  try {
    writeToStderr(text);
  } catch {
    // Nowhere left to report to.
  }
}

/** Go's time.RFC3339 in local time, as Multus formats its line headers. */
function rfc3339(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const zone =
    offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return (
    `${String(d.getFullYear()).padStart(4, '0')}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`
  );
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

// Many plugin processes append to the same file concurrently. Each line is one write(2) on a freshly
// opened O_APPEND descriptor, so lines do not interleave and always land in whatever file currently
// sits at the path, even right after another process rotated it away.
function appendLine(file: string, data: Buffer): void {
  const { fd, rotated } = openRotatingIfFull(file, data.length);
  // Between our open and our write another process may rotate the file and compress and delete the
  // backup; a line written there is lost, so it is written again to the current file. Rarely both
  // copies survive (duplicates beat losses).
  let target = fd;
  for (let attempt = 1; !writeStillLinked(target, data) && attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    target = openForAppend(file);
  }
  if (!rotated) return;
  try {
    pruneAndCompressBackups(file);
  } catch (err) {
    // The line itself is already written; only housekeeping failed.
    writeStderr(`multus logging: cannot clean up backups of log file ${file} (${errorText(err)})\n`);
  }
}

/** Writes and closes; false when the file had been deleted by the time of the write. */
function writeStillLinked(fd: number, data: Buffer): boolean {
  try {
    writeSync(fd, data);
    return fstatSync(fd).nlink > 0;
  } finally {
    closeSync(fd);
  }
}

function openRotatingIfFull(file: string, length: number): { fd: number; rotated: boolean } {
  const fd = openForAppend(file);
  let full: Stats;
  try {
    full = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const maxBytes = (fileOptions.maxSize > 0 ? fileOptions.maxSize : DEFAULT_LOG_OPTIONS.maxSize) * BYTES_PER_MB;
  // An empty file is never rotated, so a line longer than maxSize is still written (lumberjack refuses it).
  if (full.size === 0 || full.size + length <= maxBytes) return { fd, rotated: false };
  closeSync(fd);
  try {
    moveToBackup(file, full);
  } catch (err) {
    // An oversized log is better than a lost line.
    writeStderr(`multus logging: cannot rotate log file ${file} (${errorText(err)})\n`);
  }
  return { fd: openForAppend(file), rotated: true };
}

function openForAppend(file: string): number {
  try {
    return openSync(file, 'a', 0o644);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    makeDirs(dirname(file), 0o755);
    return openSync(file, 'a', 0o644);
  }
}

function moveToBackup(file: string, full: Stats): void {
  const current = statSync(file, { throwIfNoEntry: false });
  // Gone, or a fresh file already in its place: another process rotated first, and moving its
  // fresh file would only produce a near-empty backup.
  if (current === undefined || current.ino !== full.ino || current.dev !== full.dev) return;
  const backup = claimBackupName(file);
  try {
    renameSync(file, backup);
  } catch (err) {
    removeIfPresent(backup);
    if (!isNotFound(err)) throw err;
  }
}

/**
 * lumberjack's `<name>-<UTC 2006-01-02T15-04-05.000><ext>`. Several processes (or a tiny maxSize) can
 * rotate within one millisecond, and rename would silently replace another backup, so the name is
 * claimed by creating it exclusively (the rename then replaces only our own empty placeholder),
 * moving the timestamp forward while names are taken.
 */
function claimBackupName(file: string): string {
  const { dir, prefix, ext } = splitLogName(file);
  for (let t = Date.now(); ; t++) {
    const candidate = join(dir, `${prefix}${backupStamp(t)}${ext}`);
    try {
      closeSync(openSync(candidate, 'wx', 0o644));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    // Checked only after claiming: compression creates the .gz before deleting the plain backup,
    // so a name freed by compression is seen here as still taken.
    if (!existsSync(candidate + GZ)) return candidate;
    // A compressor that was late to delete the old plain backup may have removed our placeholder.
    removeIfPresent(candidate);
  }
}

function splitLogName(file: string): { dir: string; prefix: string; ext: string } {
  const base = basename(file);
  const ext = extname(base);
  return { dir: dirname(file), prefix: `${base.slice(0, base.length - ext.length)}-`, ext };
}

function backupStamp(t: number): string {
  return new Date(t).toISOString().slice(0, 23).replace(/:/g, '-');
}

interface Backup {
  name: string;
  time: number;
}

/** lumberjack's millRunOnce: count limit first, then age limit, then compress what is left. */
function pruneAndCompressBackups(file: string): void {
  const dir = dirname(file);
  const { maxAge, maxBackups, compress } = fileOptions;
  const cutoff = Date.now() - maxAge * MS_PER_DAY;
  // A backup caught mid-compression exists both plain and gzipped; it counts once.
  const counted = new Set<string>();
  const kept: Backup[] = [];
  for (const backup of listBackups(file)) {
    counted.add(backup.name.endsWith(GZ) ? backup.name.slice(0, -GZ.length) : backup.name);
    const tooMany = maxBackups > 0 && counted.size > maxBackups;
    const tooOld = maxAge > 0 && backup.time < cutoff;
    if (tooMany || tooOld) removeIfPresent(join(dir, backup.name));
    else kept.push(backup);
  }
  if (!compress) return;
  for (const backup of kept) {
    if (!backup.name.endsWith(GZ)) gzipBackup(join(dir, backup.name));
  }
}

/** Backups of the file, newest first; the timestamp comes from the name, as in lumberjack. */
function listBackups(file: string): Backup[] {
  const { dir, prefix, ext } = splitLogName(file);
  const backups: Backup[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.startsWith(prefix)) continue;
    const rest = entry.name.slice(prefix.length);
    const suffix = rest.endsWith(ext + GZ) ? ext + GZ : rest.endsWith(ext) ? ext : undefined;
    if (suffix === undefined) continue;
    const time = parseBackupStamp(rest.slice(0, rest.length - suffix.length));
    if (time !== undefined) backups.push({ name: entry.name, time });
  }
  return backups.sort((a, b) => b.time - a.time);
}

function parseBackupStamp(stamp: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/.exec(stamp);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
  const time = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!);
  // Date.UTC rolls impossible dates over (Feb 30 -> Mar 2); the round trip rejects them like Go's parser.
  return backupStamp(time) === stamp ? time : undefined;
}

function gzipBackup(src: string): void {
  let fd: number;
  try {
    fd = openSync(src, 'r');
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  try {
    let data = readFileSync(fd);
    // Empty means a claimed name whose rename has not landed yet.
    if (data.length === 0) return;
    writeGzip(src + GZ, data);
    removeIfPresent(src);
    // A process that opened the log just before the rotation may still append to the backup. What it
    // wrote before the unlink shows up here through our descriptor; what it writes later lands in an
    // unlinked file, which it notices (nlink 0) and writes again to the current log.
    for (let more = readFileSync(fd); more.length > 0; more = readFileSync(fd)) {
      data = Buffer.concat([data, more]);
      writeGzip(src + GZ, data);
    }
  } finally {
    closeSync(fd);
  }
}

// Written under a name that is not a backup name and renamed into place, so a concurrent mill never
// sees a half-written .gz. Processes compressing the same backup at once all finish by writing
// everything it held, so whichever rename lands last is complete.
function writeGzip(dest: string, data: Buffer): void {
  const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.tmp`);
  try {
    // zlib loads only here: a call that rotates nothing never pays for it.
    const { gzipSync } = require('node:zlib') as typeof import('node:zlib');
    writeFileSync(tmp, gzipSync(data), { mode: 0o644 });
    renameSync(tmp, dest);
  } catch (err) {
    removeIfPresent(tmp);
    throw err;
  }
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
