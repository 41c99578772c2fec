import { statSync } from 'node:fs';
import { CniError, ErrorCode, toCniError } from './errors';
import { formatResult } from './result';
import { collect, goField, Problems, shown } from './config-reader';
import { readCmdArgs, isSafeName, type CmdArgs, type Command } from './environment';
import type { PendingDel, PluginRunner, ReleasePrepared, StopSignal } from './runner';
import { configVersion, versionAtLeast, versionInfoJson, SUPPORTED_VERSIONS, type CniVersion } from './version';
import { parseJson } from './json-text';

/** One call of a plugin, after the environment and the configuration have been validated. */
export interface Invocation {
  cmd: CmdArgs;
  /** The configuration exactly as received; plugins that must pass it on keep its bytes. */
  stdin: Buffer;
  config: Record<string, unknown>;
  cniVersion: CniVersion;
  env: NodeJS.ProcessEnv;
  /** How this plugin runs others (delegates, IPAM); chosen by whoever started it. */
  runner: PluginRunner;
  /**
   * Aborted when the caller stopped waiting: stop, and undo what was done. Undefined when nobody can: the process's
   * own call.
   */
  signal?: StopSignal;
}

/** What the code that starts a plugin gives it: the runner for the plugins it calls, and its abort signal. */
export interface PluginHost {
  runner: PluginRunner;
  signal?: StopSignal;
  /**
   * Whether two paths (symlinks followed) are one file: 1, 0, or the negative errno of the stat that failed; for the
   * netns check. The executable gives the native helper's (builtins.ts): node:fs's statSync and its Stats were
   * compiled on their first use in every call. Without it, node:fs's stat.
   */
  sameFile?: (a: string, b: string) => number;
}

export interface CniPlugin {
  /** Printed on stderr when the executable is started without CNI_COMMAND. */
  about: string;
  /** Returns the result already converted to the configuration's version. */
  add(inv: Invocation): Promise<Record<string, unknown>>;
  del(inv: Invocation): Promise<void>;
  check(inv: Invocation): Promise<void>;
  status(inv: Invocation): Promise<void>;
  gc(inv: Invocation): Promise<void>;
  /**
   * Optional batch-DEL hook, offered through the registry (src/builtins.ts): given the DELs of this plugin about to
   * run in one pod, it may remove together what they would remove one by one. The DELs still run afterwards.
   */
  delTogether?(dels: PendingDel[]): Promise<void>;
  /**
   * Optional: prepares, with no effect outside this process, for an ADD this process runs later, `inv` as it will
   * get it (see PluginRunner.prepareAdds). Failures are the ADD's to meet, in its order.
   */
  prepareAdd?(inv: Invocation): ReleasePrepared;
}

export interface PluginOutput {
  stdout: string;
  exitCode: number;
  /**
   * A successful ADD's result as the object the plugin returned, `stdout` being its text: a caller in this process
   * takes the object as it is instead of parsing the text (see delegation/add-answer.ts).
   */
  result?: Record<string, unknown>;
}

// The oldest configuration version that may carry each verb.
const MIN_VERSION: Partial<Record<Command, string>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };

function parseConfig(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parseJson(text);
  } catch (e) {
    throw new CniError(ErrorCode.DecodingFailure, `error unmarshall network config: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CniError(ErrorCode.DecodingFailure, 'error unmarshall network config: the configuration must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/**
 * What every plugin requires of its configuration (Go's skel and NetConf decoding): a `name` that is a string of
 * safe characters, a `type` that is a string, a supported `cniVersion` (missing means 0.1.0). Every problem is
 * collected; the version when it is usable.
 */
export function checkNetConf(conf: Record<string, unknown>, problems: Problems): CniVersion | undefined {
  const name = goField(conf, 'name');
  const nameFix = 'set "name" to the network name, e.g. "multus-cni-network" (letters, digits, "_", "." and "-")';
  if (name !== undefined && name !== null && typeof name !== 'string') {
    problems.add({ where: 'name', problem: `${shown(name)} is not a string`, fix: nameFix,
      error: new CniError(ErrorCode.DecodingFailure, `error unmarshall network config: "name" must be a string, got ${JSON.stringify(name)}`) });
  } else if (!name) {
    problems.add({ where: 'name', problem: 'is missing', fix: nameFix, error: new CniError(ErrorCode.InvalidNetworkConfig, 'missing network name') });
  }
  // Every plugin reads its own `type` as a string (Go's NetConf.Type); another value is a configuration error.
  const type = goField(conf, 'type');
  if (type !== undefined && type !== null && typeof type !== 'string') {
    problems.add({ where: 'type', problem: `${shown(type)} is not a string`, fix: 'write "type" as the plugin\'s name, a JSON string',
      error: new CniError(ErrorCode.InvalidNetworkConfig, `"type" must be a string naming the plugin, got ${JSON.stringify(type)}`) });
  }
  if (typeof name === 'string' && name !== '' && !isSafeName(name)) {
    problems.add({ where: 'name', problem: `${shown(name)} has characters a network name cannot have`, fix: nameFix,
      error: new CniError(ErrorCode.InvalidNetworkConfig, 'invalid characters found in network name', name) });
  }
  const raw = goField(conf, 'cniVersion');
  return collect(problems, 'cniVersion', () => configVersion(conf), typeof raw === 'string'
    ? { problem: `${shown(raw)} is not a CNI version multus supports`, fix: `use one of ${SUPPORTED_VERSIONS.join(', ')}` }
    : { problem: `${shown(raw)} is not a string`, fix: `write the version as a JSON string, one of ${SUPPORTED_VERSIONS.join(', ')}` });
}

// The paths found to be another namespace than this process's own (entering a pod's namespace, native/netns.c,
// always comes back to it before returning), so that the ADD of a delegate and of its IPAM plugin, and those of the
// next delegates of the same pod, do not look again (two `stat`s per attachment).
const notOwn = new Set<string>();

function statSameFile(a: string, b: string): number {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino ? 1 : 0;
  } catch {
    return -1;
  }
}

function isOwnNetns(path: string, sameFile: (a: string, b: string) => number): boolean {
  if (notOwn.has(path)) return false;
  const same = sameFile('/proc/self/ns/net', path);
  if (same === 0) notOwn.add(path);
  return same === 1;
}

/**
 * A plugin given the host's own namespace would configure the node instead of the pod; refuse before acting
 * (the Go skel checks after, which is too late to protect anything).
 */
function checkNetnsIsNotOurs(cmd: CmdArgs, env: NodeJS.ProcessEnv, host: PluginHost): void {
  const override = (env.CNI_NETNS_OVERRIDE ?? '').toLowerCase();
  if (override === '1' || override === 'true' || cmd.netns === '') return;
  if (isOwnNetns(cmd.netns, host.sameFile ?? statSameFile)) {
    throw new CniError(ErrorCode.InvalidNetns, "plugin's netns and netns from CNI_NETNS should not be the same");
  }
}

/**
 * A call as the plugin gets it: the Invocation, or, when there is nothing for the plugin to do, the answer already
 * (VERSION's, or the error object the environment or the configuration earns).
 */
export type Call = { inv: Invocation; answer?: undefined } | { answer: PluginOutput };

/** What a verb that succeeded prints: ADD its result (already in the configuration's version), the others nothing. */
export function answer(result?: Record<string, unknown>): PluginOutput {
  if (result === undefined) return { stdout: '', exitCode: 0 };
  // Formatted when first read: an in-process caller takes `result` and never reads it (two results per attachment,
  // the IPAM plugin's and the link plugin's, each formatted and parsed again cost about 0.1 ms).
  let text: string | undefined;
  return {
    exitCode: 0,
    result,
    get stdout() {
      return (text ??= formatResult(result));
    },
  };
}

/** A failed call's CNI error object, in the configuration's version once that is known. */
export function failure(err: unknown, cniVersion?: string): PluginOutput {
  return { stdout: formatResult(toCniError(err).toJSON(cniVersion)), exitCode: 1 };
}

/** A configuration parsed from its text and checked as every plugin requires (the first problem thrown). */
function checkedConfig(text: string): { config: Record<string, unknown>; version: CniVersion } {
  const config = parseConfig(text);
  const problems = new Problems();
  const version = checkNetConf(config, problems)!;
  problems.throwFirst();
  return { config, version };
}

/** A call read ahead of time (prepareCall): its environment as read, its stdin and what the configuration gave. */
interface PreparedCall {
  cmd: CmdArgs;
  /** CNI_PATH as it was (cmd.path is it split, empty entries dropped). */
  path: string;
  stdin: Buffer;
  config: Record<string, unknown>;
  version: CniVersion;
}

/**
 * Calls read for calls that come later in this process (prepareCall), by their stdin's text. Read-only once made:
 * a delegate's call and its IPAM plugin's, which gets the same stdin, share one.
 */
const preparedCalls = new Map<string, PreparedCall>();

/**
 * The prepared call's CmdArgs when every variable readCmdArgs reads says what it said for the prepared one (the
 * delegate's call itself, or its IPAM plugin's, whose environment is a copy of it): checked then, it reads the same.
 */
function preparedCmd(p: PreparedCall | undefined, env: NodeJS.ProcessEnv): CmdArgs | undefined {
  if (!p) return undefined;
  const c = p.cmd;
  return env.CNI_COMMAND === c.command && env.CNI_CONTAINERID === c.containerId && env.CNI_NETNS === c.netns
    && env.CNI_IFNAME === c.ifName && env.CNI_ARGS === c.args && (env.CNI_PATH ?? '') === p.path ? c : undefined;
}

// The same calls by their interface: a call is matched by its environment before its stdin is read (readCmdArgs's
// errors come first), and every call for one attachment (the delegate's, its IPAM plugin's) shares the interface.
const preparedByIfName = new Map<string, PreparedCall>();

/**
 * readCall, ahead of the call (PluginRunner.prepareAdds): the Invocation it will be, and until release() the call
 * itself, when its environment says the same and its stdin is the same text, takes what was read now (its
 * environment and configuration) instead of reading it again. Undefined when the call would fail: it then fails on
 * its own, in its order.
 */
export function prepareCall(env: NodeJS.ProcessEnv, stdin: Buffer, host: PluginHost):
  { inv?: Invocation; release: ReleasePrepared } {
  const call = readCall(env, () => stdin, host);
  if (call.answer) return { release: () => undefined };
  const { inv } = call;
  const text = stdin.toString('utf8');
  if (preparedCalls.has(text)) return { inv, release: () => undefined };
  const p: PreparedCall = { cmd: inv.cmd, path: env.CNI_PATH ?? '', stdin, config: inv.config, version: inv.cniVersion };
  preparedCalls.set(text, p);
  preparedByIfName.set(inv.cmd.ifName, p);
  return {
    inv,
    release: () => {
      preparedCalls.delete(text);
      if (preparedByIfName.get(inv.cmd.ifName) === p) preparedByIfName.delete(inv.cmd.ifName);
    },
  };
}

/**
 * Reads and checks one CNI call (the environment, stdin and the configuration) without touching the process: the
 * same contract serves exec and in-process use. The verb itself is run by builtins.ts's runPlugin.
 */
export function readCall(env: NodeJS.ProcessEnv, readStdin: () => Buffer, host: PluginHost): Call {
  let cniVersion: string | undefined;
  try {
    const early = preparedByIfName.size > 0 ? preparedByIfName.get(env.CNI_IFNAME ?? '') : undefined;
    const cmd = preparedCmd(early, env) ?? readCmdArgs(env);
    if (cmd.command === 'VERSION') return { answer: { stdout: versionInfoJson(), exitCode: 0 } };
    let stdin: Buffer;
    try {
      stdin = readStdin();
    } catch (e) {
      throw new CniError(ErrorCode.IoFailure, `error reading from stdin: ${(e as Error).message}`);
    }
    // The same bytes as prepared (the ADD sends the prepared stdin as it is): no need to decode them to look.
    const checked = early?.stdin === stdin ? early : (preparedCalls.size > 0 ? preparedCalls.get(stdin.toString('utf8')) : undefined)
      ?? checkedConfig(stdin.toString('utf8'));
    const { config, version } = checked;
    cniVersion = version;
    const min = MIN_VERSION[cmd.command];
    if (min && !versionAtLeast(version, min)) {
      throw new CniError(ErrorCode.IncompatibleVersion, `config version does not allow ${cmd.command}`,
        `"cniVersion" is "${version}"; ${cmd.command} needs ${min} or later`);
    }
    if (cmd.command === 'ADD' || cmd.command === 'DEL' || cmd.command === 'CHECK') checkNetnsIsNotOurs(cmd, env, host);
    return { inv: { cmd, stdin, config, cniVersion: version, env, runner: host.runner, signal: host.signal } };
  } catch (err) {
    return { answer: failure(err, cniVersion) };
  }
}

export function aboutText(plugin: CniPlugin): string {
  return `${plugin.about}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}
