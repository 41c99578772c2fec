import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { REFERENCE_PLUGINS, ROOT } from './plugin-exec';

/**
 * The Go programs built by `scripts/build-peers.sh` at pinned versions (peers), found where that script puts them
 * (`${PEERS_DIR:-/var/cache/multus-ts-peers}/<peer>-<version>/`). The script is the one home of the names and
 * versions: its `--list` says where each peer is.
 */
export interface PeerBuild {
  name: string;
  version: string;
  dir: string;
}

const listed: PeerBuild[] = execFileSync('bash', [join(ROOT, 'scripts/build-peers.sh'), '--list'], { encoding: 'utf8' })
  .trim().split('\n').map((line) => {
    const [name, version, dir] = line.split(' ');
    return { name, version, dir };
  });

export function peerBuild(name: string): PeerBuild {
  const p = listed.find((b) => b.name === name);
  if (!p) throw new Error(`scripts/build-peers.sh knows no peer "${name}"`);
  return p;
}

/** A peer's executable files; `missing` says why they cannot be used, undefined when they can. */
export interface Peer extends PeerBuild {
  path(binary: string): string;
  missing: string | undefined;
}

/**
 * The peer `name` with the given binaries. On CI (`CI` set) a missing peer is an error thrown here, at the test
 * file's import: a test that needs a peer must fail there, never skip. Locally, `missing` says why the caller skips.
 */
export function peer(name: string, binaries: string[]): Peer {
  const b = peerBuild(name);
  const absent = binaries.filter((bin) => {
    try {
      accessSync(join(b.dir, bin), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  const missing = absent.length === 0 ? undefined
    : `peer ${name} ${b.version} lacks ${absent.join(', ')} in ${b.dir} (run: bash scripts/build-peers.sh ${name})`;
  if (missing && process.env.CI) throw new Error(missing);
  // A skipped test does not say why; this line does, once per test file that asks.
  if (missing) console.warn(`skipping what needs it: ${missing}`);
  return { ...b, missing, path: (bin) => join(b.dir, bin) };
}

/** The upstream reference plugins (containernetworking/plugins), built at the pinned 1.9.x. */
export function upstreamPlugins(): Peer {
  return peer('cni-plugins', ['bridge', 'macvlan', 'ipvlan', 'host-local', 'static', 'tuning', 'loopback']);
}

/** The newest cnitool (containernetworking/cni), which has `gc` and `status`. */
export function cnitool(): Peer {
  return peer('cnitool', ['cnitool']);
}

/** Go Multus's thin plugin (`multus`) and its installer (`thin_entrypoint`). */
export function goMultus(): Peer {
  return peer('multus', ['multus', 'thin_entrypoint']);
}

/**
 * The reference plugin sets the compatibility tests run against: Debian's package (the node's distribution) and
 * upstream's newest. `dir` is a CNI plugin directory; `missing` as for peers.
 */
export interface ReferenceSet {
  label: string;
  dir: string;
  missing: string | undefined;
  /** Knows CNI 1.1's STATUS and GC (Debian's 1.1.1 answers them with "unknown CNI_COMMAND"). */
  cni11: boolean;
}

export function referenceSets(): ReferenceSet[] {
  const upstream = upstreamPlugins();
  return [
    { label: 'Debian 1.1.1', dir: REFERENCE_PLUGINS, missing: undefined, cni11: false },
    { label: `upstream ${upstream.version}`, dir: upstream.dir, missing: upstream.missing, cni11: true },
  ];
}
