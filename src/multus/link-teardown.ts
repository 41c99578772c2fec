import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { isThisExecutable } from '../delegation/exec-plugin';
import { findPlugin } from '../delegation/plugin-path';
import { logError } from '../log/logger';
import type { MultusCall } from './call';
import { interfaceName, type Delegate } from './delegate';

const OUR_LINK_PLUGINS = ['macvlan', 'ipvlan'];

/** The interface names of delegates that are our own macvlan or ipvlan, run in this process. */
function ownLinks(call: MultusCall, delegates: Delegate[]): string[] {
  const names: string[] = [];
  delegates.forEach((d, i) => {
    const type = d.net.plugins[0]?.type;
    if (d.net.plugins.length !== 1 || typeof type !== 'string' || !OUR_LINK_PLUGINS.includes(type)) return;
    try {
      const path = findPlugin(type, call.invoke.pluginDirs);
      if (isThisExecutable(path) && basename(path) === type) names.push(interfaceName(d, i, call.inv.cmd.ifName));
    } catch {
      // not installed: the delegate's own DEL reports it
    }
  });
  return names;
}

/**
 * Deletes, in one kernel batch, the pod links of the delegates that are our own macvlan/ipvlan: each link
 * deletion otherwise waits for RCU grace periods on its own (about 20 ms each here), which made DEL grow with every
 * attachment. Their DELs still run afterwards, release the addresses and find the link already gone, so the end
 * state is the same as deleting them one by one. Any failure here only means the DELs delete the links themselves.
 */
export async function removeOwnLinksTogether(call: MultusCall, delegates: Delegate[]): Promise<void> {
  const { netns } = call.inv.cmd;
  const names = ownLinks(call, delegates);
  if (names.length < 2 || netns === '' || !existsSync(netns)) return;
  try {
    const { withRtnl } = await import('../netlink/rtnl');
    const { decodeLinkInfo } = await import('../netlink/link-info');
    await withRtnl(netns, async (nl) => {
      // A group number nothing else in the pod uses: the kernel deletes every member.
      const group = 0x10000 + Math.floor(Math.random() * 0x7ffe0000);
      let members = 0;
      for (const name of names) {
        const link = await nl.findLink(name);
        if (!link || !OUR_LINK_PLUGINS.includes(decodeLinkInfo(link.linkInfo).kind)) continue;
        await nl.setLink(link, { group });
        members++;
      }
      if (members > 0) await nl.deleteLinkGroup(group);
    });
  } catch (e) {
    logError(`batched link removal failed, each DEL removes its own link: ${(e as Error).message}`);
  }
}
