import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinRunner, loadBuiltinPlugin, runPlugin } from '../../src/builtins';
import { mapBounded } from '../../src/util/bounded-map';
import { runMultusAsync, Workdir } from '../helpers/multus';
import { startApiServer, type ApiServer } from '../helpers/api-server';
import { canUseNamespaces, TestNode } from '../helpers/netns';
import { ourPlugin } from '../helpers/plugin-exec';

/*
 * A few hundred generated hostile inputs (issue 12): malformed and deep JSON, a wrong type for every configuration
 * key, path tricks in every name that becomes a path or a program, hostile CNI_* variables, annotations,
 * NetworkAttachmentDefinitions and kubeconfigs. Each goes through ADD and then DEL, and for each:
 *   - ADD exits non-zero with exactly one CNI error object on stdout (no stack, no "internal error");
 *   - DEL either succeeds silently or prints exactly one error object;
 *   - no program outside binDir/CNI_PATH ran (a planted program would leave a marker);
 *   - nothing is left in cniDir (but DEL's 'already deleted' mark) or in the IPAM store;
 *   - both return within their time limit.
 * Cases run in this process through the same runPlugin the executable uses (a process per case would take minutes
 * on a 2-core machine), a few at a time; every eighth also runs through the real executable.
 */

interface Case {
  name: string;
  /** Configuration text or object; the per-case directories are filled in by `conf()` for objects. */
  conf: unknown;
  env?: Record<string, string>;
  /** Set up what the case needs in the API server; returns the CNI_ARGS naming the pod. */
  k8s?: (api: ApiServer, ns: string) => string;
}

const CALL_LIMIT_MS = 20_000;
let seed = 12;
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}

describe('hostile inputs through ADD and DEL', () => {
  const work = new Workdir();
  const evilDir = join(work.dir, 'evil');
  const marker = join(work.dir, 'evil-ran');
  const fifo = join(work.dir, 'fifo');
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer();
    mkdirSync(evilDir);
    // A program path tricks could reach: beside binDir ("../evil/x") and by its absolute path.
    writeFileSync(join(evilDir, 'x'), `#!/bin/sh\ntouch ${marker}\necho '{"cniVersion":"1.0.0"}'\n`);
    chmodSync(join(evilDir, 'x'), 0o755);
    execFileSync('mkfifo', [fifo]);
  });
  afterAll(async () => {
    await api?.close();
    work.remove();
  });

  const spy = { log: join(work.dir, 'spy.log') };
  const base = () => ({
    cniVersion: '1.0.0', name: 'hostile', type: 'multus', binDir: work.binDir, delegateTimeoutSeconds: 5, readinessTimeoutSeconds: 1,
    delegates: [{ cniVersion: '1.0.0', name: 'primary', type: 'spy', spy }],
  });
  const deep = (n: number, open = '[', close = ']') => `${open.repeat(n)}${close.repeat(n)}`;
  const TRICKS = ['../evil/x', `${evilDir}/x`, '..', '.', 'a/b', 'x\u0000y', '%2e%2e%2fevil%2fx', ' spy', 'spy\n', 'x'.repeat(300), '*', ''];

  function cases(): Case[] {
    const out: Case[] = [];
    const add = (name: string, conf: unknown, more: Omit<Case, 'name' | 'conf'> = {}) => out.push({ name, conf, ...more });
    const text = JSON.stringify(base());

    // Malformed and deep JSON.
    for (let i = 1; i <= 30; i++) {
      const cut = Math.floor((text.length * i) / 31);
      add(`truncated at ${cut}`, text.slice(0, cut));
    }
    for (let i = 0, made = 0; made < 30 && i < 1000; i++) {
      const at = Math.floor(random() * text.length);
      const mutated = `${text.slice(0, at)}${'{}[],:"\\'[Math.floor(random() * 8)]}${text.slice(at + 1)}`;
      try {
        JSON.parse(mutated);
      } catch {
        add(`mutated at ${at}`, mutated);
        made++;
      }
    }
    for (const t of ['', 'null', '[]', '1', '"x"', 'true', '{', '}', '{"a":1}{"b":2}', '\u0000', '\uFEFF{}']) add(`top-level ${JSON.stringify(t)}`, t);
    add('deep array', deep(100_000));
    add('deep object', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
    add('2 MB deep configuration', text.replace('"delegates":', `"x":${deep(1_000_000)},"delegates":`));
    add('deep in a delegate', text.replace('"spy":', `"deep":${deep(5000)},"spy":`));
    add('deep in runtimeConfig', text.replace('"delegates":', `"runtimeConfig":{"x":${deep(5000, '{"a":', '}').replace(/\{"a":\}/g, '{"a":1}')}},"delegates":`));
    add('deep prevResult', text.replace('"delegates":', `"prevResult":${deep(5000)},"delegates":`));

    // A wrong type for every key multus reads.
    const wrong: Record<string, unknown[]> = {
      string: [5, true, [], {}], bool: ['yes', 5, [], {}], seconds: ['5', true, [], {}, -1, 0],
      list: ['x', 5, {}, true, [5]], object: ['x', 5, [], true],
    };
    const keys: Record<string, string> = {
      cniVersion: 'string', type: 'string', confDir: 'string', cniDir: 'string', binDir: 'string', kubeconfig: 'string',
      clusterNetwork: 'string', logFile: 'string', logLevel: 'string', readinessindicatorfile: 'string', multusNamespace: 'string',
      globalNamespaces: 'string', logToStderr: 'bool', namespaceIsolation: 'bool', retryDeleteOnError: 'bool',
      delegateTimeoutSeconds: 'seconds', readinessTimeoutSeconds: 'seconds', delegates: 'list', defaultNetworks: 'list',
      systemNamespaces: 'list', runtimeConfig: 'object', logOptions: 'object',
    };
    for (const [key, kind] of Object.entries(keys)) {
      for (const v of wrong[kind]!) {
        if (key === 'delegates' && Array.isArray(v)) continue; // [5] is covered below as a delegate
        add(`${key}: ${JSON.stringify(v)}`, { ...base(), [key]: v });
      }
    }
    add('name: 5', { ...base(), name: 5 });
    add('name: []', { ...base(), name: [] });
    for (const k of ['maxSize', 'maxAge', 'maxBackups']) add(`logOptions.${k}: "x"`, { ...base(), logOptions: { [k]: 'x' } });
    add('logOptions.compress: "yes"', { ...base(), logOptions: { compress: 'yes' } });
    const delegate = (d: Record<string, unknown>) => ({ ...base(), delegates: [{ cniVersion: '1.0.0', name: 'primary', type: 'spy', spy, ...d }] });
    for (const v of [5, [], {}, null]) add(`delegate name ${JSON.stringify(v)}`, delegate({ name: v }));
    for (const v of [5, [], {}, null]) add(`delegate type ${JSON.stringify(v)}`, delegate({ type: v }));
    for (const v of [5, '9.9.9', []]) add(`delegate cniVersion ${JSON.stringify(v)}`, delegate({ cniVersion: v }));
    for (const v of ['x', [], [5], [null], {}]) add(`delegate plugins ${JSON.stringify(v)}`, delegate({ plugins: v }));
    for (const v of [5, {}, []]) add(`delegate ipam.type ${JSON.stringify(v)}`, delegate({ ipam: { type: v } }));
    add('delegate disableCheck "maybe"', delegate({ disableCheck: 'maybe' }));
    for (const v of [5, 'x', null, []]) add(`delegates element ${JSON.stringify(v)}`, { ...base(), delegates: [v] });

    // Path tricks in every name that becomes a path or a program.
    for (const t of TRICKS) {
      const shown = JSON.stringify(t).slice(0, 20);
      add(`delegate type ${shown}`, delegate({ type: t }));
      add(`conflist plugin type ${shown}`, { ...base(), delegates: [{ cniVersion: '1.0.0', name: 'primary', plugins: [{ type: 'spy', spy }, { type: t }] }] });
      if (t !== '') {
        // An empty IPAM type is no IPAM at all.
        add(`ipam.type ${shown}`, delegate({ ipam: { type: t } }));
        add(`conflist ipam.type ${shown}`, { ...base(), delegates: [{ cniVersion: '1.0.0', name: 'primary', plugins: [{ type: 'spy', spy, ipam: { type: t } }] }] });
      }
      add(`network name ${shown}`, delegate({ name: t }));
      // multus's own name names no file: only the tricks that are not plain names.
      if (t.length < 300) add(`configuration name ${shown}`, { ...base(), name: t });
      add(`second network type ${shown}`, { ...base(), delegates: [...base().delegates, { cniVersion: '1.0.0', name: 'second', type: t }] });
    }

    // Hostile CNI_* variables.
    for (const v of ['', '../x', 'a/b', '.', '..', 'x\ny', '-x', ' x', 'x'.repeat(300), 'x;y']) add(`CNI_CONTAINERID ${JSON.stringify(v).slice(0, 20)}`, base(), { env: { CNI_CONTAINERID: v } });
    for (const v of ['', '../x', 'a/b', '.', '..', 'x'.repeat(16), 'eth 0', 'eth0\n', 'a:b']) add(`CNI_IFNAME ${JSON.stringify(v)}`, base(), { env: { CNI_IFNAME: v } });
    for (const v of ['/nonexistent/netns', '/proc/self/ns/net', '', 'relative/netns']) add(`CNI_NETNS ${JSON.stringify(v)}`, base(), { env: { CNI_NETNS: v } });
    for (const v of ['K8S_POD_NAMESPACE=../x;K8S_POD_NAME=p', 'IgnoreUnknown=1;K8S_POD_NAME=p', 'a=b=c', '=', ';;', 'IgnoreUnknown=maybe', 'FOO=bar',
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=x%2Fy;K8S_POD_NAME=p', `IgnoreUnknown=1;K8S_POD_NAMESPACE=${'a'.repeat(64)};K8S_POD_NAME=p`,
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=a..b', 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p/../../x']) {
      add(`CNI_ARGS ${JSON.stringify(v).slice(0, 40)}`, base(), { env: { CNI_ARGS: v } });
    }
    for (const v of ['add', 'FROB', 'ADD\n', ' ADD']) add(`CNI_COMMAND ${JSON.stringify(v)}`, base(), { env: { CNI_COMMAND: v } });
    add('CNI_PATH empty', base(), { env: { CNI_PATH: '' } });

    // Hostile annotations and NetworkAttachmentDefinitions, from the API server.
    const pod = (annotations: Record<string, string>, nads: Record<string, string> = {}) => (a: ApiServer, ns: string) => {
      a.addPod({ namespace: ns, name: 'p', annotations });
      for (const [name, config] of Object.entries(nads)) a.addNad({ namespace: ns, name, config });
      return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=p`;
    };
    const NETS = 'k8s.v1.cni.cncf.io/networks';
    const kube = () => ({ ...base(), kubeconfig: '' });
    for (const v of ['[{', deep(100_000), Array.from({ length: 5000 }, (_, i) => `n${i}`).join(','), '../x', 'ns/../x', 'NS/x', 'x@../y', 'x@eth0',
      'x@a/b', '[{"name":5}]', '[{"name":"x","interface":"a/b"}]', '[{"name":"x","mac":"zz"}]', '[{"name":"x","ips":["nope"]}]',
      '[{"name":"x","default-route":["nope"]}]', `[{"name":"x","cni-args":${deep(5000, '{"a":', '}').replace(/\{"a":\}/g, '{"a":1}')}}]`,
      '[{"name":"x","namespace":"../y"}]', '{"name":"x"}', '"x"', 'nosuch', 'x,x@net1,x@net1', ',,,', '@', '/', `${'a'.repeat(300)}`]) {
      add(`annotation ${JSON.stringify(v).slice(0, 40)}`, kube(), { k8s: pod({ [NETS]: v }, { x: JSON.stringify({ cniVersion: '1.0.0', type: 'spy', spy }) }) });
    }
    for (const v of ['../x', 'ns/../x', deep(10_000), '[{"name":"x"},{"name":"y"}]']) {
      add(`default-network annotation ${JSON.stringify(v).slice(0, 30)}`, kube(), { k8s: pod({ 'v1.multus-cni.io/default-network': v }) });
    }
    for (const config of ['{', deep(100_000), '{"cniVersion":"1.0.0","type":"../evil/x"}', `{"cniVersion":"1.0.0","type":"${evilDir}/x"}`,
      '{"cniVersion":"1.0.0","type":"spy","ipam":{"type":"../evil/x"}}', '{"cniVersion":"1.0.0","type":5}', '{"cniVersion":"1.0.0","type":"spy","name":"../x"}',
      '{"cniVersion":"9.9.9","type":"spy"}', '{"cniVersion":"1.0.0","plugins":[]}', '{"cniVersion":"1.0.0","plugins":[{"type":"../evil/x"}]}', '[]', 'null',
      '{"cniVersion":"1.0.0","plugins":[{"type":"spy","ipam":{"type":"/bin/sh"}}]}']) {
      add(`NAD ${JSON.stringify(config).slice(0, 40)}`, kube(), { k8s: pod({ [NETS]: 'bad' }, { bad: config }) });
    }

    // Hostile kubeconfigs.
    const kubeconfigFile = (name: string, content: string) => {
      const path = join(work.dir, `kubeconfig-${name}`);
      writeFileSync(path, content);
      return path;
    };
    for (const [name, path] of [
      ['missing', join(work.dir, 'no-such-kubeconfig')], ['a directory', work.dir], ['a FIFO', fifo], ['/dev/zero', '/dev/zero'],
      ['deep JSON', kubeconfigFile('deep', deep(100_000))], ['invalid YAML', kubeconfigFile('yaml', 'a: [b\n  c: }')],
      ['no clusters', kubeconfigFile('empty', '{"apiVersion":"v1","kind":"Config","current-context":"x"}')],
      ['deep YAML', kubeconfigFile('deep-yaml', `a: ${deep(50_000)}`)],
      ['token file a FIFO', kubeconfigFile('fifo-token', JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { tokenFile: fifo } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }))],
      ['server not https', kubeconfigFile('file-server', JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'file:///etc/passwd' } }],
        users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }))],
    ] as const) {
      add(`kubeconfig ${name}`, { ...base(), kubeconfig: path }, { env: { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p' } });
    }
    return out;
  }

  interface Outcome { stdout: string; exitCode: number }

  /** One CNI call, in this process or through the executable, that must come back in time. */
  async function call(command: string, c: Case, dirs: { cniDir: string; ipamDir: string }, ns: string, args: string, viaExecutable: boolean): Promise<Outcome> {
    let conf = c.conf;
    if (typeof conf === 'object' && conf !== null && !Array.isArray(conf)) {
      const o = conf as Record<string, unknown>;
      conf = { cniDir: dirs.cniDir, ...o, ...(o.kubeconfig === '' && { kubeconfig: api.writeKubeconfig(dirs.cniDir.replace(/cni$/, '')) }) };
    }
    // Texts made from the base configuration get the case's own cniDir too.
    const stdin = typeof conf === 'string' ? conf.replace('"binDir":', `"cniDir":${JSON.stringify(dirs.cniDir)},"binDir":`) : JSON.stringify(conf);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: `h${ns}`, CNI_NETNS: work.fakeNetns, CNI_IFNAME: 'eth0',
      CNI_ARGS: args, CNI_PATH: work.binDir, ...c.env,
    };
    if (c.env?.CNI_COMMAND !== undefined && command === 'DEL') env.CNI_COMMAND = 'DEL';
    const run: Promise<Outcome> = viaExecutable
      ? runMultusAsync({ command: env.CNI_COMMAND!, conf: stdin, containerId: env.CNI_CONTAINERID, netns: env.CNI_NETNS, ifName: env.CNI_IFNAME,
        args: env.CNI_ARGS, path: env.CNI_PATH, env }).then((r) => ({ stdout: r.stdout, exitCode: r.status }))
      : (async () => runPlugin(await loadBuiltinPlugin('multus'), env, () => Buffer.from(stdin), { runner: builtinRunner }))();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${command} did not return within ${CALL_LIMIT_MS / 1000}s`)), CALL_LIMIT_MS);
    });
    try {
      return await Promise.race([run, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The one error object an outcome may print; the reason it is not one otherwise. */
  function errorObject(o: Outcome): Record<string, unknown> | string {
    let v: unknown;
    try {
      v = JSON.parse(o.stdout);
    } catch {
      return `stdout is not one JSON value: ${JSON.stringify(o.stdout.slice(0, 200))}`;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'stdout is not an object';
    const e = v as Record<string, unknown>;
    if (typeof e.code !== 'number' || typeof e.msg !== 'string') return `not a CNI error object: ${o.stdout.slice(0, 200)}`;
    if (/Maximum call stack|internal error|\n\s+at /.test(e.msg)) return `a crash: ${e.msg.slice(0, 200)}`;
    return e;
  }

  function leftovers(dirs: { cniDir: string; ipamDir: string }): string[] {
    const left: string[] = [];
    if (existsSync(dirs.cniDir)) {
      for (const f of readdirSync(dirs.cniDir, { recursive: true }).map(String)) {
        if (f === '.deleted' || f.startsWith('.deleted/') || f === 'results') continue;
        left.push(`cniDir/${f}`);
      }
    }
    if (existsSync(dirs.ipamDir)) left.push(...readdirSync(dirs.ipamDir, { recursive: true }).map((f) => `store/${String(f)}`).filter((f) => /\d+\.\d+\.\d+\.\d+$|:/.test(f)));
    return left;
  }

  it('every one is refused with one error object, runs nothing from elsewhere and leaves nothing behind', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(300);
    const problems: string[] = [];
    await mapBounded(all, 4, async (c, i) => {
      const dirs = { cniDir: join(work.dir, 'cases', String(i), 'cni'), ipamDir: join(work.dir, 'cases', String(i), 'ipam') };
      mkdirSync(join(work.dir, 'cases', String(i)), { recursive: true });
      const ns = `hostile-${i}`;
      const args = c.k8s ? c.k8s(api, ns) : '';
      const viaExecutable = i % 8 === 0;
      const how = viaExecutable ? ' (executable)' : '';
      try {
        const add = await call('ADD', c, dirs, ns, args, viaExecutable);
        const addError = errorObject(add);
        if (add.exitCode === 0) problems.push(`${c.name}${how}: ADD succeeded`);
        else if (typeof addError === 'string') problems.push(`${c.name}${how}: ADD: ${addError}`);
        const del = await call('DEL', c, dirs, ns, args, viaExecutable);
        if (del.exitCode === 0 ? del.stdout !== '' : typeof errorObject(del) === 'string') {
          problems.push(`${c.name}${how}: DEL: ${del.exitCode === 0 ? 'printed on success' : (errorObject(del) as string)}`);
        }
      } catch (e) {
        problems.push(`${c.name}${how}: ${(e as Error).message}`);
      }
      if (existsSync(marker)) problems.push(`${c.name}${how}: a program outside the plugin directories ran`);
      const left = leftovers(dirs);
      if (left.length > 0) problems.push(`${c.name}${how}: left ${left.join(' ')}`);
    });
    expect(problems).toEqual([]);
  }, 600_000);
});

// The same promises where a failure could leave real things: our macvlan and host-local in a pod namespace of a test
// node, a hostile or failing second network, through the executable in the node's namespace.
describe.skipIf(!canUseNamespaces)('hostile second networks in real namespaces', () => {
  let node: TestNode;
  const work = new Workdir();
  beforeAll(() => {
    node = new TestNode();
    for (const name of ['macvlan', 'host-local']) ourPlugin(work.binDir, name);
    writeFileSync(join(work.binDir, 'hang'), '#!/bin/sh\n[ "$CNI_COMMAND" = ADD ] || exit 0\nsleep 300 &\nwait\n');
    chmodSync(join(work.binDir, 'hang'), 0o755);
  });
  afterAll(() => {
    node?.destroy();
    work.remove();
  });
  const macvlan = (name: string, extra: Record<string, unknown> = {}) => ({
    cniVersion: '1.0.0', name, type: 'macvlan', master: 'uplink0', mode: 'bridge',
    ipam: { type: 'host-local', subnet: name === 'primary' ? '10.98.0.0/24' : '10.98.1.0/24', dataDir: work.ipamDir }, ...extra,
  });
  const seconds: Array<[string, unknown]> = [
    ...['../evil/x', '/bin/sh', 'a/b', '..'].map((t): [string, unknown] => [`ipam.type ${t}`, macvlan('second', { ipam: { type: t } })]),
    ...['../evil/x', '/bin/sh'].map((t): [string, unknown] => [`type ${t}`, { ...macvlan('second'), type: t }]),
    ['a master that does not exist', macvlan('second', { master: 'nosuch0' })],
    ['an unusable subnet', macvlan('second', { ipam: { type: 'host-local', subnet: '10.98.2.0/33', dataDir: work.ipamDir } })],
    ['a full range', macvlan('second', { ipam: { type: 'host-local', subnet: '10.98.3.0/30', rangeStart: '10.98.3.1', rangeEnd: '10.98.3.1', dataDir: work.ipamDir,
      routes: [{ dst: '10.50.0.0/16', gw: '192.168.7.1' }] } })],
    ['an unknown mode', macvlan('second', { mode: 'nosuch' })],
    ['a delegate that hangs with a child on its stdout', { cniVersion: '1.0.0', name: 'second', type: 'hang' }],
    ['a configuration nested too deep', macvlan('second', { x: JSON.parse(`${'['.repeat(600)}${']'.repeat(600)}`) as unknown })],
  ];

  it.each(seconds)('%s: ADD fails with one error object and leaves nothing in either namespace, the store or cniDir', async (_name, second) => {
    const nodeLinks = node.links(node.nodeNs).map((l) => l.ifname).sort();
    const conf = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir, delegateTimeoutSeconds: 3,
      delegates: [macvlan('primary'), second] };
    const run = (command: string) => runMultusAsync({ command, conf, containerId: 'hostile-netns', netns: node.podNetnsPath, path: work.binDir, inNetns: node.nodeNs });
    const add = await run('ADD');
    expect(add.status).toBe(1);
    expect(JSON.parse(add.stdout)).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
    const del = await run('DEL');
    expect(del.status === 0 ? del.stdout : 'ok').toMatch(/^(ok)?$/);
    expect(node.podLinks()).toEqual([]);
    expect(node.links(node.nodeNs).map((l) => l.ifname).sort()).toEqual(nodeLinks);
    expect(existsSync(work.ipamDir) ? readdirSync(work.ipamDir, { recursive: true }).map(String).filter((f) => /\d+\.\d+\.\d+\.\d+$/.test(f)) : []).toEqual([]);
    const inCniDir = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
    expect(inCniDir(work.cniDir).filter((f) => f !== '.deleted' && f !== 'results')).toEqual([]);
    expect(inCniDir(join(work.cniDir, 'results'))).toEqual([]);
  });
});
