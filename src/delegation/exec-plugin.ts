import { spawn } from 'node:child_process';
import { CniError, ErrorCode } from '../cni/errors';
import type { ExecOutcome, ExecRequest, PluginRunner } from '../cni/runner';
import { logError, logVerbose } from '../log/logger';

const TEXT_FILE_BUSY_RETRIES = 5;

function runOnce(req: ExecRequest): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(req.pluginPath, [], { env: req.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const stop = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(stop, req.timeoutMs);
    // The caller gave up (an in-process plugin past its own deadline): the plugin it started goes too.
    req.signal?.addEventListener('abort', stop, { once: true });
    const done = () => {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', stop);
    };
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A plugin may exit without reading its configuration; that is its answer, not our failure.
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => {
      done();
      reject(e);
    });
    child.on('close', (code) => {
      done();
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), timedOut });
    });
    child.stdin.end(req.stdin);
  });
}

/** Interprets a failed plugin's stdout the way libcni does, so its error code and details survive. */
function pluginError(o: ExecOutcome): CniError {
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

/** The default runner: starts the plugin binary, and kills it at the deadline or when the caller aborts. */
export const spawnRunner: PluginRunner = {
  async run(req) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await runOnce(req);
      } catch (e) {
        // The binary may be mid-update by an installer; libcni retries the same way.
        if ((e as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < TEXT_FILE_BUSY_RETRIES) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new CniError(ErrorCode.Internal, `${req.label}: cannot run ${req.pluginPath}: ${(e as Error).message}`);
      }
    }
  },
};

/** Runs a plugin through `runner` and returns its stdout; a failure becomes the plugin's own CNI error. */
export async function execPlugin(runner: PluginRunner, req: ExecRequest): Promise<string> {
  const outcome = await runner.run(req);
  const failed = outcome.code !== 0;
  logStderr(req.label, outcome.stderr, failed);
  if (outcome.timedOut) {
    throw new CniError(ErrorCode.TryAgainLater, `${req.label}: ${req.pluginPath} did not answer within ${req.timeoutMs / 1000}s and was stopped`);
  }
  if (failed) throw pluginError(outcome);
  return outcome.stdout;
}
