#!/usr/bin/env node
// What a pod costs with multus-ts, side by side with Go Multus, in one run (issue 13's figures and goals):
//  - start-up: `node -e 0`, `CNI_COMMAND=VERSION bin/multus`, and the built-in host-local ADD alone (against the Go
//    host-local);
//  - a whole pod: a bridge primary (reference plugin) plus N macvlan + host-local secondaries, ADD then DEL, N = 1,
//    4, 16, through Go Multus with the reference plugins, through multus-ts with `builtinPlugins` (our macvlan and
//    host-local in-process), and through multus-ts with the reference plugins;
//  - the cost of each extra attachment, and the peak RSS of one call.
// Variants alternate within every run, so machine noise hits them alike; medians are printed. Every call must
// succeed and every DEL must leave no address reserved and nothing in the pod: the script counts both and fails
// if either is not 0.
// It measures the executable as users run it: installed by `multus install --app-only` (our own installer, run
// from this checkout) into a temporary directory, so the runtime's exec goes through the `multus` symlink to the
// installed bin/multus, whose #! line names the installed copy of node with --use-openssl-ca: no
// `#!/usr/bin/env -S`, whose extra exec of env (about 1 ms) no installed node pays; the code caches are the
// installed copy's own, written by the first run (which is not counted). Installing takes under a second (it copies
// the node binary). `node -e 0`, the start-up floor the ratios divide by, is that same installed node: copies of
// one node binary start up to 3-4 ms apart on this machine, the faster one changing over time (how the page cache
// holds each file), so dividing by another binary would flatter or penalise multus by that much; the checkout's node
// is printed beside it.
// Its files (the installed copy, both host-local stores, both cniDirs) go where a node keeps CNI state, under
// /var/lib (host-local's default store is /var/lib/cni/networks, Multus's cache /var/lib/cni/multus), not under
// /tmp: on this project's machine a file created below /tmp costs twice what it costs below /var/lib on the same
// ext4 file system (300 exclusive creates from C: 83-90 against 41-50 us each), and every attachment creates two,
// for Go Multus's plugins as for ours.
// Needs root. Usage: node scripts/bench-pod.mjs [runs] [--plugins DIR] [--go-multus FILE]
// (defaults: the peers that scripts/build-peers.sh built, else Debian's /usr/lib/cni and no Go Multus).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { withNetns } = createRequire(import.meta.url)(join(root, 'build/Release/netns.node'));

const argv = process.argv.slice(2);
const option = (name) => {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv.splice(i, 2)[1];
};
const peers = Object.fromEntries(execFileSync('bash', [join(root, 'scripts/build-peers.sh'), '--list'], { encoding: 'utf8' })
  .trim().split('\n').map((l) => l.split(' ')).map(([name, , dir]) => [name, dir]));
const plugins = option('--plugins') ?? (existsSync(join(peers['cni-plugins'], 'bridge')) ? peers['cni-plugins'] : '/usr/lib/cni');
const goMultus = option('--go-multus') ?? [join(peers.multus, 'multus')].find(existsSync);
const runs = Number(argv[0] ?? 9);
const sizes = [1, 4, 16];

const work = mkdtempSync('/var/lib/multus-ts-bench-pod-');
const nodeNs = `bench-node-${process.pid}`;
const podNs = `bench-pod-${process.pid}`;
const podPath = `/var/run/netns/${podNs}`;

function sh(...args) {
  execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

// The installed executable: `<bin>/multus` a symlink to `<app>/<version>/bin/multus`, and our host-local under its
// own name (a link to multus), for the host-local-alone figure.
const binDir = join(work, 'bin');
try {
  execFileSync(process.execPath, [join(root, 'bin/multus'), 'install', '--app-only', '--cni-bin-dir', binDir,
    '--install-dir', join(work, 'app'), '--link-builtin-plugins', 'host-local'], { stdio: ['ignore', 'ignore', 'pipe'] });
} catch (e) {
  rmSync(work, { recursive: true, force: true });
  throw e;
}
const multus = join(binDir, 'multus');
const installedNode = join(dirname(dirname(realpathSync(multus))), 'node');

const failures = [];
let leaks = 0;

/** One call as a runtime makes it, from inside the node's namespace; wall time in ms. */
function call(binary, command, stdin, args = []) {
  const start = process.hrtime.bigint();
  const r = withNetns(`/var/run/netns/${nodeNs}`, () => spawnSync(binary, args, {
    input: stdin, encoding: 'utf8',
    env: { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: 'bench1', CNI_NETNS: podPath,
      CNI_IFNAME: 'eth0', CNI_PATH: plugins },
  }));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) failures.push(`${binary} ${command}: ${r.stdout}${r.stderr}`.slice(0, 400));
  return ms;
}

/** Peak RSS (kB) of one command, through GNU time. */
function peakRss(binary, args, command, stdin) {
  const r = withNetns(`/var/run/netns/${nodeNs}`, () => spawnSync('/usr/bin/time', ['-f', '%M', binary, ...args], {
    input: stdin ?? '', encoding: 'utf8',
    env: { PATH: process.env.PATH, CNI_COMMAND: command ?? '', CNI_CONTAINERID: 'bench1', CNI_NETNS: podPath, CNI_IFNAME: 'eth0', CNI_PATH: plugins },
  }));
  return Number(r.stderr.trim().split('\n').at(-1));
}

const ipamDir = (variant) => join(work, `ipam-${variant}`);

function podConf(variant, n) {
  const ipam = (net) => ({ type: 'host-local', subnet: `10.${net}.0.0/16`, dataDir: ipamDir(variant) });
  const bridge = { builtin: 'bnchbr0', reference: 'bnchbr1', go: 'bnchbr2' }[variant];
  return JSON.stringify({
    cniVersion: '1.0.0', name: 'bench', type: 'multus', cniDir: join(work, `cni-${variant}`), binDir: plugins,
    ...(variant === 'builtin' ? { builtinPlugins: ['macvlan', 'host-local'] } : {}),
    delegates: [
      { cniVersion: '1.0.0', name: `prim-${variant}`, type: 'bridge', bridge, ipam: ipam(100) },
      ...Array.from({ length: n }, (_, i) => ({
        cniVersion: '1.0.0', name: `sec${i}-${variant}`, type: 'macvlan', master: 'uplink0', mode: 'bridge', ipam: ipam(101 + i),
      })),
    ],
  });
}

/** Addresses still reserved in a host-local store, and links still in the pod: both must be none after a DEL. */
function leftovers(variant) {
  let n = 0;
  const dir = ipamDir(variant);
  if (existsSync(dir)) {
    for (const net of readdirSync(dir)) {
      n += readdirSync(join(dir, net)).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip') && !f.startsWith('lock')).length;
    }
  }
  const links = execFileSync('ip', ['-n', podNs, '-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n').length - 1;
  return n + links;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const variants = { ...(goMultus ? { go: goMultus } : {}), builtin: multus, reference: multus };
const samples = {};
const push = (key, value) => (samples[key] ??= []).push(value);
const hostLocalConf = (dir) => JSON.stringify({
  cniVersion: '1.0.0', name: 'hl-alone', type: 'host-local', ipam: { type: 'host-local', subnet: '10.99.0.0/16', dataDir: dir },
});

try {
  sh('ip', 'netns', 'add', nodeNs);
  sh('ip', 'netns', 'add', podNs);
  sh('ip', '-n', nodeNs, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
  for (const l of ['uplink0', 'uplink1']) sh('ip', '-n', nodeNs, 'link', 'set', l, 'up');

  for (let r = 0; r <= runs; r++) {
    const keep = r > 0; // run 0 warms the page cache
    const t = {
      node: call(installedNode, 'VERSION', '', ['-e', '0']),
      checkoutNode: call(process.execPath, 'VERSION', '', ['-e', '0']),
      version: call(multus, 'VERSION', ''),
      hlOurs: call(join(binDir, 'host-local'), 'ADD', hostLocalConf(join(work, 'hl-ours'))),
      hlGo: call(join(plugins, 'host-local'), 'ADD', hostLocalConf(join(work, 'hl-go'))),
    };
    call(join(binDir, 'host-local'), 'DEL', hostLocalConf(join(work, 'hl-ours')));
    call(join(plugins, 'host-local'), 'DEL', hostLocalConf(join(work, 'hl-go')));
    if (keep) for (const [k, v] of Object.entries(t)) push(k, v);
    for (const n of sizes) {
      for (const [variant, binary] of Object.entries(variants)) {
        const conf = podConf(variant, n);
        const add = call(binary, 'ADD', conf);
        const del = call(binary, 'DEL', conf);
        leaks += leftovers(variant);
        if (keep) {
          push(`${variant} ${n} add`, add);
          push(`${variant} ${n} del`, del);
        }
      }
    }
  }
  // Peak RSS, outside the timed runs: GNU time in between would cost every variant a little.
  const rss = {
    'node -e 0': median([0, 1, 2].map(() => peakRss(installedNode, ['-e', '0']))),
    'multus-ts pod ADD N=1': median([0, 1, 2].map(() => {
      const kb = peakRss(multus, [], 'ADD', podConf('builtin', 1));
      call(multus, 'DEL', podConf('builtin', 1));
      return kb;
    })),
    ...(goMultus ? {
      'Go Multus pod ADD N=1': median([0, 1, 2].map(() => {
        const kb = peakRss(goMultus, [], 'ADD', podConf('go', 1));
        call(goMultus, 'DEL', podConf('go', 1));
        return kb;
      })),
    } : {}),
  };
  leaks += leftovers('builtin') + (goMultus ? leftovers('go') : 0);

  const m = (k) => median(samples[k]);
  const f = (x) => `${x.toFixed(1)} ms`;
  const goal = (label, value, limit) => console.log(`${label.padEnd(58)} ${value.toFixed(2).padStart(6)}  (goal <= ${limit}) ${value <= limit ? 'OK' : 'OVER'}`);
  console.log(`medians of ${runs} runs; plugins: ${plugins}; Go Multus: ${goMultus ?? 'none (pass --go-multus or run scripts/build-peers.sh)'}`);
  console.log(`executable: ${realpathSync(multus)} (installed), node: ${installedNode}`);
  console.log(`node -e 0 ${f(m('node'))} (the checkout's ${process.execPath}: ${f(m('checkoutNode'))})   multus VERSION ${f(m('version'))}   host-local ADD alone: ours ${f(m('hlOurs'))}, Go ${f(m('hlGo'))}`);
  console.log('');
  console.log(`${''.padEnd(22)}${Object.keys(variants).map((v) => ({ go: 'Go Multus', builtin: 'multus-ts builtins', reference: 'multus-ts ref plugins' })[v].padStart(22)).join('')}`);
  for (const n of sizes) {
    for (const op of ['add', 'del']) {
      console.log(`pod ${op.toUpperCase()}, N=${String(n).padEnd(13)}${Object.keys(variants).map((v) => f(m(`${v} ${n} ${op}`)).padStart(22)).join('')}`);
    }
  }
  const extra = (v, op) => (m(`${v} ${sizes.at(-1)} ${op}`) - m(`${v} ${sizes[0]} ${op}`)) / (sizes.at(-1) - sizes[0]);
  console.log(`per extra attachment  ${Object.keys(variants).map((v) => `${extra(v, 'add').toFixed(1)} / ${extra(v, 'del').toFixed(1)} ms`.padStart(22)).join('')}`);
  console.log(`peak RSS: ${Object.entries(rss).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} MB`).join(', ')}`);
  console.log('');
  goal('built-in host-local ADD alone / node -e 0', m('hlOurs') / m('node'), 1.2);
  goal('VERSION / node -e 0', m('version') / m('node'), 1.2);
  if (goMultus) {
    goal('pod ADD N=1, multus-ts builtins / Go Multus', m('builtin 1 add') / m('go 1 add'), 1.4);
    goal('pod ADD N=4, multus-ts builtins / Go Multus', m('builtin 4 add') / m('go 4 add'), 0.8);
    goal('pod ADD N=16, multus-ts builtins / Go Multus', m('builtin 16 add') / m('go 16 add'), 0.4);
    goal('pod DEL N=16, multus-ts builtins / Go Multus', m('builtin 16 del') / m('go 16 del'), 0.3);
  }
  goal('extra built-in attachment, ADD (ms)', extra('builtin', 'add'), 3);
  goal('extra built-in attachment, DEL (ms)', extra('builtin', 'del'), 3);
  goal('peak RSS of one call / node -e 0', rss['multus-ts pod ADD N=1'] / rss['node -e 0'], 1.2);
  console.log(`failed calls: ${failures.length}; leaked reservations and links: ${leaks}`);
  for (const e of failures.slice(0, 5)) console.log(`  ${e}`);
} finally {
  spawnSync('ip', ['netns', 'del', podNs]);
  spawnSync('ip', ['netns', 'del', nodeNs]);
  rmSync(work, { recursive: true, force: true });
}
if (failures.length || leaks) process.exitCode = 1;
