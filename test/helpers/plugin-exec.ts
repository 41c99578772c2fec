import { spawn, spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const MULTUS = join(ROOT, 'bin/multus');
export const REFERENCE_PLUGINS = '/usr/lib/cni';

/** One CNI call of a plugin executable, as a runtime makes it. */
export interface PluginCall {
  command: string;
  conf: unknown;
  containerId?: string;
  ifName?: string;
  /** Any existing path that is not our own namespace will do for IPAM plugins. */
  netns?: string;
  args?: string;
  path?: string;
  env?: Record<string, string>;
  /** Run inside this network namespace (ip netns exec), as a node's container runtime would. */
  inNetns?: string;
}

export interface RunOutcome {
  status: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

function invocation(binary: string, c: PluginCall): { cmd: string; argv: string[]; env: Record<string, string>; input: string } {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: c.command,
    CNI_CONTAINERID: c.containerId ?? '',
    CNI_NETNS: c.netns ?? '',
    CNI_IFNAME: c.ifName ?? 'eth0',
    CNI_ARGS: c.args ?? '',
    CNI_PATH: c.path ?? REFERENCE_PLUGINS,
    ...c.env,
  };
  const input = typeof c.conf === 'string' ? c.conf : JSON.stringify(c.conf);
  return c.inNetns ? { cmd: 'ip', argv: ['netns', 'exec', c.inNetns, binary], env, input } : { cmd: binary, argv: [], env, input };
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

/** Runs any plugin executable (ours under a plugin name, or a reference binary) and waits for it. */
export function execPluginSync(binary: string, c: PluginCall): RunOutcome {
  const { cmd, argv, env, input } = invocation(binary, c);
  const r = spawnSync(cmd, argv, { env, input, encoding: 'utf8', timeout: 60_000 });
  return outcome(r.status, r.stdout, r.stderr);
}

/**
 * The same without blocking, so that many calls can run at once, or a test can serve the plugin from this process
 * (the fake API server).
 */
export function execPluginAsync(binary: string, c: PluginCall): Promise<RunOutcome> {
  const { cmd, argv, env, input } = invocation(binary, c);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve(outcome(status, stdout, stderr)));
    child.stdin.end(input);
  });
}

/** Makes our executable the built-in plugin `name` by the name it is started under, in `dir`; returns its path. */
export function ourPlugin(dir: string, name: string): string {
  const path = join(dir, name);
  symlinkSync(MULTUS, path);
  return path;
}
