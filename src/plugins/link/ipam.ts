import { CniError, ErrorCode } from '../../cni/errors';
import type { Command } from '../../cni/environment';
import { parseResult, type Result } from '../../cni/result';
import type { ExecRequest } from '../../cni/runner';
import type { Invocation } from '../../cni/skel';
import { decodeAnswer, pluginAnswer, type PluginAnswer } from '../../delegation/add-answer';
import { locatePlugin } from '../../delegation/plugin-path';

// The reference plugins wait for IPAM without limit; the runtime's own timeout is the real bound, this only
// makes sure a hung IPAM binary cannot outlive it.
const IPAM_TIMEOUT_MS = 120_000;

/**
 * Runs the IPAM plugin `type` the way the reference plugins' ipam.Exec* do: found on CNI_PATH, with our own
 * stdin and environment and only CNI_COMMAND changed, through the runner this plugin was given (a plugin that is
 * this executable then runs in this process). When this plugin's caller gives up, the IPAM call is stopped too.
 * Its error comes back unchanged.
 */
export async function execIpam(inv: Invocation, type: string, command: Command): Promise<PluginAnswer> {
  const req = ipamRequest(inv, type, command);
  return pluginAnswer(req, await inv.runner.run(req));
}

/** The request execIpam runs (what a runner is told to prepare for, too). */
export function ipamRequest(inv: Invocation, type: string, command: Command): ExecRequest {
  return {
    pluginPath: locatePlugin(inv.runner, type, inv.cmd.path, 'IPAM', 'ipam.type'),
    env: { ...inv.env, CNI_COMMAND: command },
    stdin: inv.stdin,
    timeoutMs: IPAM_TIMEOUT_MS,
    label: `${type} ${command}${inv.cmd.ifName ? ` (interface ${inv.cmd.ifName})` : ''}`,
    signal: inv.signal,
  };
}

/** What IPAM ADD printed, in the 1.x shape; an answer without any address is an error. */
export function ipamResult(answer: PluginAnswer, type: string, cniVersion: string): Result {
  const result = parseResult(decodeAnswer(answer, cniVersion, `IPAM plugin ${type}`), cniVersion);
  if (result.ips.length === 0) throw new CniError(ErrorCode.Internal, 'IPAM plugin returned missing IP config');
  return result;
}

/** STATUS and GC go to the IPAM plugin when there is one (it holds the only state); without one there is nothing to do. */
export async function forwardToIpam(inv: Invocation, type: string, command: 'STATUS' | 'GC'): Promise<void> {
  if (type) await execIpam(inv, type, command);
}
