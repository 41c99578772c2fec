import { attr, cString, nestedAttr, parseAttrs, stringAttr, u16Attr, u32Attr } from './attributes';
import { IFLA, ifinfomsg } from './messages';

/*
 * IFLA_LINKINFO for the link kinds we create, and the RTM_NEWLINK request that creates such a link directly
 * inside a pod's namespace.
 */

const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_MACVLAN_MODE = 1;
const IFLA_MACVLAN_BC_QUEUE_LEN = 7;
const IFLA_IPVLAN_MODE = 1;

/**
 * linux/if_link.h MACVLAN_MODE_* (a bit each): the one list of macvlan's modes (the plugin's accepted modes come from
 * it), in the order the plugin's messages list them.
 */
export const MACVLAN_MODES = { bridge: 4, private: 1, vepa: 2, passthru: 8, source: 16 } as const;
export type MacvlanMode = keyof typeof MACVLAN_MODES;

/** linux/if_link.h IPVLAN_MODE_* (an enum, sent as u16): the one list of ipvlan's modes, as for macvlan. */
export const IPVLAN_MODES = { l2: 0, l3: 1, l3s: 2 } as const;
export type IpvlanMode = keyof typeof IPVLAN_MODES;

export function macvlanLinkInfo(mode: MacvlanMode, bcQueueLen?: number): Buffer {
  const data = [u32Attr(IFLA_MACVLAN_MODE, MACVLAN_MODES[mode])];
  if (bcQueueLen) data.push(u32Attr(IFLA_MACVLAN_BC_QUEUE_LEN, bcQueueLen));
  return nestedAttr(IFLA.LINKINFO, [stringAttr(IFLA_INFO_KIND, 'macvlan'), nestedAttr(IFLA_INFO_DATA, data)]);
}

/** No flags attribute: the kernel default (bridge) applies, as with the reference plugin, which never sets one. */
export function ipvlanLinkInfo(mode: IpvlanMode): Buffer {
  return nestedAttr(IFLA.LINKINFO, [
    stringAttr(IFLA_INFO_KIND, 'ipvlan'),
    nestedAttr(IFLA_INFO_DATA, [u16Attr(IFLA_IPVLAN_MODE, IPVLAN_MODES[mode])]),
  ]);
}

export interface NewLink {
  name: string;
  /** Index of the master link, in the namespace the request is sent from. */
  parentIndex: number;
  /** An open fd of the namespace the link is created in (IFLA_NET_NS_FD). */
  netnsFd: number;
  /** 0 leaves the kernel default (the master's MTU). */
  mtu: number;
  mac?: Buffer;
  /** From macvlanLinkInfo or ipvlanLinkInfo. */
  linkInfo: Buffer;
}

/** The RTM_NEWLINK payload (ifinfomsg and attributes); it is sent with NLM_F_CREATE | NLM_F_EXCL. */
export function newLinkRequest(l: NewLink): Buffer {
  const parts = [ifinfomsg(), stringAttr(IFLA.IFNAME, l.name)];
  if (l.mtu > 0) parts.push(u32Attr(IFLA.MTU, l.mtu));
  if (l.mac) parts.push(attr(IFLA.ADDRESS, l.mac));
  parts.push(u32Attr(IFLA.LINK, l.parentIndex), u32Attr(IFLA.NET_NS_FD, l.netnsFd), l.linkInfo);
  return Buffer.concat(parts);
}

/** What a link reports about its kind; `mode` is set for macvlan and ipvlan links. */
export interface LinkInfo {
  /** '' for links without a kind (physical devices, loopback). */
  kind: string;
  mode?: string;
}

function modeName(table: Record<string, number>, value: number): string {
  return Object.keys(table).find((k) => table[k] === value) ?? `unknown mode ${value}`;
}

export function decodeLinkInfo(raw: Buffer | undefined): LinkInfo {
  if (!raw) return { kind: '' };
  const a = parseAttrs(raw);
  const kind = cString(a.get(IFLA_INFO_KIND) ?? Buffer.alloc(0));
  const data = parseAttrs(a.get(IFLA_INFO_DATA) ?? Buffer.alloc(0));
  if (kind === 'macvlan' && data.has(IFLA_MACVLAN_MODE)) {
    return { kind, mode: modeName(MACVLAN_MODES, data.get(IFLA_MACVLAN_MODE)!.readUInt32LE(0)) };
  }
  if (kind === 'ipvlan' && data.has(IFLA_IPVLAN_MODE)) {
    return { kind, mode: modeName(IPVLAN_MODES, data.get(IFLA_IPVLAN_MODE)!.readUInt16LE(0)) };
  }
  return { kind };
}
