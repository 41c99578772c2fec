import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { answer, failure, prepareCall, readCall, type CniPlugin, type PluginHost, type PluginOutput } from './cni/skel';
import { Stop, type ExecOutcome, type ExecRequest, type PendingAdd, type PendingDel, type PluginRunner, type ReleasePrepared } from './cni/runner';
import { spawnRunner } from './delegation/exec-plugin';
import { isLevelEnabled, logDebug, logError } from './log/logger';
import { nativeHelper } from './netlink/native';
import { MAX_FILE_BYTES } from './util/bounded-read';
import { bundleFor, bundleHolds, isBuiltinName, type BuiltinName, type BundleName } from './builtin-bundles';
import { writeStdout } from './util/stdout';

/*
 * A CNI call of this executable, the plugins it can be, and the runner that runs them in this process. The runtime
 * picks one by the name it starts the executable under (a symlink in /opt/cni/bin), exactly as it would pick a
 * reference binary; a delegate or IPAM call whose binary is this executable runs in-process. Each plugin is loaded
 * only when asked for, so a process that is `multus` never pays for the others. Nothing below this file knows these
 * names: the runner is handed down through every Invocation.
 *
 * main.ts loads this module only for a CNI call (CNI_COMMAND set); the build bundles it, with everything it can
 * reach, into one file (scripts/bundle.mjs) that main.ts loads with its V8 code cache, and once more without multus
 * for the processes started as one of the other plugins (the names and their bundles: builtin-bundles.ts).
 */

const MULTUS_ABOUT = 'CNI multus plugin (multus-ts): meta-plugin that delegates to other CNI plugins';

const LOADERS: Record<BuiltinName, () => Promise<CniPlugin>> = {
  // Each verb loads only its own module (and what it imports): a STATUS, which the runtime may ask for often, never
  // loads ADD's code.
  multus: async () => ({
    about: MULTUS_ABOUT,
    add: async (inv) => (await import('./multus/add')).cmdAdd(inv),
    del: async (inv) => (await import('./multus/del')).cmdDel(inv),
    check: async (inv) => (await import('./multus/check')).cmdCheck(inv),
    status: async (inv) => (await import('./multus/status')).cmdStatus(inv),
    gc: async (inv) => (await import('./multus/gc')).cmdGc(inv),
  }),
  macvlan: async () => (await import('./plugins/macvlan/plugin')).macvlanPlugin,
  ipvlan: async () => (await import('./plugins/ipvlan/plugin')).ipvlanPlugin,
  'host-local': async () => (await import('./plugins/host-local/plugin')).hostLocalPlugin,
  passthru: async () => (await import('./plugins/passthru/plugin')).passthruPlugin,
};

/** The names the executable answers to (the installer links the ones asked for). */
export const BUILTIN_PLUGINS: readonly string[] = Object.keys(LOADERS);

export function isBuiltinPlugin(name: string): boolean {
  return isBuiltinName(name);
}

// Each plugin loaded once: every in-process call asks for its plugin (16 attachments, 64 times in a pod's ADD).
const loaded = new Map<BuiltinName, Promise<CniPlugin>>();

/** The plugin `name`; any other name is multus, the executable's own name. */
export function loadBuiltinPlugin(name: string): Promise<CniPlugin> {
  const key = isBuiltinName(name) ? name : 'multus';
  let plugin = loaded.get(key);
  if (!plugin) {
    plugin = LOADERS[key]();
    loaded.set(key, plugin);
    plugin.catch(() => loaded.delete(key));
  }
  return plugin;
}

/** Runs one CNI call of `plugin` in this process: the call as skel.ts reads it, then the verb. */
export async function runPlugin(plugin: CniPlugin, env: NodeJS.ProcessEnv, readStdin: () => Buffer, host: PluginHost): Promise<PluginOutput> {
  const call = readCall(env, readStdin, host);
  if (call.answer) return call.answer;
  const { inv } = call;
  try {
    switch (inv.cmd.command) {
      case 'ADD':
        return answer(await plugin.add(inv));
      case 'DEL':
        await plugin.del(inv);
        break;
      case 'CHECK':
        await plugin.check(inv);
        break;
      case 'STATUS':
        await plugin.status(inv);
        break;
      case 'GC':
        await plugin.gc(inv);
        break;
    }
    return answer();
  } catch (err) {
    return failure(err, inv.cniVersion);
  }
}

/** The executable's own CNI call: the plugin `name` it was started under, with the runtime's environment and stdin. */
export async function runCni(name: string): Promise<void> {
  // main.ts loaded the bundle of this name: the plugins it runs in-process are the ones that bundle holds.
  const bundle = bundleFor(name);
  const runner = bundle === 'builtins' ? builtinRunner : makeRunner(new Set(), bundle);
  const out = await runPlugin(await loadBuiltinPlugin(name), process.env, readStdin, { runner, sameFile });
  answerOut(out.stdout);
  process.exitCode = out.exitCode;
  // The answer and every log line are written synchronously, and 'exit' comes once the event loop ran dry (the code
  // cache's listener, added earlier, has run): nothing is left for Node's teardown to flush, which takes a call
  // about 1.3 ms more than ending the process. (`on`: see code-cache.ts's listener.)
  process.on('exit', (code) => {
    try {
      nativeHelper().exitNow(code);
    } catch {
      // Without the helper, Node ends the process itself.
    }
  });
}

/**
 * The runtime's configuration, all of stdin up to a bound, read by the native helper: Node's readSync and Buffer
 * functions, compiled on their first use, cost every call about as much as the read.
 */
function readStdin(): Buffer {
  const fs = nativeHelper();
  const bytes = fs.fsReadBytes(0, MAX_FILE_BYTES);
  if (bytes === -fs.fsErrno.EFBIG) throw new Error(`more than ${MAX_FILE_BYTES} bytes`);
  if (typeof bytes === 'number') throw new Error(`cannot read stdin: ${fs.fsErrorText(bytes)}`);
  return bytes;
}

/** The netns check's comparison (skel.ts) by the native helper. */
function sameFile(a: string, b: string): number {
  return nativeHelper().fsSameFile(a, b);
}

// At most what a pipe takes whole or not at all (PIPE_BUF), counting 3 bytes of UTF-8 per character.
const ATOMIC_ANSWER_CHARS = Math.floor(4096 / 3);

/**
 * The answer to fd 1 through the native helper, which a CNI call has loaded by then (its locks, its rtnetlink socket,
 * the plugins it starts): Node's Buffer.from and writeSync, compiled on their first use in the process, took a call
 * 0.15 ms. Only an answer a pipe (what a runtime gives a plugin) takes in one write: a longer one, a descriptor that
 * refused it (EAGAIN, when the runtime left it non-blocking and full), or no helper take writeStdout's way.
 */
function answerOut(text: string): void {
  if (text === '') return;
  if (text.length <= ATOMIC_ANSWER_CHARS) {
    try {
      if (nativeHelper().fsWrite(1, text, -1) >= 0) return;
    } catch {
      // no helper: Node's write below
    }
  }
  writeStdout(text);
}

function realpathOrEmpty(path: string | undefined): string {
  try {
    return path ? realpathSync(path) : '';
  } catch {
    return '';
  }
}

let self: string | undefined;

/**
 * The built-in a plugin binary stands for, when it is this very executable under the name of a built-in whose code
 * this process holds (`bundle`); any other is started, as any binary is.
 */
function builtinAt(pluginPath: string, bundle: BundleName): string | undefined {
  const name = basename(pluginPath);
  if (!isBuiltinName(name) || !bundleHolds(bundle, name)) return undefined;
  self ??= realpathOrEmpty(process.argv[1]);
  return self !== '' && realpathOrEmpty(pluginPath) === self ? name : undefined;
}

// How long a built-in past its deadline gets to undo its work (it was told to stop through its abort signal)
// before the call fails anyway; the caller's rollback DEL then removes whatever is left.
const UNDO_GRACE_MS = 5_000;

// The deadlines of in-process calls not armed yet, and the one immediate that arms those still running when the
// event loop turns: a pod's ADD runs all its built-in calls (two per attachment) within a turn or two, and an
// immediate of its own per call cost about 0.05 ms each (Node's Immediate and its async resource, then clearing it).
const unarmed = new Set<() => void>();
let arming: NodeJS.Immediate | undefined;

function armWhenLoopTurns(arm: () => void): void {
  unarmed.add(arm);
  arming ??= setImmediate(() => {
    arming = undefined;
    const due = [...unarmed];
    unarmed.clear();
    for (const a of due) a();
  });
}

/**
 * Runs `plugin` in this process under `req`'s deadline. An in-process call cannot be killed, so at the deadline the
 * plugin's abort signal fires: its waits end, the plugins it started are killed, and it undoes what it did on its
 * usual failure path. The call reports a timeout (code 11) once it has done so, or after `graceMs`.
 */
export async function runWithDeadline(plugin: CniPlugin, req: ExecRequest, runner: PluginRunner,
  graceMs = UNDO_GRACE_MS): Promise<ExecOutcome> {
  const stop = new Stop();
  const deadline = Date.now() + req.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  let giveUp = (): void => undefined;
  // Settles at the deadline, or when the caller gives up (its own deadline passed), whichever comes first.
  const ended = new Promise<'ended'>((resolve) => {
    giveUp = () => resolve('ended');
  });
  // A built-in's system calls are synchronous, so most calls end before the event loop next turns, and need no
  // timer: it is armed, for the time left, only if the loop turns while the call still runs (it waits for a lock, a
  // process, the kernel's DAD). The timer was 0.1 ms of every call, and 0.5 ms of a process's first.
  const arm = (): void => {
    timer = setTimeout(giveUp, Math.max(0, deadline - Date.now()));
  };
  armWhenLoopTurns(arm);
  if (req.signal?.aborted) giveUp();
  req.signal?.addEventListener('abort', giveUp, { once: true });
  const call = runPlugin(plugin, req.env, () => req.stdin, { runner, signal: stop, sameFile });
  try {
    const first = await Promise.race([call, ended]);
    if (first !== 'ended') {
      // stdout is read through, so that a result's text is only made if someone reads it (skel.ts's answer).
      return { code: first.exitCode, get stdout() { return first.stdout; }, stderr: '', timedOut: false, result: first.result };
    }
    stop.abort();
    let grace: NodeJS.Timeout | undefined;
    const settled = await Promise.race([call, new Promise<undefined>((r) => { grace = setTimeout(() => r(undefined), graceMs); })]);
    clearTimeout(grace);
    if (!settled) logError(`${req.label}: still running ${graceMs / 1000}s after it was told to stop`);
    // What it said when it stopped (e.g. who held the lock it was waiting for) goes into the timeout's details.
    return { code: null, stdout: settled?.exitCode ? settled.stdout : '', stderr: '', timedOut: true };
  } finally {
    unarmed.delete(arm);
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', giveUp);
  }
}

// How a pinned built-in shows up where a binary's path would: in log lines and errors.
const PINNED = 'builtin:';

/**
 * The runner every plugin of this process gets: a binary that is this executable under a built-in's name runs
 * in-process (no new process, no second start-up), anything else is started. The binary on the path decides, as in
 * every runtime, so installed reference plugins keep being executed, except for the types `pinned` names (multus's
 * `builtinPlugins`), which run in-process whatever the path holds. The plugins it runs get the same runner, so the
 * host-local IPAM of a built-in delegate is pinned too when host-local is. `bundle` is the one this process loaded.
 */
function makeRunner(pinned: ReadonlySet<string>, bundle: BundleName): PluginRunner {
  const at = (pluginPath: string): string | undefined =>
    pluginPath.startsWith(PINNED) ? pluginPath.slice(PINNED.length) : builtinAt(pluginPath, bundle);
  const runner: PluginRunner = {
    async run(req) {
      const name = at(req.pluginPath);
      if (name === undefined) return spawnRunner.run(req);
      if (isLevelEnabled('debug')) logDebug(`${req.label}: ${req.pluginPath.startsWith(PINNED) ? `${name} is a built-in plugin` : `${req.pluginPath} is this executable`}; running ${name} in-process`);
      return runWithDeadline(await loadBuiltinPlugin(name), req, runner);
    },

    builtinAt: at,

    pinnedPath: (type) => (pinned.has(type) ? `${PINNED}${type}` : undefined),

    pinning: (types) => makeRunner(new Set([...pinned, ...types.filter((t) => isBuiltinPlugin(t) && t !== 'multus')]), bundle),

    /** Offers the DELs to the built-ins that do part of a DEL better together (the link plugins' kernel batch). */
    async beforeDels(dels: PendingDel[]) {
      const byHook = new Map<NonNullable<CniPlugin['delTogether']>, PendingDel[]>();
      for (const d of dels) {
        const name = at(d.pluginPath);
        const hook = name === undefined ? undefined : (await loadBuiltinPlugin(name)).delTogether;
        if (hook) byHook.set(hook, [...(byHook.get(hook) ?? []), d]);
      }
      for (const [hook, group] of byHook) await hook(group);
    },

    /**
     * Loads the built-ins of these ADDs, reads and checks each call as it will come (skel.ts's prepareCall), and
     * lets the plugin prepare for it (the link plugins: their configuration, the pod's fds, their IPAM plugin's call).
     */
    prepareAdds(adds: PendingAdd[], until?: Promise<unknown>): ReleasePrepared {
      let released = false;
      let waited = false;
      until?.then(() => { waited = true; }, () => { waited = true; });
      const releases: ReleasePrepared[] = [];
      const prepare = async (): Promise<void> => {
        for (const add of adds) {
          const name = at(add.pluginPath);
          if (name === undefined) continue;
          // Lets the event loop deliver the awaited plugin's answer first.
          if (until) await new Promise((resolve) => setImmediate(resolve));
          const plugin = await loadBuiltinPlugin(name);
          if (released || waited) return;
          const { inv, release } = prepareCall(add.env, add.stdin, { runner, sameFile });
          releases.push(release);
          if (inv && plugin.prepareAdd) releases.push(plugin.prepareAdd(inv));
        }
      };
      // Nothing of it is needed for the ADDs to work: they do what was not prepared themselves.
      prepare().catch((e: unknown) => logDebug(`preparing the next ADDs: ${(e as Error).message}`));
      return () => {
        released = true;
        for (const release of releases.splice(0)) release();
      };
    },
  };
  return runner;
}

/** The runner of a process that holds every built-in (multus, the command line, tests). */
export const builtinRunner: PluginRunner = makeRunner(new Set(), 'builtins');
