import { watch, type FSWatcher } from 'node:fs';
import { makeDirs } from '../util/atomic-file';
import { dirname } from 'node:path';
import { toCniError } from '../cni/errors';
import { appManifest } from './app-files';
import { installVersion, linkBuiltinPlugins, pruneVersions, removeAllVersions, removeOurLinks, switchMultusLink } from './app-install';
import { HostFiles, type InstallIo } from './host-files';
import { expiryWarning, nextCheckDelay, syncKubeconfig } from './kubeconfig';
import { copyMultusConfig, removeMultusConfig, syncMultusConfig, type ConfigState } from './multus-conf';
import { onHost, parseInstallFlags, type InstallOptions, type RawInstallFlags } from './options';

/*
 * The install command: the executable once, then the kubeconfig and 00-multus (once, or kept current with --watch
 * until SIGTERM). The kubeconfig goes first because the configuration names it: a runtime that finds 00-multus
 * must find the kubeconfig too.
 */

export interface RunContext {
  io: InstallIo;
  env: NodeJS.ProcessEnv;
  /** Ends --watch; without it SIGTERM and SIGINT do. */
  signal?: AbortSignal;
  appRoot?: string;
  nodeBinary?: string;
}

// Primary-network plugins often write their file in several steps; one look after the burst of events is enough.
const SETTLE_MS = 200;

function message(e: unknown): string {
  const err = toCniError(e);
  return err.details ? `${err.message} (${err.details})` : err.message;
}

interface TickOutcome {
  delayMs: number;
  problems: string[];
  primaryFile?: string;
}

function syncKubeconfigInto(o: InstallOptions, files: HostFiles, env: NodeJS.ProcessEnv, now: number, out: TickOutcome): boolean {
  if (o.kubeconfigPath === '') return true;
  try {
    const k = syncKubeconfig(o, files, env);
    out.delayMs = nextCheckDelay(o.intervalMs, k.expiresAt, o.tokenMarginMs, now);
    const warning = expiryWarning(k.expiresAt, o.tokenMarginMs, now);
    if (warning) out.problems.push(warning);
    return true;
  } catch (e) {
    out.problems.push(`kubeconfig not written: ${message(e)}`);
    return false;
  }
}

/** One pass over the files that must track the node: kubeconfig, then 00-multus (or its copy). Never throws. */
function syncFiles(o: InstallOptions, files: HostFiles, env: NodeJS.ProcessEnv, now: number, state: ConfigState = {}): TickOutcome {
  const out: TickOutcome = { delayMs: o.intervalMs, problems: [] };
  if (o.appOnly || !syncKubeconfigInto(o, files, env, now, out)) return out;
  try {
    if (o.multusConfFile !== '') {
      out.primaryFile = copyMultusConfig(o, files);
    } else {
      const c = syncMultusConfig(o, files, state);
      out.primaryFile = c.primary.file;
      out.problems.push(...c.warnings);
    }
  } catch (e) {
    out.problems.push(`multus configuration not written (the last good one stays): ${message(e)}`);
  }
  return out;
}

/**
 * Installs the executable. The new version's directory is complete before anything points at it, and the
 * kubeconfig is written before the link switches, so the first ADD of the new version finds everything it needs;
 * returns the installed version's id ('' with --skip-app-install).
 */
function installApp(o: InstallOptions, files: HostFiles, ctx: RunContext): string {
  let id = '';
  if (o.installApp) {
    const app = appManifest(o.appRoot ?? ctx.appRoot, ctx.nodeBinary);
    id = app.id;
    installVersion(o, app, files);
    if (!o.appOnly && o.kubeconfigPath !== '') {
      const tick: TickOutcome = { delayMs: o.intervalMs, problems: [] };
      syncKubeconfigInto(o, files, ctx.env, Date.now(), tick);
      for (const p of tick.problems) files.io.log(p);
    }
    switchMultusLink(o, id, files);
    pruneVersions(o, id, files);
  }
  linkBuiltinPlugins(o, o.linkBuiltinPlugins, o.force, files);
  return id;
}

/** Resolves after `ms`, or earlier when woken or stopped. */
class Sleeper {
  private wake: (() => void) | undefined;

  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }

  /** Ends the current sleep shortly, so that a burst of changes is looked at once, after it. */
  wakeSoon(): void {
    setTimeout(() => this.wake?.(), SETTLE_MS);
  }
}

function stopSignal(ctx: RunContext): { signal: AbortSignal; release(): void } {
  if (ctx.signal) return { signal: ctx.signal, release: () => undefined };
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return {
    signal: ac.signal,
    release: () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    },
  };
}

async function watchLoop(o: InstallOptions, files: HostFiles, ctx: RunContext, installed: string): Promise<void> {
  const { signal, release } = stopSignal(ctx);
  const sleeper = new Sleeper();
  const confDir = onHost(o, o.autoconfigDir);
  makeDirs(confDir, 0o755);
  let watcher: FSWatcher | undefined;
  try {
    // A change in the conf dir is acted on at once: pods created between the primary's file and ours would get
    // no secondary networks. Polling stays, for what inotify does not see (token rotation, other mounts).
    watcher = watch(confDir, () => sleeper.wakeSoon());
    watcher.on('error', () => watcher?.close());
  } catch {
    watcher = undefined;
  }
  let reported = '';
  let primaryFile: string | undefined;
  let first = true;
  const state: ConfigState = {};
  try {
    while (!signal.aborted) {
      const tick = syncFiles(o, files, ctx.env, Date.now(), state);
      if (tick.primaryFile !== undefined && tick.primaryFile !== primaryFile) {
        primaryFile = tick.primaryFile;
        files.io.log(`primary network: ${primaryFile}`);
      }
      // The same problem every few seconds is noise; say it when it appears and when it is gone.
      const now = tick.problems.join('\n');
      if (now !== reported) {
        for (const p of tick.problems) files.io.log(p);
        if (now === '' && reported !== '') files.io.log('no problems any more');
        reported = now;
      }
      if (first) {
        // After the first pass: from here on the files are there, or the problems above say why not.
        files.io.log(`watching ${confDir} every ${o.intervalMs / 1000} s`);
        first = false;
      }
      if (installed !== '') {
        try {
          pruneVersions(o, installed, files);
        } catch (e) {
          files.io.log(`removing old versions failed: ${message(e)}`);
        }
      }
      await sleeper.sleep(tick.delayMs, signal);
    }
  } finally {
    watcher?.close();
    release();
  }
}

/** Waits for SIGTERM (or the context's signal) without touching anything. */
async function waitForStop(ctx: RunContext): Promise<void> {
  const { signal, release } = stopSignal(ctx);
  await new Sleeper().sleep(2 ** 31 - 1, signal);
  release();
}

/**
 * Removes everything the installer put on the host, in the order that keeps the node consistent: the
 * configuration first (the runtime stops calling multus), then the links (nothing runs a version any more), the
 * kubeconfig and the version directories. Files it did not make (other plugins, someone else's links) stay.
 */
export function uninstall(o: InstallOptions, files: HostFiles): void {
  // --app-only: the configuration may be someone else's by now (Go Multus's, after moving back).
  if (!o.appOnly) removeMultusConfig(o, files);
  removeOurLinks(o, files);
  if (o.kubeconfigPath !== '') {
    const kubeconfig = onHost(o, o.kubeconfigPath);
    files.remove(kubeconfig);
    files.removeEmptyDir(dirname(kubeconfig));
  }
  removeAllVersions(o, files);
}

function stop(o: InstallOptions, files: HostFiles): void {
  files.io.log('stopping');
  if (o.cleanupOnExit) uninstall(o, files);
}

/** Runs the install command; resolves to the exit status. */
export async function runInstall(flags: RawInstallFlags, ctx: RunContext): Promise<number> {
  try {
    const o = parseInstallFlags(flags);
    const files = new HostFiles(o.dryRun, ctx.io);
    const installed = installApp(o, files, ctx);
    if (o.watch && !o.dryRun && !o.appOnly && o.multusConfFile === '') {
      await watchLoop(o, files, ctx, installed);
      stop(o, files);
      return 0;
    }
    const tick = syncFiles(o, files, ctx.env, Date.now());
    for (const p of tick.problems) ctx.io.log(p);
    if ((o.watch || o.stayRunning) && !o.dryRun) {
      await waitForStop(ctx);
      stop(o, files);
      return 0;
    }
    // Warnings alone (a token close to expiry, a file sorting first) do not fail a one-shot run; missing files do.
    return tick.primaryFile === undefined && !o.appOnly ? 1 : 0;
  } catch (e) {
    ctx.io.log(`install failed: ${message(e)}`);
    return 1;
  }
}

/** Runs the uninstall command; resolves to the exit status. */
export async function runUninstall(flags: RawInstallFlags, ctx: RunContext): Promise<number> {
  try {
    const o = parseInstallFlags(flags);
    uninstall(o, new HostFiles(o.dryRun, ctx.io));
    return 0;
  } catch (e) {
    ctx.io.log(`uninstall failed: ${message(e)}`);
    return 1;
  }
}
