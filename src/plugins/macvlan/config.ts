import { CniError, ErrorCode } from '../../cni/errors';
import { parseCniArgs } from '../../cni/cni-args';
import { parseMac } from '../../cni/ip';
import type { Invocation } from '../../cni/skel';
import { MACVLAN_MODES as KERNEL_MODES, type MacvlanMode } from '../../netlink/link-info';
import { ConfigReader } from '../../cni/config-reader';
import { modeProblem, NETCONF, parseLinkConf, type LinkConf } from '../link/config';

export interface MacvlanConf extends LinkConf {
  mode: MacvlanMode;
  /** The MAC to create the link with, after precedence; undefined lets the kernel pick one. */
  mac?: Buffer;
  /** Broadcast queue length; 0 for the kernel default. */
  bcQueueLen: number;
}

// The kernel's modes but `source`: it needs a list of source MACs, which the reference plugin has no key for, so it
// refuses the mode.
const MACVLAN_MODES: readonly MacvlanMode[] = (Object.keys(KERNEL_MODES) as MacvlanMode[]).filter((m) => m !== 'source');

function mac(text: string, code: number, source: string): Buffer {
  const b = parseMac(text);
  if (!b) throw new CniError(code, `invalid args ${text} for MAC addr: address ${text}: invalid MAC address`, `from ${source}`);
  return b;
}

/**
 * What macvlan requires of its configuration itself, before the runtime's part (MAC requests) is looked at. With a
 * collecting reader (multus validate) every problem is collected; the runtime's reader throws the first.
 */
export function checkMacvlanConf(r: ConfigReader): MacvlanConf {
  let mode = (r.string('mode') || 'bridge') as MacvlanMode;
  if (!MACVLAN_MODES.includes(mode)) {
    r.report(modeProblem('macvlan', mode, MACVLAN_MODES));
    mode = 'bridge';
  }
  return { ...parseLinkConf(r), mode, bcQueueLen: r.int('bcqueuelen', 0, 0xffffffff) };
}

/**
 * The macvlan configuration. The MAC comes from runtimeConfig.mac (the `mac` capability), else CNI_ARGS `MAC`,
 * else the configuration's `mac`, as in the reference plugin.
 */
export function parseMacvlanConf(inv: Invocation): MacvlanConf {
  const r = new ConfigReader(inv.config, NETCONF);
  const conf = checkMacvlanConf(r);
  const fromRuntime = r.object('runtimeConfig').string('mac');
  const fromArgs = inv.cmd.args ? parseCniArgs(inv.cmd.args, ['MAC'] as const).MAC : undefined;
  const fromConf = r.string('mac');
  if (fromRuntime) conf.mac = mac(fromRuntime, ErrorCode.InvalidNetworkConfig, 'runtimeConfig.mac');
  else if (fromArgs) conf.mac = mac(fromArgs, ErrorCode.InvalidEnvironment, 'CNI_ARGS MAC');
  else if (fromConf) conf.mac = mac(fromConf, ErrorCode.InvalidNetworkConfig, '"mac" in the configuration');
  return conf;
}
