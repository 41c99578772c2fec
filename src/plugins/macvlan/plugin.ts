import { macvlanLinkInfo } from '../../netlink/link-info';
import { checkAttachment } from '../link/check';
import { invalidConf } from '../link/config';
import { findMaster, type Master } from '../link/master';
import { linkPlugin, requireNetns } from '../link/plugin';
import { parseMacvlanConf } from './config';

/** The MTU must fit the master's; the message is the reference plugin's. */
function checkMtu(mtu: number, master: Master): void {
  if (mtu < 0 || mtu > master.link.mtu) {
    throw invalidConf(`invalid MTU ${mtu}, must be [0, master MTU(${master.link.mtu})]`,
      `"mtu" must not exceed the MTU of master ${master.link.name}; 0 takes the master's`);
  }
}

/** macvlan: the link plugin (plugins/link/plugin.ts) with macvlan's keys, link-info and CHECK. */
export const macvlanPlugin = linkPlugin({
  kind: 'macvlan',
  about: 'CNI macvlan plugin (multus-ts built-in, compatible with the reference macvlan)',

  readAddConf(inv) {
    const conf = parseMacvlanConf(inv);
    return { ...conf, linkInfo: macvlanLinkInfo(conf.mode, conf.bcQueueLen) };
  },

  checkMaster: (conf, master) => checkMtu(conf.mtu, master),

  async check(inv) {
    const conf = parseMacvlanConf(inv);
    requireNetns(inv.cmd.netns);
    checkMtu(conf.mtu, await findMaster(inv, conf.master, conf.linkInContainer));
    await checkAttachment({ inv, kind: 'macvlan', mode: conf.mode, ipamType: conf.ipamType, capitalised: false, modeLabel: 'macvlan' });
  },
});
