import { existsSync } from 'node:fs';
import type { PendingDel } from '../../cni/runner';
import { logError, logVerbose } from '../../log/logger';
import { decodeLinkInfo } from '../../netlink/link-info';
import { withRtnl } from '../../netlink/rtnl';

const LINK_KINDS = ['macvlan', 'ipvlan'];

// The links the last batch deleted, as `<netns>\n<ifName>`: their DELs then have no link to look for.
const removedTogether = new Set<string>();

/** Whether the batch already deleted this pod link (asked once, by its DEL). */
export function takeRemovedTogether(netns: string, ifName: string): boolean {
  return removedTogether.delete(`${netns}\n${ifName}`);
}

/**
 * The link plugins' batch-DEL hook: deletes the pod links of several macvlan/ipvlan DELs in one kernel request (a
 * device group). Each link deletion otherwise waits for RCU grace periods on its own (about 20 ms each here), which
 * made a pod's DEL grow with every attachment. The DELs still run afterwards and release the addresses; the links
 * this batch deleted they know to be gone (takeRemovedTogether), so they do not open a socket in the pod to look
 * for them. Any failure here only means they delete the links themselves. Every DEL given is in the same pod
 * (multus announces one pod's DELs).
 */
export async function removeLinksTogether(dels: PendingDel[]): Promise<void> {
  const netns = dels[0]?.netns;
  if (dels.length < 2 || !netns || !existsSync(netns)) return;
  try {
    await withRtnl(netns, async (nl) => {
      // A group number nothing else in the pod uses: the kernel deletes every member.
      const group = 0x10000 + Math.floor(Math.random() * 0x7ffe0000);
      // One dump of the pod's links rather than one request per DEL.
      const byName = new Map((await nl.links()).map((l) => [l.name, l]));
      const members: string[] = [];
      for (const { ifName } of dels) {
        const link = byName.get(ifName);
        if (!link || !LINK_KINDS.includes(decodeLinkInfo(link.linkInfo).kind)) continue;
        await nl.setLink(link, { group });
        members.push(ifName);
      }
      if (members.length > 0) await nl.deleteLinkGroup(group);
      for (const ifName of members) removedTogether.add(`${netns}\n${ifName}`);
      logVerbose(`deleted ${members.length} links of ${dels.length} DELs in one kernel batch`);
    });
  } catch (e) {
    logError(`batched link removal failed, each DEL removes its own link: ${(e as Error).message}`);
  }
}
