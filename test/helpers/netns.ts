import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach } from 'vitest';
import { REFERENCE_PLUGINS, uniqueId, Workdir } from './multus';

/**
 * Whether the tests that need root, network namespaces and the reference plugins can run here. On CI they must:
 * there, a missing prerequisite is an error, never a silent skip.
 */
function probe(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync(`${REFERENCE_PLUGINS}/bridge`)) return `reference CNI plugins missing in ${REFERENCE_PLUGINS} (apt-get install containernetworking-plugins)`;
  const name = `mt-probe-${uniqueId()}`;
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot create network namespaces: ${r.stderr || r.error?.message}`;
  spawnSync('ip', ['netns', 'del', name]);
  return undefined;
}

const missing = probe();
if (missing && process.env.CI) throw new Error(`namespace tests cannot run on CI: ${missing}`);
export const canUseNamespaces = missing === undefined;
export const whyNoNamespaces = missing ?? '';

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export interface LinkInfo {
  ifname: string;
  link_type: string;
  address: string;
  operstate: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number }>;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

/**
 * A node and a pod, each in a namespace of its own: the node has an uplink (a veth pair, both ends up, so that
 * macvlan children get carrier) and multus runs inside the node namespace as kubelet's runtime would.
 */
export class TestNode {
  readonly id = uniqueId();
  readonly nodeNs = `mt-${this.id}-node`;
  readonly podNs = `mt-${this.id}-pod`;
  readonly uplink = 'uplink0';
  private readonly extraNs: string[] = [];

  constructor() {
    ip('netns', 'add', this.nodeNs);
    ip('netns', 'add', this.podNs);
    ip('-n', this.nodeNs, 'link', 'add', this.uplink, 'type', 'veth', 'peer', 'name', 'uplink1');
    for (const l of [this.uplink, 'uplink1', 'lo']) ip('-n', this.nodeNs, 'link', 'set', l, 'up');
  }

  get podNetnsPath(): string {
    return `/var/run/netns/${this.podNs}`;
  }

  /** Another pod namespace on the same node, removed with the node. */
  addPod(): string {
    const name = `mt-${this.id}-pod${this.extraNs.length + 2}`;
    ip('netns', 'add', name);
    this.extraNs.push(name);
    return name;
  }

  links(ns: string): LinkInfo[] {
    return JSON.parse(ip('-n', ns, '-d', '-j', 'addr', 'show')) as LinkInfo[];
  }

  podLinks(): LinkInfo[] {
    return this.links(this.podNs).filter((l) => l.ifname !== 'lo');
  }

  routes(ns: string, family: '-4' | '-6' = '-4'): Array<{ dst: string; gateway?: string; dev: string }> {
    return JSON.parse(ip('-n', ns, family, '-j', 'route', 'show')) as Array<{ dst: string; gateway?: string; dev: string }>;
  }

  destroy(): void {
    for (const ns of [this.podNs, ...this.extraNs, this.nodeNs]) spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** A fresh node (namespaces) and work directory for every test of the calling describe block, removed after it. */
export function nodeFixture(): { readonly node: TestNode; readonly work: Workdir } {
  const f = {} as { node: TestNode; work: Workdir };
  beforeEach(() => {
    f.node = new TestNode();
    f.work = new Workdir();
  });
  afterEach(() => {
    f.node.destroy();
    f.work.remove();
  });
  return f;
}
