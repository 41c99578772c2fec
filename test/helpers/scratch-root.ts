import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MULTUS } from './multus';

/*
 * A container's view of a node, without a container runtime: a private mount namespace whose root holds this
 * machine's directories (so node and the checkout are where they are), plus what a DaemonSet pod of Go Multus sees: the host's root at
 * /host (a scratch directory standing for the node), a service-account token at
 * /var/run/secrets/kubernetes.io/serviceaccount, and the image's entry points /thin_entrypoint and /install_multus
 * (links to this checkout's bin/multus, as our image has them). Everything vanishes with the process.
 */

// Runs as root inside `unshare --mount`: mounts are private to this process and die with it.
const SETUP = `set -e
R=$1; HOST=$2; SA=$3; BIN=$4; shift 4
mount -t tmpfs multus-ts-scratch-root "$R"
for e in /*; do
  n=\${e#/}
  if [ -L "$e" ]; then ln -s "$(readlink "$e")" "$R/$n"; continue; fi
  case "$n" in proc|sys|dev|run|host|lost+found) ;; *) [ -d "$e" ] && { mkdir "$R/$n"; mount --rbind "$e" "$R/$n"; } ;; esac
done
mkdir "$R/proc" "$R/dev" "$R/run" "$R/host"
mount --rbind /proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs run "$R/run"
mkdir -p "$R/run/secrets/kubernetes.io/serviceaccount"
cp "$SA"/token "$SA"/ca.crt "$R/run/secrets/kubernetes.io/serviceaccount/"
mount --bind "$HOST" "$R/host"
ln -s "$BIN" "$R/thin_entrypoint"
ln -s "$BIN" "$R/install_multus"
exec chroot "$R" "$@"
`;

export const canUseScratchRoot = process.getuid?.() === 0 && spawnSync('unshare', ['--version']).status === 0;
if (!canUseScratchRoot && process.env.CI) throw new Error('scratch-root tests cannot run on CI: need root and unshare(1)');

export class ScratchHost {
  /** The node's root as the host sees it (what the pod sees at /host). */
  readonly root: string;
  readonly saDir: string;
  private readonly base = mkdtempSync(join(tmpdir(), 'multus-ts-scratch-host-'));

  constructor() {
    this.root = join(this.base, 'host');
    this.saDir = join(this.base, 'sa');
    for (const d of [this.root, this.saDir, join(this.base, 'root')]) mkdirSync(d);
  }

  /** A host path under the scratch root. */
  path(hostPath: string): string {
    return join(this.root, hostPath);
  }

  /** Starts `command args` as the pod's container would run it. */
  spawn(command: string[], env: Record<string, string>): ChildProcess {
    return spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SETUP, 'scratch-root',
      join(this.base, 'root'), this.root, this.saDir, MULTUS, ...command], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin:/usr/sbin:/sbin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  }

  remove(): void {
    rmSync(this.base, { recursive: true, force: true });
  }
}
