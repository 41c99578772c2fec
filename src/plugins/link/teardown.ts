import { existsSync } from 'node:fs';
import type { PendingDel } from '../../cni/runner';
import { logError, logVerbose } from '../../log/logger';
import { decodeLinkInfo } from '../../netlink/link-info';
import { withRtnl } from '../../netlink/rtnl';

const LINK_KINDS = ['macvlan', 'ipvlan'];

/**
 * The link plugins' batch-DEL hook: deletes the pod links of several macvlan/ipvlan DELs in one kernel request (a
 * device group). Each link deletion otherwise waits for RCU grace periods on its own (about 20 ms each here), which
 * made a pod's DEL grow with every attachment. The DELs still run afterwards, release the addresses and find the
 * link gone, so the end state is the same as deleting them one by one; any failure here only means they delete the
 * links themselves. Every DEL given is in the same pod (multus announces one pod's DELs).
 */
export async function removeLinksTogether(dels: PendingDel[]): Promise<void> {
  const netns = dels[0]?.netns;
  if (dels.length < 2 || !netns || !existsSync(netns)) return;
  try {
    await withRtnl(netns, async (nl) => {
      // A group number nothing else in the pod uses: the kernel deletes every member.
      const group = 0x10000 + Math.floor(Math.random() * 0x7ffe0000);
      let members = 0;
      for (const { ifName } of dels) {
        const link = await nl.findLink(ifName);
        if (!link || !LINK_KINDS.includes(decodeLinkInfo(link.linkInfo).kind)) continue;
        await nl.setLink(link, { group });
        members++;
      }
      if (members > 0) await nl.deleteLinkGroup(group);
      logVerbose(`deleted ${members} links of ${dels.length} DELs in one kernel batch`);
    });
  } catch (e) {
    logError(`batched link removal failed, each DEL removes its own link: ${(e as Error).message}`);
  }
}
