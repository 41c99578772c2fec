import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const MULTUS = join(ROOT, 'bin/multus');
export const SPY = join(ROOT, 'test/fixtures/spy-plugin');
export const REFERENCE_PLUGINS = '/usr/lib/cni';

export interface RunOptions {
  command: string;
  conf: unknown;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path?: string;
  env?: Record<string, string>;
  /** Run inside this network namespace (ip netns exec), as a node's kubelet would. */
  inNetns?: string;
}

export interface RunOutcome {
  status: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

function invocation(o: RunOptions): { cmd: string; argv: string[]; env: Record<string, string>; input: string } {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: o.command,
    CNI_CONTAINERID: o.containerId ?? '',
    CNI_NETNS: o.netns ?? '',
    CNI_IFNAME: o.ifName ?? 'eth0',
    CNI_ARGS: o.args ?? '',
    CNI_PATH: o.path ?? REFERENCE_PLUGINS,
    ...o.env,
  };
  const input = typeof o.conf === 'string' ? o.conf : JSON.stringify(o.conf);
  return o.inNetns
    ? { cmd: 'ip', argv: ['netns', 'exec', o.inNetns, MULTUS], env, input }
    : { cmd: MULTUS, argv: [], env, input };
}

function outcome(status: number | null, stdout: string, stderr: string): RunOutcome {
  let json: Record<string, unknown> | undefined;
  try {
    json = stdout ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: status ?? -1, stdout, stderr, json };
}

/** Runs the real executable the way a container runtime does: CNI_* environment, configuration on stdin. */
export function runMultus(o: RunOptions): RunOutcome {
  const { cmd, argv, env, input } = invocation(o);
  const r = spawnSync(cmd, argv, { env, input, encoding: 'utf8', timeout: 60_000 });
  return outcome(r.status, r.stdout, r.stderr);
}

/** The same without blocking this process, for tests that serve the plugin from here (the fake API server). */
export function runMultusAsync(o: RunOptions): Promise<RunOutcome> {
  const { cmd, argv, env, input } = invocation(o);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(outcome(code, stdout, stderr)));
    child.stdin.end(input);
  });
}

/** A private scratch directory: multus's cniDir, IPAM stores, spy logs and a plugin directory with the spy. */
export class Workdir {
  readonly dir = mkdtempSync(join(tmpdir(), 'multus-test-'));
  readonly cniDir = join(this.dir, 'cni');
  readonly ipamDir = join(this.dir, 'ipam');
  readonly binDir = join(this.dir, 'bin');
  readonly spyLog = join(this.dir, 'spy.log');
  /** A stand-in for CNI_NETNS where no real namespace is needed: it exists and is not ours. */
  readonly fakeNetns = join(this.dir, 'netns');

  constructor() {
    mkdirSync(this.binDir);
    symlinkSync(SPY, join(this.binDir, 'spy'));
    mkdirSync(this.fakeNetns);
  }

  /** Every call the spy plugins recorded, in order. */
  spyCalls(): Array<{ command: string; env: Record<string, string>; stdin: Record<string, unknown> }> {
    if (!existsSync(this.spyLog)) return [];
    return readFileSync(this.spyLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let counter = 0;
/** A name unique across parallel test processes and short enough for a link name (15 bytes). */
export function uniqueId(): string {
  counter += 1;
  return `${(process.pid % 0xffff).toString(36)}${counter.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
}
