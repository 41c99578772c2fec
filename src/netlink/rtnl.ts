import { closeSync } from 'node:fs';
import { nativeHelper } from './native';
import { ENODEV, errnoText, LinkNotFoundError, NetlinkError } from './errors';
import { newLinkRequest, type NewLink } from './link-info';
import {
  address, decodeAddress, deleteGroup, decodeLink, decodeRoute, dumpAddresses, dumpRoutes, getLink, getLinkByName, ifinfomsg, NLM_F,
  route, RTM, setLink, type AddressState, type LinkChange, type LinkState, type RouteSpec, type RouteState,
} from './messages';
import { formatMac, type Family } from '../cni/ip';

/**
 * An rtnetlink socket bound to one network namespace: the namespace it was opened in, for as long as it lives.
 * Failures are NetlinkErrors that name the operation and the interface. close() it when done.
 *
 * Requests are synchronous (native/netns.c): the kernel answers an rtnetlink request while it is sent, so a
 * request never waits on anything but the kernel's own work, and a socket holds no event-loop handle. The methods
 * stay async so that callers do not depend on that.
 */
export class Rtnl {
  /*
   * The socket of this process's own namespace is one for the whole process: every attachment asks it about its
   * master, and opening a socket costs more than those requests. One whose socket failed (a reply dropped) is
   * replaced, since a late part of that reply could still arrive.
   */
  private static own: Rtnl | undefined;
  private failed = false;

  private constructor(private readonly fd: number, private readonly shared = false) {}

  /** A socket in the namespace at `netns`, or in this process's own namespace when it is undefined. */
  static open(netns?: string): Rtnl {
    if (netns !== undefined) return new Rtnl(nativeHelper().rtnlOpen(netns));
    if (Rtnl.own?.failed) {
      closeSync(Rtnl.own.fd);
      Rtnl.own = undefined;
    }
    Rtnl.own ??= new Rtnl(nativeHelper().rtnlOpen(), true);
    return Rtnl.own;
  }

  /** False once a send or receive failed: the socket may be out of step with its replies, and is not to be reused. */
  get healthy(): boolean {
    return !this.failed;
  }

  /** Closes a pod namespace's socket; the process's own stays open for the next caller. */
  close(): void {
    if (!this.shared) closeSync(this.fd);
  }

  /** Sends one request and returns the payloads of the replies (none for a plain acknowledgement). */
  private async request(type: number, payload: Buffer, flags: number, operation: string, echoFd?: number): Promise<Buffer[]> {
    try {
      return nativeHelper().rtnlRequest(this.fd, type, flags, payload, echoFd);
    } catch (e) {
      const err = e as { errno?: number; syscall?: string; message: string };
      // A failed send or receive (not the kernel's refusal) may leave this socket out of step with its replies.
      if (err.syscall !== undefined) this.failed = true;
      const errno = err.errno ?? 0;
      throw new NetlinkError(errno, errno ? errnoText(errno) : err.message, operation);
    }
  }

  /** Requests to send together in one write (see RtnlBatch). */
  batch(): RtnlBatch {
    return new RtnlBatch((reqs) => this.requestAll(reqs));
  }

  /** Sends the requests in one write; each one's outcome, a refusal as the NetlinkError it would have thrown alone. */
  private requestAll(reqs: BatchedRequest[]): (Buffer[] | NetlinkError)[] {
    let outcomes;
    try {
      outcomes = nativeHelper().rtnlBatch(this.fd, reqs.map((r) => [r.type, r.flags, r.payload]));
    } catch (e) {
      const err = e as { errno?: number; syscall?: string; message: string };
      if (err.syscall !== undefined) this.failed = true;
      const errno = err.errno ?? 0;
      throw new NetlinkError(errno, errno ? errnoText(errno) : err.message, reqs[0]!.operation);
    }
    return outcomes.map((o, i) => (typeof o === 'number' ? new NetlinkError(o, errnoText(o), reqs[i]!.operation) : o));
  }

  async findLink(name: string): Promise<LinkState | undefined> {
    try {
      return await this.linkByName(name);
    } catch (e) {
      if (e instanceof LinkNotFoundError) return undefined;
      throw e;
    }
  }

  async linkByName(name: string): Promise<LinkState> {
    return this.getLink(getLinkByName(name), `"${name}"`);
  }

  async linkByIndex(index: number): Promise<LinkState> {
    return this.getLink(getLink(index), `with index ${index}`);
  }

  private async getLink(payload: Buffer, what: string): Promise<LinkState> {
    try {
      const [reply] = await this.request(RTM.GETLINK, payload, 0, `failed to find link ${what}`);
      return decodeLink(reply!);
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === ENODEV) throw new LinkNotFoundError(what);
      throw e;
    }
  }

  async links(): Promise<LinkState[]> {
    return (await this.request(RTM.GETLINK, getLink(), NLM_F.DUMP, 'failed to list links')).map(decodeLink);
  }

  /**
   * Creates a link. With `echoTo`, a socket in the namespace the link is created in (this one, or the one of
   * `link.netnsFd`), returns the new link's state as the kernel reports it on creation (NLM_F_ECHO, honoured for
   * RTM_NEWLINK by newer kernels, not by RHEL 8's 4.18 nor Debian 12's 6.1, whose path the ipvlan VM test runs), sparing the caller a look-up; undefined when the kernel does not say (such older kernels,
   * or `echoTo` on another port than this socket: the kernel sends the echo to the requester's port number in the
   * link's namespace, which the two sockets share when both took this process's pid), so the caller looks it up.
   */
  async createLink(link: NewLink, echoTo?: Rtnl): Promise<LinkState | undefined> {
    const operation = `failed to create link ${link.name}`;
    const flags = NLM_F.CREATE | NLM_F.EXCL;
    if (echoTo === undefined || (echoTo !== this && echoTo.portId() !== this.portId())) {
      await this.request(RTM.NEWLINK, newLinkRequest(link), flags, operation);
      return undefined;
    }
    const replies = await this.request(RTM.NEWLINK, newLinkRequest(link), flags | NLM_F.ECHO, operation, echoTo === this ? undefined : echoTo.fd);
    const state = replies.length === 1 ? decodeLink(replies[0]!) : undefined;
    return state?.name === link.name && state.index > 0 ? state : undefined;
  }

  private port: number | undefined;

  private portId(): number {
    this.port ??= nativeHelper().rtnlPortId(this.fd);
    return this.port;
  }

  async setLink(link: LinkState, change: LinkChange): Promise<void> {
    await this.request(RTM.SETLINK, setLink(link.index, change), 0, changeOperation(link.name, change));
  }

  async deleteLink(link: LinkState): Promise<void> {
    await this.request(RTM.DELLINK, ifinfomsg(link.index), 0, `failed to delete link ${link.name}`);
  }

  /**
   * Deletes every link of a device group with one request. Each deletion waits for the kernel's RCU grace
   * periods (about 20 ms here); a group pays that once.
   */
  async deleteLinkGroup(group: number): Promise<void> {
    await this.request(RTM.DELLINK, deleteGroup(group), 0, `failed to delete link group ${group}`);
  }

  /** Addresses of one link (or every link when `index` is undefined), of one family or both. */
  async addresses(index?: number, family?: Family): Promise<AddressState[]> {
    const all = (await this.request(RTM.GETADDR, dumpAddresses(family), NLM_F.DUMP, 'failed to list addresses')).map(decodeAddress);
    return index === undefined ? all : all.filter((a) => a.index === index);
  }

  async addAddress(link: LinkState, cidr: string): Promise<void> {
    await this.request(RTM.NEWADDR, address(link.index, cidr), NLM_F.CREATE | NLM_F.EXCL, `failed to add address ${cidr} to ${link.name}`);
  }

  async deleteAddress(link: LinkState, cidr: string): Promise<void> {
    await this.request(RTM.DELADDR, address(link.index, cidr), 0, `failed to remove address ${cidr} from ${link.name}`);
  }

  /** Routes of every table, in the kernel's order (IPv4 before IPv6, lower metrics first). */
  async routes(family?: Family): Promise<RouteState[]> {
    return (await this.request(RTM.GETROUTE, dumpRoutes(family), NLM_F.DUMP, 'failed to list routes')).map(decodeRoute);
  }

  /**
   * Adds a route; `ifName` names the interface of `spec.oif` in messages. Like the reference plugins (netlink's
   * RouteAddEcmp), without NLM_F_EXCL: a second default route through another interface of the same pod is
   * added next to the first (IPv6 makes them one multipath route) instead of failing; an identical one fails.
   */
  async addRoute(spec: RouteSpec, ifName: string): Promise<void> {
    await this.request(RTM.NEWROUTE, route(spec), NLM_F.CREATE, `failed to add route ${describeRoute(spec, ifName)}`);
  }

  async deleteRoute(spec: RouteSpec, ifName: string): Promise<void> {
    await this.request(RTM.DELROUTE, route(spec, true), 0, `failed to delete route ${describeRoute(spec, ifName)}`);
  }
}

const MAX_BATCH = 16;

interface BatchedRequest {
  type: number;
  flags: number;
  payload: Buffer;
  operation: string;
  /** What a refusal of this request throws, from the NetlinkError it would throw alone; that error when undefined. */
  onError?: (e: NetlinkError) => Error;
}

/**
 * Requests that go to the kernel in one write (one system call instead of one each), each answered and checked: the
 * first refused one, in order, throws what it would have thrown sent alone. Unlike requests sent one by one, the
 * kernel still handles the ones after a refused one; a caller batches only what its failure path undoes anyway.
 */
export class RtnlBatch {
  private readonly requests: BatchedRequest[] = [];

  constructor(private readonly send: (reqs: BatchedRequest[]) => (Buffer[] | NetlinkError)[]) {}

  get size(): number {
    return this.requests.length;
  }

  addAddress(link: LinkState, cidr: string): this {
    this.requests.push({ type: RTM.NEWADDR, flags: NLM_F.CREATE | NLM_F.EXCL, payload: address(link.index, cidr),
      operation: `failed to add address ${cidr} to ${link.name}` });
    return this;
  }

  setLink(link: LinkState, change: LinkChange, onError?: (e: NetlinkError) => Error): this {
    this.requests.push({ type: RTM.SETLINK, flags: 0, payload: setLink(link.index, change), operation: changeOperation(link.name, change), onError });
    return this;
  }

  /** As Rtnl.addRoute. */
  addRoute(spec: RouteSpec, ifName: string): this {
    this.requests.push({ type: RTM.NEWROUTE, flags: NLM_F.CREATE, payload: route(spec), operation: `failed to add route ${describeRoute(spec, ifName)}` });
    return this;
  }

  /** Sends what was added (nothing when empty); throws the first refusal's error. */
  async run(): Promise<void> {
    // The native helper sends up to 16 in one write; more go in further writes, none after a refusal.
    for (let start = 0; start < this.requests.length; start += MAX_BATCH) {
      const part = this.requests.slice(start, start + MAX_BATCH);
      let outcomes;
      try {
        outcomes = this.send(part);
      } catch (e) {
        // The socket failed: reported as a failure of the write's first request.
        throw e instanceof NetlinkError ? part[0]!.onError?.(e) ?? e : e;
      }
      const i = outcomes.findIndex((o) => o instanceof NetlinkError);
      if (i >= 0) throw part[i]!.onError?.(outcomes[i] as NetlinkError) ?? outcomes[i];
    }
  }
}

function describeRoute(spec: RouteSpec, ifName: string): string {
  return `${spec.dst}${spec.gw ? ` via ${spec.gw}` : ''} dev ${ifName}`;
}

function changeOperation(name: string, c: LinkChange): string {
  const what: string[] = [];
  if (c.name !== undefined) what.push(`rename ${name} to ${c.name}`);
  if (c.mtu !== undefined) what.push(`set MTU ${c.mtu} on ${name}`);
  if (c.mac !== undefined) what.push(`set MAC ${formatMac(c.mac)} on ${name}`);
  if (c.up !== undefined) what.push(`set ${name} ${c.up ? 'up' : 'down'}`);
  return `failed to ${what.join(' and ') || `change ${name}`}`;
}

/** Opens a socket in `netns` (undefined: our own namespace), runs `fn` with it, and closes it whatever happens. */
export async function withRtnl<T>(netns: string | undefined, fn: (nl: Rtnl) => Promise<T>): Promise<T> {
  const nl = Rtnl.open(netns);
  try {
    return await fn(nl);
  } finally {
    nl.close();
  }
}
