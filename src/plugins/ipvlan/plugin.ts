import type { CniPlugin, Invocation } from '../../cni/skel';
import { ipvlanLinkInfo } from '../../netlink/link-info';
import { withRtnl } from '../../netlink/rtnl';
import { attach, requireNetns } from '../link/attach';
import { checkAttachment } from '../link/check';
import { ipamTypeOf } from '../link/config';
import { detach } from '../link/detach';
import { removeLinksTogether } from '../link/teardown';
import { forwardToIpam } from '../link/ipam';
import { lookupMaster, type Master } from '../link/master';
import { parseIpvlanConf } from './config';

function findMaster(inv: Invocation, name: string, inContainer: boolean): Promise<Master> {
  const where = inContainer ? inv.cmd.netns : undefined;
  return withRtnl(where, (nl) => lookupMaster(nl, name, where));
}

/**
 * ipvlan, compatible with the reference plugin (same keys, steps, results and messages; its MTU is not checked
 * against the master), with its leaks fixed: a failed ADD removes the link and releases the addresses, and DEL
 * never resolves the master.
 */
export const ipvlanPlugin: CniPlugin = {
  about: 'CNI ipvlan plugin (multus-ts built-in, compatible with the reference ipvlan)',

  async add(inv) {
    const conf = parseIpvlanConf(inv, true);
    requireNetns(inv.cmd.netns);
    const master = await findMaster(inv, conf.master, conf.linkInContainer);
    return attach({
      inv, kind: 'ipvlan', master, mtu: conf.mtu, linkInfo: ipvlanLinkInfo(conf.mode),
      ipamType: conf.ipamType, prevResult: conf.prevResult, dns: conf.dns,
    });
  },

  del: detach,
  delTogether: removeLinksTogether,

  async check(inv) {
    const conf = parseIpvlanConf(inv, false);
    await checkAttachment({
      inv, kind: 'ipvlan', mode: conf.mode, ipamType: conf.ipamType, capitalised: true, modeLabel: 'IPVlan',
      // The reference looks up the configured master only, so it cannot CHECK a chained or default-route ipvlan;
      // without a configured master there is nothing to look up.
      verifyMaster: async () => {
        if (conf.master) await findMaster(inv, conf.master, conf.linkInContainer);
      },
    });
  },

  async status(inv) {
    await forwardToIpam(inv, ipamTypeOf(inv.config), 'STATUS');
  },

  async gc(inv) {
    await forwardToIpam(inv, ipamTypeOf(inv.config), 'GC');
  },
};
