import { closeSync, openSync } from 'node:fs';
import type { CmdArgs } from '../../cni/environment';
import { Rtnl, withRtnl } from '../../netlink/rtnl';
import { lookupMaster, type Master } from './master';

/*
 * What the ADDs of one pod share in this process. Multus runs a pod's macvlan and ipvlan ADDs one after the other
 * in one process; each used to open the pod's namespace (for IFLA_NET_NS_FD) and a socket in it (seven system
 * calls) and to look its master up again. A pod's handle lives while an ADD of that pod (same container and
 * namespace), or the preparation of one (plugin.ts's prepareAttach, while the primary's plugin runs), holds it, and
 * until the event loop next turns after the last one let go: the next ADD of a multus call starts before that and
 * takes it over. Then its fds are closed, so nothing stays open once the call is done, after a failed ADD too. An
 * ADD opens what it holds when it first needs it if its preparation did not, so errors come in the order they always
 * did.
 */
export class PodHandle {
  private fd: number | undefined;
  private nl: Rtnl | undefined;
  private users = 0;
  private closing: NodeJS.Immediate | undefined;
  /**
   * The masters these ADDs looked up, by namespace and name: within one call they do not change, and looking one
   * up (or the default route's interface) is a request or two per attachment.
   */
  private readonly masters = new Map<string, Master>();
  /** CNI_NETNS was found to be a network namespace (requireNetns) by an ADD that held this handle. */
  netnsChecked = false;

  private constructor(private readonly key: string, readonly netns: string) {}

  private static readonly open = new Map<string, PodHandle>();

  /** The handle of the pod `cmd` names; give it back with release(). */
  static acquire(cmd: Pick<CmdArgs, 'containerId' | 'netns'>): PodHandle {
    const key = `${cmd.containerId}\n${cmd.netns}`;
    let pod = PodHandle.open.get(key);
    if (pod === undefined) {
      pod = new PodHandle(key, cmd.netns);
      PodHandle.open.set(key, pod);
    }
    clearImmediate(pod.closing);
    pod.closing = undefined;
    pod.users++;
    return pod;
  }

  release(): void {
    if (--this.users > 0) return;
    this.closing = setImmediate(() => this.close());
  }

  /** An open fd of the pod's namespace, for IFLA_NET_NS_FD. */
  netnsFd(): number {
    this.fd ??= openSync(this.netns, 'r');
    return this.fd;
  }

  /**
   * The socket in the pod's namespace these ADDs share, if one is open and has not failed (a failed one is closed: a
   * reply may still be on its way). The link plugin opens it (so that opening it reads as its own step) and keep()s it.
   */
  get socket(): Rtnl | undefined {
    if (this.nl && !this.nl.healthy) {
      this.nl.close();
      this.nl = undefined;
    }
    return this.nl;
  }

  keep(nl: Rtnl): Rtnl {
    this.nl = nl;
    return nl;
  }

  /**
   * findMaster (master.ts) for an ADD into this pod: looked up once for the pod's ADDs of one call, through
   * `inPod()`, the pod's socket, when the master is in the pod.
   */
  async master(name: string, inPod: (() => Rtnl) | undefined): Promise<Master> {
    const key = `${inPod !== undefined}\n${name}`;
    let master = this.masters.get(key);
    if (master === undefined) {
      master = inPod ? await lookupMaster(inPod(), name, this.netns) : await withRtnl(undefined, (nl) => lookupMaster(nl, name, undefined));
      this.masters.set(key, master);
    }
    return master;
  }

  private close(): void {
    PodHandle.open.delete(this.key);
    this.nl?.close();
    if (this.fd !== undefined) closeSync(this.fd);
  }
}
