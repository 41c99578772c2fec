/**
 * A real containerd (Debian's containerd 1.6 and runc) started as a child of the test, driven through its CRI API
 * as kubelet drives it, with our executable in its CNI directories.
 *
 * Everything containerd keeps lives under one scratch directory (root, state, socket, `opt`, runc's root, the CNI
 * bin and conf dirs, the sandboxes' netns mounts); sandbox cgroups go under a cgroup parent of their own. stop()
 * removes every sandbox through CRI, ends containerd, and gives back what it changed on the host: the cgroup
 * parent, `net.ipv4.ip_forward` (the bridge plugin turns it on), libcni's cache directories if they were not there
 * before.
 *
 * Facts of these machines that shape it: no image can be pulled, so the sandbox image is built here from a static C
 * program and imported with `ctr`; the VM lacks CAP_SYS_RESOURCE, so runc fails ("can't get final child's PID from
 * pipe") unless `restrict_oom_score_adj` is on.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CriClient } from './cri';
import { REFERENCE_PLUGINS, ROOT } from './plugin-exec';

export const SANDBOX_IMAGE = 'docker.io/multus-ts/pause:test';
/** libcni's cache, where containerd's libcni keeps each attachment's config and result between ADD and DEL. */
export const LIBCNI_CACHE = '/var/lib/cni/results';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const CGROUP_ROOT = '/sys/fs/cgroup';
const TOOLS = ['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc', 'gcc', 'nsenter', 'tar'];

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/** Whether containerd can run here. On CI it must: there a missing piece is an error, never a silent skip. */
function probe(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  const missing = TOOLS.filter((t) => !onPath(t));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install containerd runc gcc libc6-dev util-linux tar)`;
  if (!existsSync(join(REFERENCE_PLUGINS, 'loopback'))) return `reference CNI plugins missing in ${REFERENCE_PLUGINS} (apt-get install containernetworking-plugins)`;
  return undefined;
}

const missing = probe();
if (missing && process.env.CI) throw new Error(`containerd tests cannot run on CI: ${missing}`);
export const canRunContainerd = missing === undefined;
export const whyNoContainerd = missing ?? '';

function run(cmd: string, args: string[], what: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what}: ${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error}`);
  return r.stdout;
}

/**
 * The sandbox image as an OCI image archive: one uncompressed layer holding the static pause program, a config
 * whose entrypoint runs it, a manifest, and an index naming it SANDBOX_IMAGE for `ctr images import`.
 */
export function buildSandboxImage(dir: string): string {
  const rootfs = join(dir, 'rootfs');
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(blobs, { recursive: true });
  run('gcc', ['-static', '-Os', '-s', '-o', join(rootfs, 'pause'), join(ROOT, 'test/fixtures/pause/pause.c')], 'building the pause program');
  const layerTar = join(dir, 'layer.tar');
  run('tar', ['--create', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-f', layerTar, 'pause'], 'packing the layer');
  const blob = (bytes: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  const layer = blob(readFileSync(layerTar));
  const config = blob(json({
    architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] },
  }));
  const manifest = blob(json({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  }));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
      annotations: { 'io.containerd.image.name': SANDBOX_IMAGE, 'org.opencontainers.image.ref.name': 'test' },
    }],
  }));
  const archive = join(dir, 'pause-image.tar');
  run('tar', ['--create', '-C', layout, '-f', archive, 'oci-layout', 'index.json', 'blobs'], 'packing the image archive');
  return archive;
}

export interface ContainerdOptions {
  /** Executables for containerd's CNI bin dir, by plugin name (symlinks to them); `loopback` is always there. */
  plugins: Record<string, string>;
  /** The network configuration containerd's CNI conf dir holds, written as 00-multus.conf (paths may be in the scratch dir). */
  cniConfig: (c: Containerd) => unknown;
}

let seq = 0;

export class Containerd {
  /** Short, for the unix socket path limit: containerd's shims add their own suffixes. */
  readonly dir = mkdtempSync('/tmp/mtcd-');
  readonly socket = join(this.dir, 'containerd.sock');
  readonly cniBinDir = join(this.dir, 'cni/bin');
  readonly cniConfDir = join(this.dir, 'cni/net.d');
  readonly logFile = join(this.dir, 'containerd.log');
  /** A cgroupfs path for the sandboxes' cgroups, removed by stop(). */
  readonly cgroupParent = `/multus-ts-cri-${process.pid}-${++seq}`;
  readonly cri = new CriClient(this.socket);
  private child: ChildProcess | undefined;
  private stopped = false;
  private readonly ipForward = readFileSync(IP_FORWARD, 'utf8').trim();
  private readonly createdDirs = ['/var/lib/cni', LIBCNI_CACHE, '/run/containerd', '/run/containerd/s'].filter((d) => !existsSync(d));

  private constructor() {}

  static async start(options: ContainerdOptions): Promise<Containerd> {
    const c = new Containerd();
    try {
      await c.boot(options);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  private async boot(options: ContainerdOptions): Promise<void> {
    for (const d of ['root', 'state', 'opt', 'runc', 'image']) mkdirSync(join(this.dir, d));
    mkdirSync(this.cniBinDir, { recursive: true });
    mkdirSync(this.cniConfDir, { recursive: true });
    this.linkPlugins(options.plugins);
    writeFileSync(join(this.cniConfDir, '00-multus.conf'), JSON.stringify(options.cniConfig(this), null, 2));
    writeFileSync(join(this.dir, 'config.toml'), this.config());
    const archive = buildSandboxImage(join(this.dir, 'image'));

    writeFileSync(this.logFile, '');
    this.child = spawn('containerd', ['--config', join(this.dir, 'config.toml'), '--log-level', 'info'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const lines: string[] = [];
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      lines.push(s);
      writeFileSync(this.logFile, s, { flag: 'a' });
    });
    const exited = new Promise<never>((_, reject) => {
      this.child!.once('exit', (code) => reject(new Error(`containerd exited with ${code}:\n${lines.join('').slice(-3000)}`)));
    });
    await Promise.race([this.waitForCri(), exited]);
    run('ctr', ['--address', this.socket, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', 'native', archive], 'importing the sandbox image');
    // The CRI plugin learns of imported images from containerd's events, a moment later.
    await this.until(() => this.cri.hasImage(SANDBOX_IMAGE), `the CRI plugin never saw ${SANDBOX_IMAGE}`);
  }

  private config(): string {
    const d = this.dir;
    const cri = '[plugins."io.containerd.grpc.v1.cri"]';
    return `version = 2
root = "${d}/root"
state = "${d}/state"
[grpc]
  address = "${this.socket}"
[ttrpc]
  address = "${this.socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${d}/opt"
${cri}
  sandbox_image = "${SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  ${cri.slice(0, -1)}.cni]
    bin_dir = "${this.cniBinDir}"
    conf_dir = "${this.cniConfDir}"
    max_conf_num = 1
  ${cri.slice(0, -1)}.containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    ${cri.slice(0, -1)}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      ${cri.slice(0, -1)}.containerd.runtimes.runc.options]
        Root = "${d}/runc"
`;
  }

  private linkPlugins(plugins: Record<string, string>): void {
    const all = { loopback: join(REFERENCE_PLUGINS, 'loopback'), ...plugins };
    for (const [name, target] of Object.entries(all)) symlinkSync(target, join(this.cniBinDir, name));
  }

  private async until(ok: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        if (await ok()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`${what}${last ? `: ${(last as Error).message}` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private waitForCri(): Promise<void> {
    return this.until(async () => (await this.cri.version()).runtimeName === 'containerd', `containerd's CRI API never answered on ${this.socket}`);
  }

  /** The log of containerd and its CRI plugin so far (it quotes every CNI error). */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  /**
   * Removes every sandbox still there (Stop and Remove, as kubelet does), ends containerd and any shim of it that
   * is left, unmounts what it left under the scratch dir, removes the cgroup parent, the scratch dir and the host
   * directories it created, and restores ip_forward.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.child && this.child.exitCode === null) {
      const sandboxes = await this.cri.listPodSandbox().catch(() => []);
      await Promise.all(sandboxes.map((s) => this.cri.stopPodSandbox(s.id).then(() => this.cri.removePodSandbox(s.id)).catch(() => undefined)));
      const exited = new Promise((r) => this.child!.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await this.killLeftovers();
    this.unmountScratch();
    rmSync(this.dir, { recursive: true, force: true });
    writeFileSync(IP_FORWARD, this.ipForward);
    // Deepest first; a directory something else has put files into since stays.
    for (const d of [...this.createdDirs].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // not empty or already gone
      }
    }
  }

  /** The cgroup parent in every hierarchy (cgroup v1 has one per controller, v2 one). */
  private cgroupDirs(): string[] {
    const name = this.cgroupParent.slice(1);
    return [join(CGROUP_ROOT, name), ...readdirSync(CGROUP_ROOT).map((h) => join(CGROUP_ROOT, h, name))].filter((d) => existsSync(join(d, 'cgroup.procs')));
  }

  /**
   * What a sandbox that could not be removed leaves after containerd is gone: its shim (which names our socket),
   * its pause process (in our cgroup parent, under the sandbox ID), the shim's socket in /run/containerd/s (named
   * by a hash of our socket, the namespace and the ID), its cgroups. All of it is this containerd's alone.
   */
  private async killLeftovers(): Promise<void> {
    const kill = (pid: number): void => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    };
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (argv[0]?.endsWith('containerd-shim-runc-v2') && argv.includes(this.socket)) kill(Number(pid));
    }
    const cgroups = this.cgroupDirs();
    const sandboxIds = new Set(cgroups.flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)));
    for (const id of sandboxIds) {
      const hash = createHash('sha256').update(`${this.socket}/k8s.io/${id}`).digest('hex');
      rmSync(`/run/containerd/s/${hash}`, { force: true });
    }
    for (let attempt = 0; ; attempt++) {
      let busy = false;
      for (const dir of cgroups) {
        for (const id of sandboxIds) {
          const child = join(dir, id);
          if (!existsSync(child)) continue;
          for (const pid of readFileSync(join(child, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) kill(Number(pid));
          try {
            rmdirSync(child);
          } catch {
            busy = true; // its processes are still exiting
          }
        }
        if (!busy) {
          try {
            rmdirSync(dir);
          } catch {
            busy = true;
          }
        }
      }
      if (!busy || attempt === 50) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private unmountScratch(): void {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '');
    for (const m of mounts.filter((p) => p.startsWith(`${this.dir}/`)).reverse()) spawnSync('umount', ['-l', m]);
  }
}

/** The network namespace path containerd made for a sandbox, from the runtime spec in its verbose status. */
export function sandboxNetns(info: Record<string, unknown> | undefined): string {
  const spec = info?.runtimeSpec as { linux?: { namespaces?: Array<{ type: string; path?: string }> } } | undefined;
  const path = spec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  if (!path) throw new Error(`no network namespace in the sandbox's runtime spec: ${JSON.stringify(info)?.slice(0, 500)}`);
  return path;
}

/** `ip -j …` inside a namespace given by path, as JSON. */
export function ipIn<T>(netnsPath: string, ...args: string[]): T {
  return JSON.parse(run('nsenter', [`--net=${netnsPath}`, 'ip', '-j', ...args], `ip in ${netnsPath}`)) as T;
}

/** libcni's cache entries (`<network>-<containerID>-<ifname>`) of a sandbox. */
export function libcniCacheOf(sandboxId: string): string[] {
  return existsSync(LIBCNI_CACHE) ? readdirSync(LIBCNI_CACHE).filter((f) => f.includes(sandboxId)) : [];
}
