import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { logDebug, logError, logVerbose } from '../log/logger';

export interface ExecRequest {
  pluginPath: string;
  env: NodeJS.ProcessEnv;
  stdin: Buffer;
  timeoutMs: number;
  /** Names the call in log lines and errors, e.g. `macvlan ADD net1`. */
  label: string;
}

interface RawOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const TEXT_FILE_BUSY_RETRIES = 5;

function runOnce(req: ExecRequest): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(req.pluginPath, [], { env: req.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, req.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A plugin may exit without reading its configuration; that is its answer, not our failure.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.end(req.stdin);
  });
}

/** Interprets a failed plugin's stdout the way libcni does, so its error code and details survive. */
function pluginError(o: RawOutcome): CniError {
  const stdout = o.stdout.trim();
  const status = `exit status ${o.code}`;
  if (stdout === '') {
    const stderr = o.stderr.trim();
    return new CniError(ErrorCode.Internal, stderr ? `netplugin failed: ${JSON.stringify(stderr)}: ${status}` : `netplugin failed with no error message: ${status}`);
  }
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === 'number') {
      return new CniError(e.code, typeof e.msg === 'string' ? e.msg : '', typeof e.details === 'string' ? e.details : '');
    }
  } catch {
    // fall through: not an error object
  }
  return new CniError(ErrorCode.Internal, `netplugin failed but error parsing its diagnostic message ${JSON.stringify(stdout)}: ${status}`);
}

function logStderr(label: string, stderr: string, failed: boolean): void {
  for (const line of stderr.split('\n')) {
    if (line.trim() === '') continue;
    if (failed) logError(`${label}: stderr: ${line}`);
    else logVerbose(`${label}: stderr: ${line}`);
  }
}

function realpathOrEmpty(path: string | undefined): string {
  try {
    return path ? realpathSync(path) : '';
  } catch {
    return '';
  }
}

/** Whether the plugin binary at `pluginPath` is this very executable (a symlink to it, under a plugin's name). */
export function isThisExecutable(pluginPath: string): boolean {
  return realpathOrEmpty(pluginPath) === realpathOrEmpty(process.argv[1]);
}

/**
 * A plugin whose binary is this very executable (a symlink to it in binDir or CNI_PATH) runs in this process, with
 * the same configuration, environment and outcome as if it had been started: no new process, no second start-up.
 * The binary on the path decides, as in every runtime, so installed reference plugins keep being executed.
 */
async function runInProcess(req: ExecRequest): Promise<RawOutcome | undefined> {
  if (!isThisExecutable(req.pluginPath)) return undefined;
  const { isBuiltinPlugin, loadBuiltinPlugin } = await import('../plugins/registry');
  const name = basename(req.pluginPath);
  if (!isBuiltinPlugin(name)) return undefined;
  const { runPlugin } = await import('../cni/skel');
  logDebug(`${req.label}: ${req.pluginPath} is this executable; running ${name} in-process`);
  const out = await runPlugin(await loadBuiltinPlugin(name), req.env, () => req.stdin);
  return { code: out.exitCode, stdout: out.stdout, stderr: '', timedOut: false };
}

/** Executes a plugin binary and returns its stdout; a failure becomes the plugin's own CNI error. */
export async function execPlugin(req: ExecRequest): Promise<string> {
  let outcome = await runInProcess(req);
  for (let attempt = 0; outcome === undefined; attempt++) {
    try {
      outcome = await runOnce(req);
    } catch (e) {
      // The binary may be mid-update by an installer; libcni retries the same way.
      if ((e as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < TEXT_FILE_BUSY_RETRIES) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new CniError(ErrorCode.Internal, `${req.label}: cannot run ${req.pluginPath}: ${(e as Error).message}`);
    }
  }
  const failed = outcome.code !== 0;
  logStderr(req.label, outcome.stderr, failed);
  if (outcome.timedOut) {
    throw new CniError(ErrorCode.TryAgainLater, `${req.label}: ${req.pluginPath} did not answer within ${req.timeoutMs / 1000}s and was killed`);
  }
  if (failed) throw pluginError(outcome);
  return outcome.stdout;
}
