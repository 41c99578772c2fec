// Runs inside the ipvlan VM (see test/vm/init): every ipvlan mode through our built-in and through each set of
// reference plugins under /ref, with the same configuration, one after the other on one pod namespace. It prints one line,
// `VMRESULT <json>`, that test/integration/ipvlan-kernel.test.ts compares; it asserts nothing itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';

const ip = (...args) => execFileSync('ip', args, { encoding: 'utf8' });
const json = (...args) => JSON.parse(ip('-j', ...args) || '[]');

ip('link', 'add', 'master0', 'type', 'dummy');
ip('link', 'set', 'master0', 'up');

mkdirSync('/tmp/ours');
for (const name of ['ipvlan', 'host-local']) symlinkSync('/project/bin/multus', `/tmp/ours/${name}`);
const plugins = { ours: '/tmp/ours' };
for (const set of readdirSync('/ref').sort()) plugins[set] = `/ref/${set}`;

function call(impl, command, conf) {
  const r = spawnSync(`${plugins[impl]}/ipvlan`, [], {
    input: JSON.stringify(conf),
    encoding: 'utf8',
    env: {
      PATH: '/bin:/usr/bin:/usr/sbin', CNI_COMMAND: command, CNI_CONTAINERID: 'vm-pod-1', CNI_NETNS: '/run/netns/pod',
      CNI_IFNAME: 'net1', CNI_PATH: plugins[impl], CNI_ARGS: '',
    },
  });
  let out;
  try {
    out = r.stdout ? JSON.parse(r.stdout) : undefined;
  } catch {
    out = r.stdout;
  }
  return { status: r.status, out, stderr: r.stderr };
}

/** What the pod and the IPAM store hold: links without indexes (they differ by creation path), addresses, routes. */
function state(dataDir) {
  const links = json('-n', 'pod', '-d', 'link', 'show').filter((l) => l.ifname !== 'lo').map((l) => ({
    ifname: l.ifname, kind: l.linkinfo?.info_kind, mode: l.linkinfo?.info_data?.mode, mtu: l.mtu, address: l.address,
    operstate: l.operstate,
  }));
  const addrs = json('-n', 'pod', 'addr', 'show').filter((l) => l.ifname !== 'lo')
    .map((l) => ({ ifname: l.ifname, addrs: l.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`) }));
  const routes = [...json('-n', 'pod', 'route', 'show'), ...json('-n', 'pod', '-6', 'route', 'show')]
    .filter((r) => !String(r.dst).startsWith('fe80'));
  const store = {};
  const dir = `${dataDir}/ipvl`;
  try {
    for (const f of readdirSync(dir).sort()) if (f !== 'lock') store[f] = readFileSync(`${dir}/${f}`, 'utf8');
  } catch {
    // no store yet: nothing reserved
  }
  return { links, addrs, routes, store };
}

/**
 * ADD, CHECK with its result, DEL and DEL again of one ipvlan in a fresh pod namespace, with what the pod and the
 * store hold after ADD and after DEL; `before` prepares the pod (its namespace exists by then).
 */
function scenario(impl, mode, dataDir, before = () => {}) {
  ip('netns', 'add', 'pod');
  before();
  const conf = {
    cniVersion: '1.0.0', name: 'ipvl', type: 'ipvlan', master: 'master0', mode, mtu: 1400,
    ipam: { type: 'host-local', subnet: '10.55.0.0/24', gateway: '10.55.0.1', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
  };
  const add = call(impl, 'ADD', conf);
  const afterAdd = state(dataDir);
  const withPrev = { ...conf, prevResult: add.out };
  const check = call(impl, 'CHECK', withPrev);
  const del = call(impl, 'DEL', withPrev);
  const afterDel = state(dataDir);
  const delAgain = call(impl, 'DEL', conf);
  ip('netns', 'del', 'pod');
  return { add, afterAdd, check, del, afterDel, delAgain };
}

const out = [];
for (const mode of ['l2', 'l3', 'l3s']) {
  for (const impl of Object.keys(plugins)) out.push({ mode, impl, ...scenario(impl, mode, `/tmp/ipam-${impl}-${mode}`) });
}
// CNI_IFNAME already taken, on the node or in the pod (mode l2): this kernel (6.1) looks a new link's name up in the
// namespace the request comes from, which our direct creation under the final name meets on the node.
for (const where of ['node', 'pod']) {
  for (const impl of Object.keys(plugins)) {
    const s = scenario(impl, 'l2', `/tmp/ipam-${impl}-taken-${where}`,
      () => ip(...(where === 'pod' ? ['-n', 'pod'] : []), 'link', 'add', 'net1', 'type', 'dummy'));
    // The node's net1 after all that: it must still be there, untouched.
    const nodeNet1 = json('-d', 'link', 'show').filter((l) => l.ifname === 'net1').map((l) => l.linkinfo?.info_kind);
    if (where === 'node') ip('link', 'del', 'net1');
    out.push({ mode: `net1 taken in the ${where}`, impl, ...s, nodeNet1 });
  }
}
process.stdout.write(`VMRESULT ${JSON.stringify(out)}\n`);
