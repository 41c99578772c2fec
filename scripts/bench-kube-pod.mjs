#!/usr/bin/env node
// What a pod costs in Kubernetes mode, as every real user runs multus: against a real kube-apiserver (with etcd; see
// kube-bench-cluster.mjs), each ADD GETs the pod and its NetworkAttachmentDefinitions, PATCHes network-status and
// posts events over HTTPS, and each DEL may GET the pod. A pod with a bridge primary (reference plugin) and N
// macvlan + host-local secondaries from N NADs (N = 0, 1, 4), ADD then DEL, through Go Multus's thin plugin with the
// reference plugins and through multus-ts with `builtinPlugins: ["macvlan", "host-local"]`, against the same server.
// Printed: medians of wall time, CPU time (user + system of the whole process tree, from wait4) and peak RSS of
// each call; peak RSS against `node -e 0`; the API requests of each ADD (events apart) and DEL from the server's
// audit log; failed calls and leaks (reservations, links, delegate caches left after a DEL), which must be 0.
//
// Variants alternate within every run (their order flips each run), and `node -e 0` runs once per run among them,
// so machine noise hits all alike; run 0 warms caches and is not counted. multus-ts is measured as users run it:
// installed with `multus install --app-only` into a temporary directory (its `#!` line names the installed copy of
// node with --use-openssl-ca; see bench-pod.mjs), and `node -e 0` is that same installed node.
// `--also LABEL=CHECKOUT` adds another multus-ts checkout (built) as a variant, installed the same way: to measure
// a change side by side with the code before it.
// A small C wrapper, compiled here with cc, runs each call in the node's network namespace and reports what wait4
// says (Node's child_process gives no child's rusage). The server's audit log is written in blocking mode, which
// adds to every request, alike for all variants.
// Needs root, etcd-server, cc and the pinned peers (bash scripts/build-peers.sh).
// Usage: node scripts/bench-kube-pod.mjs [runs] [--also LABEL=CHECKOUT ...] [--sizes 0,1,4] [--no-go]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { go, kubeHelper, startBenchCluster } from './kube-bench-cluster.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const argv = process.argv.slice(2);
const options = (name) => {
  const values = [];
  for (let i = argv.indexOf(name); i >= 0; i = argv.indexOf(name)) values.push(argv.splice(i, 2)[1]);
  return values;
};
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i >= 0) argv.splice(i, 1);
  return i >= 0;
};
const also = options('--also').map((s) => s.split('='));
const sizes = (options('--sizes')[0] ?? '0,1,4').split(',').map(Number);
const withGo = !flag('--no-go') && !go.missing;
const runs = Number(argv[0] ?? 9);
const peers = Object.fromEntries(execFileSync('bash', [join(root, 'scripts/build-peers.sh'), '--list'], { encoding: 'utf8' })
  .trim().split('\n').map((l) => l.split(' ')).map(([name, , dir]) => [name, dir]));
const plugins = peers['cni-plugins'];
if (!existsSync(join(plugins, 'bridge'))) throw new Error(`the reference plugins are not built in ${plugins} (bash scripts/build-peers.sh)`);

const work = mkdtempSync(join(tmpdir(), 'bench-kube-pod-'));
const id = `${process.pid.toString(36)}`;
const nodeNs = `bkp-${id}-node`;
const podNs = `bkp-${id}-pod`;
const nodePath = `/var/run/netns/${nodeNs}`;
const podPath = `/var/run/netns/${podNs}`;
const sh = (...args) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });

// The wrapper: `rus <netns> <program> <args...>` enters the namespace, runs the program with stdin, stdout and
// stderr inherited, and writes "<wall ns> <user us> <system us> <max RSS kB>" to fd 3 (close-on-exec, so the call
// never sees it); its exit status is the program's.
const RUS_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) return 126;
  fcntl(3, F_SETFD, FD_CLOEXEC);
  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) { perror(argv[1]); return 126; }
  close(ns);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pid_t pid = fork();
  if (pid == 0) { execv(argv[2], argv + 2); perror(argv[2]); _exit(127); }
  int status; struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) { perror("wait4"); return 126; }
  clock_gettime(CLOCK_MONOTONIC, &b);
  dprintf(3, "%lld %ld %ld %ld\\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec),
    (long)(ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec), (long)(ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec), ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
`;
const rus = join(work, 'rus');
writeFileSync(`${rus}.c`, RUS_C);
execFileSync('cc', ['-O2', '-o', rus, `${rus}.c`]);

/** One call; resolves with { ok, wall, cpu (ms), rss (kB), out }. */
function run(binary, args, env, stdin) {
  return new Promise((resolve, reject) => {
    const child = spawn(rus, [nodePath, binary, ...args], { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let stats = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.stdio[3].on('data', (c) => (stats += c));
    child.on('error', reject);
    child.on('close', (status) => {
      const [wall, user, sys, rss] = stats.trim().split(' ').map(Number);
      resolve({ ok: status === 0 && stats !== '', wall: wall / 1e6, cpu: (user + sys) / 1000, rss, out });
    });
    child.stdin.end(stdin);
  });
}

// multus-ts as users run it: this checkout and every --also checkout installed into the work directory.
function install(checkout, label) {
  const binDir = join(work, `bin-${label}`);
  execFileSync(process.execPath, [join(checkout, 'bin/multus'), 'install', '--app-only', '--cni-bin-dir', binDir,
    '--install-dir', join(work, `app-${label}`)], { stdio: ['ignore', 'ignore', 'pipe'] });
  return join(binDir, 'multus');
}
const variants = {};
if (withGo) variants.go = { binary: go.path('multus'), go: true };
variants.ts = { binary: install(root, 'ts') };
for (const [label, checkout] of also) variants[label] = { binary: install(checkout, label) };
const installedNode = join(dirname(dirname(realpathSync(variants.ts.binary))), 'node');
const labels = { go: `Go Multus ${go.version}`, ts: 'multus-ts' };

const failures = [];
let leaks = 0;
const samples = {};
const push = (key, value) => (samples[key] ??= []).push(value);
const windows = []; // [variant, n, op, startMs, endMs]: which call each audited request belongs to

let cluster;
try {
  sh('ip', 'netns', 'add', nodeNs);
  sh('ip', 'netns', 'add', podNs);
  sh('ip', '-n', nodeNs, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
  for (const l of ['uplink0', 'uplink1', 'lo']) sh('ip', '-n', nodeNs, 'link', 'set', l, 'up');
  cluster = await startBenchCluster(nodePath, work);
  const { kube } = cluster;

  // Per variant: a namespace with max(sizes) NADs (macvlan + host-local, a subnet each), a store and a cniDir.
  const names = Array.from({ length: Math.max(...sizes) }, (_, i) => `net${i}`);
  let v = 0;
  for (const [variant, spec] of Object.entries(variants)) {
    spec.ns = `bkp-${id}-${variant}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    spec.ipam = join(work, `ipam-${variant}`);
    spec.cniDir = join(work, `cni-${variant}`);
    spec.bridge = `bkpbr${v}`;
    spec.subnet = 100 + v * 10;
    await kube.createNamespace(spec.ns);
    await kube.apply(names.map((name, i) => ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
      metadata: { name, namespace: spec.ns },
      spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master: 'uplink0', mode: 'bridge',
        ipam: { type: 'host-local', subnet: `10.${spec.subnet + 1 + i}.0.0/16`, dataDir: spec.ipam } }) } })));
    spec.conf = JSON.stringify({
      cniVersion: '1.0.0', name: 'bench', type: 'multus', cniDir: spec.cniDir, binDir: plugins,
      kubeconfig: spec.go ? cluster.goKubeconfig : cluster.kubeconfig,
      ...(spec.go ? {} : { builtinPlugins: ['macvlan', 'host-local'] }),
      delegates: [{ cniVersion: '1.0.0', name: `prim-${variant}`, type: 'bridge', bridge: spec.bridge,
        ipam: { type: 'host-local', subnet: `10.${spec.subnet}.0.0/16`, dataDir: spec.ipam } }],
    });
    v += 1;
  }

  /** Reservations in the variant's store, links in the pod and delegate caches left: none after a DEL. */
  const leftovers = (spec) => {
    let n = 0;
    if (existsSync(spec.ipam)) {
      for (const net of readdirSync(spec.ipam)) {
        n += readdirSync(join(spec.ipam, net)).filter((f) => !f.startsWith('lock') && !f.startsWith('last_reserved_ip')).length;
      }
    }
    n += execFileSync('ip', ['-n', podNs, '-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n').length - 1;
    if (existsSync(spec.cniDir)) n += readdirSync(spec.cniDir).filter((f) => f !== 'results' && f !== '.deleted' && !f.startsWith('.lock')).length;
    return n;
  };

  let podCount = 0;
  async function pod(variant, n, keep) {
    const spec = variants[variant];
    const name = `p${(podCount += 1)}-${n}`;
    const annotations = n > 0 ? { 'k8s.v1.cni.cncf.io/networks': names.slice(0, n).join(',') } : {};
    const uid = (await kube.createPod(spec.ns, name, annotations)).metadata.uid;
    const env = (command) => ({ PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: `${variant}-${name}`,
      CNI_NETNS: podPath, CNI_IFNAME: 'eth0', CNI_PATH: plugins,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${spec.ns};K8S_POD_NAME=${name};K8S_POD_UID=${uid};K8S_POD_INFRA_CONTAINER_ID=${variant}-${name}` });
    for (const op of ['add', 'del']) {
      const start = Date.now();
      const r = await run(spec.binary, [], env(op.toUpperCase()), spec.conf);
      const end = Date.now();
      if (!r.ok) failures.push(`${variant} N=${n} ${op}: ${r.out}`.slice(0, 600));
      if (keep) {
        windows.push([variant, n, op, start, end]);
        push(`${variant} ${n} ${op} wall`, r.wall);
        push(`${variant} ${n} ${op} cpu`, r.cpu);
        push(`${variant} ${n} ${op} rss`, r.rss);
      }
    }
    leaks += leftovers(spec);
    await kube.deletePod(spec.ns, name);
  }

  for (let r = 0; r <= runs; r++) {
    const keep = r > 0;
    const order = Object.keys(variants);
    if (r % 2) order.reverse();
    const floor = await run(installedNode, ['-e', '0'], { PATH: process.env.PATH }, '');
    if (keep) {
      push('node wall', floor.wall);
      push('node cpu', floor.cpu);
      push('node rss', floor.rss);
    }
    for (const n of sizes) for (const variant of order) await pod(variant, n, keep);
  }

  // The API requests of each call, from the audit log: by user, in the variant's namespace, within the call's time.
  const audit = kube.audit().filter((e) => e.user.username === cluster.user || e.user.username === cluster.goUser);
  const requests = {};
  for (const [variant, n, op, start, end] of windows) {
    const spec = variants[variant];
    const user = spec.go ? cluster.goUser : cluster.user;
    const mine = audit.filter((e) => e.user.username === user && e.objectRef?.namespace === spec.ns)
      .filter((e) => {
        const t = Date.parse(e.requestReceivedTimestamp);
        return t >= start - 1 && t <= end + 1;
      });
    const key = `${variant} ${n} ${op}`;
    (requests[key] ??= []).push([mine.length, mine.filter((e) => e.objectRef?.resource === 'events').length]);
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const m = (k) => median(samples[k]);
  const ms = (x) => `${x.toFixed(1)}`;
  const mb = (kb) => `${(kb / 1024).toFixed(1)}`;
  const counts = (key) => {
    const c = requests[key] ?? [];
    const all = [...new Set(c.map(([a, e]) => (e ? `${a - e}+${e}ev` : `${a}`)))];
    return all.join('|') || '-';
  };
  const nodeRss = m('node rss');
  console.log(`medians of ${runs} runs; kube-apiserver ${kubeHelper.KUBERNETES_VERSION} (etcd, RBAC, audit log); plugins ${plugins}`);
  console.log(`node -e 0 (installed copy): wall ${ms(m('node wall'))} ms, CPU ${ms(m('node cpu'))} ms, peak RSS ${mb(nodeRss)} MB; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log('');
  const head = ['', 'wall ms', 'CPU ms', 'RSS MB', 'xnode', 'requests'];
  const w = [26, 9, 9, 8, 7, 12];
  const line = (cells) => console.log(cells.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join(''));
  for (const n of sizes) {
    for (const op of ['add', 'del']) {
      line([`pod ${op.toUpperCase()}, N=${n}`, ...head.slice(1)]);
      for (const variant of Object.keys(variants)) {
        const k = `${variant} ${n} ${op}`;
        line([`  ${labels[variant] ?? variant}`, ms(m(`${k} wall`)), ms(m(`${k} cpu`)), mb(m(`${k} rss`)),
          (m(`${k} rss`) / nodeRss).toFixed(2), counts(k)]);
      }
      if (withGo) {
        for (const variant of Object.keys(variants).filter((x) => x !== 'go')) {
          const k = `${variant} ${n} ${op}`;
          const g = `go ${n} ${op}`;
          console.log(`${''.padEnd(w[0])}${labels[variant] ?? variant} / Go: wall ${(m(`${k} wall`) / m(`${g} wall`)).toFixed(2)}, CPU ${(m(`${k} cpu`) / m(`${g} cpu`)).toFixed(2)}`);
        }
      }
    }
  }
  console.log('');
  console.log('requests: those the call made that the server audited, "+Kev" the events among them');
  const rssAdd1 = m(`ts ${sizes.includes(1) ? 1 : sizes[0]} add rss`);
  console.log(`peak RSS of one multus-ts ADD (N=${sizes.includes(1) ? 1 : sizes[0]}) / node -e 0: ${(rssAdd1 / nodeRss).toFixed(2)} (goal <= 1.2)`);
  console.log(`failed calls: ${failures.length}; leaked reservations, links and caches: ${leaks}`);
  for (const e of failures.slice(0, 5)) console.log(`  ${e}`);
} finally {
  if (cluster) await cluster.kube.close();
  spawnSync('ip', ['netns', 'del', podNs]);
  spawnSync('ip', ['netns', 'del', nodeNs]);
  rmSync(work, { recursive: true, force: true });
}
if (failures.length || leaks) process.exitCode = 1;
