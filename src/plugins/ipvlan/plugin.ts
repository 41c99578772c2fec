import { ipvlanLinkInfo } from '../../netlink/link-info';
import { checkAttachment } from '../link/check';
import { findMaster } from '../link/master';
import { linkPlugin } from '../link/plugin';
import { parseIpvlanConf } from './config';

/**
 * ipvlan: the link plugin (plugins/link/plugin.ts) with ipvlan's keys, link-info and CHECK. As in the reference
 * plugin, its MTU is not checked against the master, and DEL never resolves the master.
 */
export const ipvlanPlugin = linkPlugin({
  kind: 'ipvlan',
  about: 'CNI ipvlan plugin (multus-ts built-in, compatible with the reference ipvlan)',

  readAddConf(inv) {
    const conf = parseIpvlanConf(inv, true);
    return { ...conf, linkInfo: ipvlanLinkInfo(conf.mode) };
  },

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
});
