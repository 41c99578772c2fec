import type { CniPlugin, Invocation } from '../../cni/skel';
import { macvlanLinkInfo } from '../../netlink/link-info';
import { withRtnl } from '../../netlink/rtnl';
import { attach, requireNetns } from '../link/attach';
import { checkAttachment } from '../link/check';
import { invalidConf, ipamTypeOf } from '../link/config';
import { detach } from '../link/detach';
import { removeLinksTogether } from '../link/teardown';
import { forwardToIpam } from '../link/ipam';
import { lookupMaster, type Master } from '../link/master';
import { parseMacvlanConf, type MacvlanConf } from './config';

/** The master (configured, or the default-route interface) and the MTU check against it. */
async function findMaster(inv: Invocation, conf: MacvlanConf): Promise<Master> {
  const where = conf.linkInContainer ? inv.cmd.netns : undefined;
  const master = await withRtnl(where, (nl) => lookupMaster(nl, conf.master, where));
  if (conf.mtu < 0 || conf.mtu > master.link.mtu) {
    throw invalidConf(`invalid MTU ${conf.mtu}, must be [0, master MTU(${master.link.mtu})]`,
      `"mtu" must not exceed the MTU of master ${master.link.name}; 0 takes the master's`);
  }
  return master;
}

/**
 * macvlan, compatible with the reference plugin (same keys, steps, results and messages), with its leaks fixed:
 * a failed ADD removes the link and releases the addresses, and DEL never needs the master.
 */
export const macvlanPlugin: CniPlugin = {
  about: 'CNI macvlan plugin (multus-ts built-in, compatible with the reference macvlan)',

  async add(inv) {
    const conf = parseMacvlanConf(inv);
    requireNetns(inv.cmd.netns);
    const master = await findMaster(inv, conf);
    return attach({
      inv, kind: 'macvlan', master, mtu: conf.mtu, mac: conf.mac, linkInfo: macvlanLinkInfo(conf.mode, conf.bcQueueLen),
      ipamType: conf.ipamType, dns: conf.dns,
    });
  },

  del: detach,
  delTogether: removeLinksTogether,

  async check(inv) {
    const conf = parseMacvlanConf(inv);
    requireNetns(inv.cmd.netns);
    await findMaster(inv, conf);
    await checkAttachment({ inv, kind: 'macvlan', mode: conf.mode, ipamType: conf.ipamType, capitalised: false, modeLabel: 'macvlan' });
  },

  async status(inv) {
    await forwardToIpam(inv, ipamTypeOf(inv.config), 'STATUS');
  },

  async gc(inv) {
    await forwardToIpam(inv, ipamTypeOf(inv.config), 'GC');
  },
};
