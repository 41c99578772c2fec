import { CniError, ErrorCode } from '../cni/errors';
import type { ExecOutcome, ExecRequest, PluginRunner } from '../cni/runner';
import { logError, logVerbose } from '../log/logger';
import { parseJson } from '../cni/json-text';
import { nativeHelper } from '../netlink/native';

const TEXT_FILE_BUSY_RETRIES = 5;

/** A result or an error object is a few kilobytes; a plugin that prints more is broken and must not exhaust memory. */
export const MAX_PLUGIN_OUTPUT = 4 * 1024 * 1024;
/** How long the pipes may stay open after the plugin exited: only a child it left behind keeps them open. */
const PIPE_GRACE_MS = 1000;

/** The environment as "KEY=value" strings, as Node's spawn builds it (unset keys left out, a NUL refused). */
function envPairs(env: NodeJS.ProcessEnv): string[] {
  const pairs: string[] = [];
  for (const key in env) {
    const value = env[key];
    if (value === undefined) continue;
    const pair = `${key}=${value}`;
    if (pair.includes('\0')) throw Object.assign(new TypeError(`the environment variable ${key} contains a null byte`), { code: 'ERR_INVALID_ARG_VALUE' });
    pairs.push(pair);
  }
  return pairs;
}

/**
 * Runs the plugin in a process group of its own, so that a timeout kills it together with anything it started: a
 * child that inherited stdout would otherwise keep the pipe, and this call, open long after the plugin was killed.
 * Whatever happens, the call returns by the deadline (or shortly after the plugin exits), abandoning the pipes.
 * The native helper starts it (posix_spawn) and waits on the event loop (not libuv's thread pool, whose start costs
 * the first plugin 2-3 ms): node:child_process would cost every plugin started about 13 ms (Node's stream and net
 * modules, a stream per pipe, a fork of this 40 MB process).
 * Throws at once, with the errno's code (ETXTBSY, ENOENT...), when the plugin cannot be started.
 */
function runOnce(req: ExecRequest): Promise<ExecOutcome> {
  if (req.pluginPath.includes('\0')) throw Object.assign(new TypeError('the plugin path contains a null byte'), { code: 'ERR_INVALID_ARG_VALUE' });
  const run = nativeHelper().startPlugin(req.pluginPath, envPairs(req.env), req.stdin, req.timeoutMs, MAX_PLUGIN_OUTPUT, PIPE_GRACE_MS, 0);
  // The caller gave up (an in-process plugin past its own deadline): the plugin it started goes too. One started
  // after that is its undo (an IPAM DEL of what it had allocated): a signal that already fired never fires again.
  const stop = (): void => run.stop();
  req.signal?.addEventListener('abort', stop, { once: true });
  return run.done.then((o) => {
    req.signal?.removeEventListener('abort', stop);
    if (o.overflow) {
      return { code: -1, stdout: '', stderr: `${o.stderr}\n(multus: the plugin printed more than ${MAX_PLUGIN_OUTPUT} bytes on stdout and was killed)`, timedOut: false };
    }
    return { code: o.timedOut ? null : o.code, stdout: o.stdout, stderr: o.stderr, timedOut: o.timedOut };
  }, (e: unknown) => {
    req.signal?.removeEventListener('abort', stop);
    throw e;
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
    const e = parseJson(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
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

/**
 * What a plugin run through a runner answered, the way libcni reads it: its stdout, or its failure as the plugin's
 * own CNI error (a timeout as code 11); its stderr goes to the log.
 */
export function pluginStdout(req: ExecRequest, outcome: ExecOutcome): string {
  const failed = outcome.code !== 0;
  logStderr(req.label, outcome.stderr, failed);
  if (outcome.timedOut) {
    // A built-in told to stop may have said why it was slow (who held the lock it waited for).
    const said = outcome.stdout.trim() ? pluginError(outcome) : undefined;
    throw new CniError(ErrorCode.TryAgainLater, `${req.label}: ${req.pluginPath} did not answer within ${req.timeoutMs / 1000}s and was stopped`,
      said ? [said.message, said.details].filter((s) => s).join(': ') : '');
  }
  if (failed) throw pluginError(outcome);
  return outcome.stdout;
}

/**
 * A plugin's ADD answer as libcni decodes it: a JSON object, in the configuration's version `cniVersion` when it
 * names none (libcni's fixupResultVersion). `who` names the plugin in messages.
 */
export function decodeResult(stdout: string, cniVersion: string, who: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseJson(stdout);
  } catch (e) {
    throw new CniError(ErrorCode.DecodingFailure, `${who} printed an invalid result: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodingFailure, `${who} printed a result that is not a JSON object`);
  }
  const obj = raw as Record<string, unknown>;
  if (obj.cniVersion === undefined || obj.cniVersion === '') obj.cniVersion = cniVersion;
  return obj;
}
