import { describe, it, expect, vi, beforeEach, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

// Lets a test act as a concurrent plugin process at the moment the logger has measured the full
// log file but not yet rotated it.
const race = vi.hoisted(() => ({ afterFstat: undefined as undefined | (() => void) }));
// What the logger writes to stdout (fd 1) and stderr (fd 2): it writes to the descriptors, not through the streams.
const fds = vi.hoisted(() => ({ capture: undefined as undefined | Map<number, string[]> }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    fstatSync: ((...args: Parameters<typeof actual.fstatSync>) => {
      const stats = actual.fstatSync(...args);
      const hook = race.afterFstat;
      race.afterFstat = undefined;
      hook?.();
      return stats;
    }) as typeof actual.fstatSync,
    writeSync: ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
      const into = fds.capture?.get(fd);
      if (into === undefined) return (actual.writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
      const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString();
      const offset = typeof data !== 'string' && typeof rest[0] === 'number' ? rest[0] : 0;
      into.push(text.slice(offset));
      return Buffer.byteLength(text) - offset;
    }) as typeof actual.writeSync,
  };
});

type Logger = typeof import('../../src/log/logger');

const HEADER = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2}) \[(panic|error|verbose|debug)\] /;
const GZ_BACKUP = /^multus-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log\.gz$/;
const PLAIN_BACKUP = /^multus-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log$/;
// 0.001 MB is 1048 bytes: a handful of the ~100-byte lines below per file.
const TINY = 0.001;

let dir: string;
let stderr: string[];
let stdout: string[];

// The logger keeps module-level state, so every test gets a fresh instance.
async function freshLogger(): Promise<Logger> {
  vi.resetModules();
  return import('../../src/log/logger');
}

function numbered(i: number): string {
  return `line ${String(i).padStart(3, '0')} ${'x'.repeat(60)}`;
}

function messages(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      expect(l).toMatch(HEADER);
      return l.replace(HEADER, '');
    });
}

function backups(pattern: RegExp): string[] {
  // Backup names sort chronologically.
  return fs.readdirSync(dir).filter((n) => pattern.test(n)).sort();
}

function gunzip(name: string): string {
  return zlib.gunzipSync(fs.readFileSync(path.join(dir, name))).toString();
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multus-logger-'));
  stderr = [];
  stdout = [];
  fds.capture = new Map([[1, stdout], [2, stderr]]);
});

afterEach(() => {
  vi.restoreAllMocks();
  race.afterFstat = undefined;
  fds.capture = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('levels', () => {
  it('writes only panic lines by default', async () => {
    const log = await freshLogger();
    log.logError('e');
    log.logVerbose('v');
    log.logDebug('d');
    expect(stderr).toEqual([]);
    expect(log.isLevelEnabled('panic')).toBe(true);
    expect(log.isLevelEnabled('error')).toBe(false);

    log.logError('e');
    expect(stderr).toEqual([]);
  });

  it('filters by the configured level, whose name is case-insensitive', async () => {
    const log = await freshLogger();
    log.configureLogging({ logLevel: 'VERBOSE' });
    log.logError('e');
    log.logVerbose('v');
    log.logDebug('d');
    expect(stderr.join('')).toMatch(/\[error\] e\n.*\[verbose\] v\n$/);
    expect(log.isLevelEnabled('verbose')).toBe(true);
    expect(log.isLevelEnabled('debug')).toBe(false);

    log.configureLogging({ logLevel: 'Debug' });
    log.logDebug('d');
    expect(stderr.at(-1)).toMatch(/\[debug\] d\n$/);
  });

  it('reports an unknown level on stderr and keeps the previous one', async () => {
    const log = await freshLogger();
    log.configureLogging({ logLevel: 'error' });
    log.configureLogging({ logLevel: 'loud' });
    expect(stderr).toEqual(['multus logging: cannot set logging level to loud\n']);
    expect(log.isLevelEnabled('error')).toBe(true);
    expect(log.isLevelEnabled('verbose')).toBe(false);

    log.configureLogging({ logLevel: '' });
    expect(stderr).toHaveLength(1);
    expect(log.isLevelEnabled('error')).toBe(true);
  });
});

describe('line format', () => {
  const savedTz = process.env.TZ;
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('is "<RFC3339> [<level>] <msg>" in local time', async () => {
    const log = await freshLogger();
    log.configureLogging({ logLevel: 'error' });
    process.env.TZ = 'UTC';
    log.logError('hello world');
    process.env.TZ = 'Asia/Kolkata';
    log.logError('namaste');
    expect(stderr[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \[error\] hello world\n$/);
    expect(stderr[1]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+05:30 \[error\] namaste\n$/);
  });
});

describe('log file', () => {
  it('is created, with its directory, only when an enabled line is logged', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'nested', 'deeper', 'multus.log');
    log.configureLogging({ logFile: file, logToStderr: false, logLevel: 'error' });
    log.logDebug('skipped');
    expect(fs.existsSync(path.dirname(file))).toBe(false);

    log.logError('first');
    log.logError('second');
    expect(messages(fs.readFileSync(file, 'utf8'))).toEqual(['first', 'second']);
    expect(stderr).toEqual([]);
  });

  it('appends to an existing file and also writes stderr by default', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    fs.writeFileSync(file, 'earlier\n');
    log.configureLogging({ logFile: file, logLevel: 'verbose' });
    log.logVerbose('now');
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^earlier\n.* \[verbose\] now\n$/);
    expect(messages(stderr.join(''))).toEqual(['now']);
  });

  it('never throws on a write error and says so in one stderr line', async () => {
    const log = await freshLogger();
    fs.writeFileSync(path.join(dir, 'not-a-dir'), '');
    const file = path.join(dir, 'not-a-dir', 'multus.log');
    log.configureLogging({ logFile: file, logToStderr: false, logLevel: 'error' });
    expect(() => log.logError('kept anyway')).not.toThrow();
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toContain(`cannot write to log file ${file}`);
    expect(stderr[0]).toContain('[error] kept anyway');
  });

  it('never writes stdout', async () => {
    const log = await freshLogger();
    log.configureLogging({
      logFile: path.join(dir, 'multus.log'),
      logLevel: 'debug',
      logOptions: { maxSize: TINY, maxBackups: 1 },
    });
    for (let i = 0; i < 40; i++) log.logDebug(numbered(i));
    log.logVerbose('v');
    log.logError('e');
    log.configureLogging({ logLevel: 'nonsense' });
    expect(stdout).toEqual([]);
    expect(stderr.length).toBeGreaterThan(0);
  });
});

describe('rotation', () => {
  it('rotates before a file would exceed maxSize and gzips the backups', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, maxBackups: 0, maxAge: 0 },
    });
    const written = Array.from({ length: 40 }, (_, i) => numbered(i));
    for (const m of written) log.logDebug(m);

    const gz = backups(GZ_BACKUP);
    expect(gz.length).toBeGreaterThanOrEqual(3);
    expect(backups(PLAIN_BACKUP)).toEqual([]);
    const contents = [...gz.map(gunzip), fs.readFileSync(file, 'utf8')];
    for (const c of contents) expect(Buffer.byteLength(c)).toBeLessThanOrEqual(TINY * 1024 * 1024);
    expect(contents.flatMap(messages)).toEqual(written);
    expect(stderr).toEqual([]);
  });

  it('keeps plain backups when compress is false', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, compress: false, maxBackups: 0 },
    });
    const written = Array.from({ length: 25 }, (_, i) => numbered(i));
    for (const m of written) log.logDebug(m);

    const plain = backups(PLAIN_BACKUP);
    expect(plain.length).toBeGreaterThanOrEqual(2);
    expect(backups(GZ_BACKUP)).toEqual([]);
    const contents = [...plain.map((n) => fs.readFileSync(path.join(dir, n), 'utf8')), fs.readFileSync(file, 'utf8')];
    expect(contents.flatMap(messages)).toEqual(written);
  });

  it('keeps only the newest maxBackups backups', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, maxBackups: 2 },
    });
    const written = Array.from({ length: 60 }, (_, i) => numbered(i));
    for (const m of written) log.logDebug(m);

    const gz = backups(GZ_BACKUP);
    expect(gz).toHaveLength(2);
    const kept = [...gz.map(gunzip), fs.readFileSync(file, 'utf8')].flatMap(messages);
    expect(kept).toEqual(written.slice(written.length - kept.length));
  });

  it('prunes backups whose name is older than maxAge days, whatever their mtime', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    const ancientGz = 'multus-2000-01-01T00-00-00.000.log.gz';
    const ancientPlain = 'multus-2000-01-02T00-00-00.000.log';
    const recentName = `multus-${new Date(Date.now() - 3600_000).toISOString().slice(0, 23).replace(/:/g, '-')}.log.gz`;
    const unrelated = ['multus.log.bak', 'other-2000-01-01T00-00-00.000.log', 'multus-not-a-date.log'];
    fs.writeFileSync(path.join(dir, ancientGz), zlib.gzipSync('old\n'));
    fs.writeFileSync(path.join(dir, ancientPlain), 'old\n');
    fs.writeFileSync(path.join(dir, recentName), zlib.gzipSync('recent\n'));
    fs.utimesSync(path.join(dir, recentName), new Date('2000-01-01'), new Date('2000-01-01'));
    for (const n of unrelated) fs.writeFileSync(path.join(dir, n), 'x');

    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, maxAge: 1, maxBackups: 0 },
    });
    for (let i = 0; i < 12; i++) log.logDebug(numbered(i));

    const names = fs.readdirSync(dir);
    expect(names).not.toContain(ancientGz);
    expect(names).not.toContain(ancientPlain);
    expect(names).toContain(recentName);
    for (const n of unrelated) expect(names).toContain(n);
    expect(backups(GZ_BACKUP).length).toBeGreaterThanOrEqual(2);
  });

  it('falls back to the defaults for options logOptions leaves out', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, maxBackups: undefined },
    });
    for (let i = 0; i < 80; i++) log.logDebug(numbered(i));
    // Default maxBackups is 5, default compress is true.
    expect(backups(GZ_BACKUP)).toHaveLength(5);
  });
});

describe('concurrent plugin processes', () => {
  // Ten ~100-byte lines fit a TINY file; the next one makes the logger rotate.
  function fillToLimit(log: Logger): string[] {
    const written = Array.from({ length: 10 }, (_, i) => numbered(i));
    for (const m of written) log.logDebug(m);
    expect(backups(PLAIN_BACKUP)).toEqual([]);
    return written;
  }

  function configure(log: Logger, file: string): void {
    log.configureLogging({
      logFile: file,
      logToStderr: false,
      logLevel: 'debug',
      logOptions: { maxSize: TINY, compress: false, maxBackups: 0 },
    });
  }

  it('tolerates another process renaming the full file away first', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    configure(log, file);
    const written = fillToLimit(log);
    const othersBackup = path.join(dir, 'multus-2099-01-01T00-00-00.000.log');
    race.afterFstat = () => fs.renameSync(file, othersBackup);

    expect(() => log.logDebug(numbered(10))).not.toThrow();
    expect(stderr).toEqual([]);
    expect(messages(fs.readFileSync(othersBackup, 'utf8'))).toEqual(written);
    expect(messages(fs.readFileSync(file, 'utf8'))).toEqual([numbered(10)]);
    expect(backups(PLAIN_BACKUP)).toEqual([path.basename(othersBackup)]);
  });

  it('does not rotate the fresh file another process has just started', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    configure(log, file);
    const written = fillToLimit(log);
    const othersBackup = path.join(dir, 'multus-2099-01-01T00-00-00.000.log');
    race.afterFstat = () => {
      fs.renameSync(file, othersBackup);
      fs.writeFileSync(file, 'other process line\n');
    };

    log.logDebug(numbered(10));
    expect(stderr).toEqual([]);
    expect(messages(fs.readFileSync(othersBackup, 'utf8'))).toEqual(written);
    expect(fs.readFileSync(file, 'utf8')).toMatch(new RegExp(`^other process line\n.*\\[debug\\] ${numbered(10)}\n$`));
    expect(backups(PLAIN_BACKUP)).toEqual([path.basename(othersBackup)]);
  });

  it('writes a line again when its file was rotated and deleted under it', async () => {
    const log = await freshLogger();
    const file = path.join(dir, 'multus.log');
    configure(log, file);
    log.logDebug('before');
    race.afterFstat = () => {
      const compressed = path.join(dir, 'multus-2099-01-01T00-00-00.000.log');
      fs.renameSync(file, compressed);
      fs.unlinkSync(compressed);
    };

    log.logDebug('not lost');
    expect(stderr).toEqual([]);
    expect(messages(fs.readFileSync(file, 'utf8'))).toEqual(['not lost']);
  });

  it('keeps every line when several loggers share one file', async () => {
    const file = path.join(dir, 'multus.log');
    const a = await freshLogger();
    const b = await freshLogger();
    configure(a, file);
    configure(b, file);
    const written = Array.from({ length: 50 }, (_, i) => numbered(i));
    written.forEach((m, i) => (i % 2 ? b : a).logDebug(m));

    const files = [...backups(PLAIN_BACKUP).map((n) => path.join(dir, n)), file];
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(files.flatMap((f) => messages(fs.readFileSync(f, 'utf8')))).toEqual(written);
  });
});
