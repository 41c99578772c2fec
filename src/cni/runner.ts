import { CniError, ErrorCode } from './errors';

/*
 * The seam through which anything runs a CNI plugin (libcni's invoke.Exec): a plugin binary, for one verb, with
 * its environment and stdin, under a deadline. The spawning runner (delegation/exec-plugin.ts) starts the binary;
 * the built-ins' runner (src/builtins.ts, at the top) runs a binary that is this executable in-process and hands
 * everything else to the spawning one. Whoever starts the process picks the runner and hands it down, so no layer
 * below the top knows which plugins are built in.
 */

export interface ExecRequest {
  pluginPath: string;
  env: NodeJS.ProcessEnv;
  stdin: Buffer;
  /** The deadline: a plugin that has not answered by then is stopped and the call fails with code 11. */
  timeoutMs: number;
  /** Names the call in log lines and errors, e.g. `macvlan ADD net1`. */
  label: string;
  /** Aborted when the caller gave up (its own deadline passed): the plugin must stop, undoing what it did. */
  signal?: StopSignal;
}

/**
 * What tells a plugin to stop: the part of AbortSignal that plugins use (an AbortSignal is one). Each in-process
 * call gets one, and Node's AbortController costs a process about 1 ms to load and each call 0.1-0.2 ms more, on
 * a pod's path where a call's own work is about 1 ms.
 */
export interface StopSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A StopSignal and its abort(): every listener runs once, at the first abort(). */
export class Stop implements StopSignal {
  aborted = false;
  private readonly listeners = new Set<() => void>();

  // Listeners run once whatever `options` say: a Stop aborts once.
  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.aborted) this.listeners.add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const l of this.listeners) l();
    this.listeners.clear();
  }
}

/** What a plugin did, before interpretation (delegation/exec-plugin.ts turns it into stdout or a CniError). */
export interface ExecOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** An in-process plugin's successful ADD: the result object it returned, whose text `stdout` is (skel.ts's answer). */
  result?: Record<string, unknown>;
}

/** One attachment whose DEL is about to run: the plugin binary, the pod's namespace and the interface. */
export interface PendingDel {
  pluginPath: string;
  netns: string;
  ifName: string;
}

/**
 * One ADD that a call will run later, after the plugin it runs now, with the environment and stdin it will have: what
 * a runner may prepare for it while it waits (see PluginRunner.prepareAdds).
 */
export type PendingAdd = Pick<ExecRequest, 'pluginPath' | 'env' | 'stdin'>;

/** Lets go of what a preparation holds; safe to call while the preparation is still under way. */
export type ReleasePrepared = () => void;

export interface PluginRunner {
  run(req: ExecRequest): Promise<ExecOutcome>;
  /** The built-in plugin this runner runs in-process for the binary at `pluginPath`, if any. */
  builtinAt?(pluginPath: string): string | undefined;
  /**
   * The plugin path this runner answers for `type` itself, whatever the plugin directories hold (a built-in it runs
   * in-process by type, multus's `builtinPlugins`); undefined when the binary on the path decides.
   */
  pinnedPath?(type: string): string | undefined;
  /** This runner, also running the built-ins named in `types` in-process whatever binary the path holds. */
  pinning?(types: readonly string[]): PluginRunner;
  /**
   * Told about the DELs of one pod before they run, a runner may do part of their work together (the built-in
   * link plugins delete their links in one kernel batch). The DELs still run afterwards and must find the work done.
   */
  beforeDels?(dels: PendingDel[]): Promise<void>;
  /**
   * Told, while a call waits for one plugin, which ADDs it runs next, a runner may prepare for them what changes
   * nothing outside this process (load a built-in's code, read and check its configuration, open the pod's namespace
   * and a socket in it), so that they start sooner. Anything that touches the kernel's or a store's state still
   * happens in the ADD, in order; an ADD redoes what its preparation could not do or what went stale. The caller
   * releases it when its ADDs are done, however they ended. With `until` (the plugin the call waits for), the ADDs
   * are prepared one by one, each when the event loop has turned, and no more once it settled: the preparation never
   * holds up the call's own work for longer than one ADD's.
   */
  prepareAdds?(adds: PendingAdd[], until?: Promise<unknown>): ReleasePrepared;
}

/**
 * Ends a plugin's work when its caller has given up (the signal of its Invocation): its usual failure path then
 * undoes what it did. Called at the points where a plugin waits.
 */
export function stopIfAborted(signal: StopSignal | undefined): void {
  if (signal?.aborted) throw new CniError(ErrorCode.TryAgainLater, 'stopped: the caller\'s deadline passed');
}
