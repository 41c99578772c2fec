import { describe, it, expect } from 'vitest';
import { spawnRunner } from '../../src/delegation/exec-plugin';
import { prepareCall, readCall, type CniPlugin, type Invocation, type PluginOutput } from '../../src/cni/skel';
import { runPlugin } from '../../src/builtins';
import { CniError } from '../../src/cni/errors';

// Plugins that run other plugins would start them; these ones run none.
const HOST = { runner: spawnRunner };

// cni-contracts.md 1.2 (skel validation order), 1.6 (VERSION), 1.7 (errors).

type Verb = 'add' | 'del' | 'check' | 'status' | 'gc';

interface Fake {
  plugin: CniPlugin;
  calls: Array<{ verb: Verb; inv: Invocation }>;
}

const ADD_RESULT = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '02:11:22:33:44:55', sandbox: '/var/run/netns/test-ns' }],
  ips: [{ address: '10.1.1.2/24', gateway: '10.1.1.1', interface: 0 }],
  dns: {},
};

/** A plugin that records its calls; `behaviour` decides what a verb does (default: succeed). */
function fakePlugin(behaviour: Partial<Record<Verb, () => unknown>> = {}): Fake {
  const calls: Fake['calls'] = [];
  const run = async (verb: Verb, inv: Invocation): Promise<unknown> => {
    calls.push({ verb, inv });
    const b = behaviour[verb];
    return b ? b() : undefined;
  };
  const plugin: CniPlugin = {
    about: 'CNI fake plugin v0.0.0',
    add: async (inv) => ((await run('add', inv)) as Record<string, unknown> | undefined) ?? ADD_RESULT,
    del: async (inv) => {
      await run('del', inv);
    },
    check: async (inv) => {
      await run('check', inv);
    },
    status: async (inv) => {
      await run('status', inv);
    },
    gc: async (inv) => {
      await run('gc', inv);
    },
  };
  return { plugin, calls };
}

function envFor(command: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: 'ctr-1',
    CNI_NETNS: '/var/run/netns/does-not-exist-multus-ts-test',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/opt/cni/bin',
    ...extra,
  };
}

function conf(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'testnet', type: 'fake', ...extra };
}

function stdinOf(value: unknown): () => Buffer {
  const buf = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  return () => buf;
}

async function run(command: string, stdin: unknown, fake = fakePlugin(), extraEnv: Record<string, string> = {}): Promise<PluginOutput & { fake: Fake }> {
  const out = await runPlugin(fake.plugin, envFor(command, extraEnv), stdinOf(stdin), HOST);
  return { ...out, fake };
}

function errorOf(out: PluginOutput): Record<string, unknown> {
  expect(out.exitCode).toBe(1);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

const ALL_VERSIONS = '["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]';

describe('runPlugin: VERSION', () => {
  it('prints the version info as compact JSON with a newline, without reading stdin', async () => {
    const fake = fakePlugin();
    let stdinReads = 0;
    const out = await runPlugin(fake.plugin, { CNI_COMMAND: 'VERSION' }, () => {
      stdinReads++;
      return Buffer.from('this is not JSON');
    }, HOST);
    expect(out).toEqual({
      stdout: '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n',
      exitCode: 0,
    });
    expect(stdinReads).toBe(0);
    expect(fake.calls).toEqual([]);
  });

  it('ignores the other variables', async () => {
    const out = await run('VERSION', 'garbage', fakePlugin(), { CNI_CONTAINERID: 'bad id', CNI_IFNAME: 'a/b' });
    expect(out.exitCode).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({
      cniVersion: '1.1.0',
      supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });
});

describe('runPlugin: environment errors', () => {
  it('prints the error object with 4-space indentation, without cniVersion or empty details', async () => {
    const fake = fakePlugin();
    const out = await runPlugin(fake.plugin, { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', CNI_NETNS: '/x' }, stdinOf(conf()), HOST);
    expect(out).toEqual({
      stdout: '{\n    "code": 4,\n    "msg": "required env variables [CNI_IFNAME,CNI_PATH] missing"\n}',
      exitCode: 1,
    });
    expect(fake.calls).toEqual([]);
  });

  it('reports an unknown command with code 4', async () => {
    const out = await run('FOO', conf());
    expect(errorOf(out)).toEqual({ code: 4, msg: 'unknown CNI_COMMAND: FOO' });
    expect(out.fake.calls).toEqual([]);
  });

  it('includes details when there are some', async () => {
    const out = await run('ADD', conf(), fakePlugin(), { CNI_CONTAINERID: '-bad' });
    expect(out.stdout).toBe('{\n    "code": 4,\n    "msg": "invalid characters in containerID",\n    "details": "-bad"\n}');
    expect(out.exitCode).toBe(1);
  });

  it('reports a stdin read failure as code 5', async () => {
    const fake = fakePlugin();
    const out = await runPlugin(fake.plugin, envFor('ADD'), () => {
      throw new Error('EIO');
    }, HOST);
    const err = errorOf(out);
    expect(err.code).toBe(5);
    expect(String(err.msg)).toContain('error reading from stdin');
    expect(fake.calls).toEqual([]);
  });
});

describe('runPlugin: configuration validation', () => {
  it('reports invalid JSON as code 6 "error unmarshall network config"', async () => {
    const out = await run('ADD', '{"name": "x",');
    const err = errorOf(out);
    expect(err.code).toBe(6);
    expect(String(err.msg).startsWith('error unmarshall network config')).toBe(true);
    expect(out.fake.calls).toEqual([]);
  });

  it('reports empty stdin and a non-object as code 6', async () => {
    expect(errorOf(await run('ADD', '')).code).toBe(6);
    expect(errorOf(await run('DEL', '[1,2]')).code).toBe(6);
    expect(errorOf(await run('ADD', 'null')).code).toBe(6);
  });

  it('reports a missing or empty name as code 7 "missing network name"', async () => {
    for (const c of [{ cniVersion: '1.0.0', type: 'fake' }, conf({ name: '' })]) {
      const out = await run('ADD', c);
      expect(errorOf(out)).toEqual({ code: 7, msg: 'missing network name' });
      expect(out.fake.calls).toEqual([]);
    }
  });

  it('reports a bad name as code 7 with the name as details', async () => {
    const out = await run('ADD', conf({ name: 'my net/1' }));
    expect(errorOf(out)).toEqual({ code: 7, msg: 'invalid characters found in network name', details: 'my net/1' });
    expect(out.fake.calls).toEqual([]);
  });

  // Go's validateConfig json.Unmarshals into struct{ Name string `json:"name"` }: a non-string name is a
  // decoding error (code 6 "error unmarshall network config: json: cannot unmarshal number ..."), not code 7.
  it('reports a non-string name as code 6, as the Go skel does', async () => {
    const out = await run('ADD', conf({ name: 5 }));
    expect(errorOf(out).code).toBe(6);
  });

  // The same Go decoder matches "name" case-insensitively, so {"Name": "testnet"} passes the Go skel.
  it('finds the name under another spelling, as Go\'s JSON decoder does', async () => {
    const { name: _drop, ...noName } = conf();
    const out = await run('ADD', { ...noName, Name: 'testnet' });
    expect(out.exitCode).toBe(0);
  });

  it('reports a non-string cniVersion as code 6', async () => {
    const out = await run('ADD', conf({ cniVersion: 1 }));
    expect(errorOf(out).code).toBe(6);
    expect(out.fake.calls).toEqual([]);
  });

  it('reports an unsupported cniVersion as code 1 with the supported list as details', async () => {
    const out = await run('ADD', conf({ cniVersion: '2.0.0' }));
    expect(errorOf(out)).toEqual({
      code: 1,
      msg: 'incompatible CNI versions',
      details: `config is "2.0.0", plugin supports ${ALL_VERSIONS}`,
    });
    expect(out.fake.calls).toEqual([]);
  });

  it('requires the version literally in the supported list', async () => {
    const err = errorOf(await run('ADD', conf({ cniVersion: '1.0' })));
    expect(err.code).toBe(1);
    expect(err.details).toBe(`config is "1.0", plugin supports ${ALL_VERSIONS}`);
  });

  it('treats a missing or empty cniVersion as 0.1.0', async () => {
    for (const c of [{ name: 'testnet', type: 'fake' }, conf({ cniVersion: '' })]) {
      const out = await run('ADD', c);
      expect(out.exitCode).toBe(0);
      expect(out.fake.calls).toHaveLength(1);
      expect(out.fake.calls[0]!.inv.cniVersion).toBe('0.1.0');
    }
  });

  it('CHECK with 0.3.1 is code 1 "config version does not allow CHECK"', async () => {
    const out = await run('CHECK', conf({ cniVersion: '0.3.1' }));
    expect(errorOf(out)).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
    expect(out.fake.calls).toEqual([]);
    // A missing version is 0.1.0, which does not allow CHECK either.
    expect(errorOf(await run('CHECK', { name: 'testnet' }))).toMatchObject({ code: 1, msg: 'config version does not allow CHECK' });
  });

  it('CHECK with 0.4.0 or later reaches the plugin', async () => {
    for (const v of ['0.4.0', '1.0.0', '1.1.0']) {
      const out = await run('CHECK', conf({ cniVersion: v }));
      expect(out).toMatchObject({ stdout: '', exitCode: 0 });
      expect(out.fake.calls.map((c) => c.verb)).toEqual(['check']);
    }
  });

  it('STATUS and GC need 1.1.0', async () => {
    for (const verb of ['STATUS', 'GC']) {
      for (const v of ['0.4.0', '1.0.0']) {
        const out = await run(verb, conf({ cniVersion: v }));
        expect(errorOf(out)).toMatchObject({ code: 1, msg: `config version does not allow ${verb}` });
        expect(out.fake.calls).toEqual([]);
      }
      const ok = await runPlugin(fakePlugin().plugin, { CNI_COMMAND: verb, CNI_PATH: '/opt/cni/bin' }, stdinOf(conf({ cniVersion: '1.1.0' })), HOST);
      expect(ok).toEqual({ stdout: '', exitCode: 0 });
    }
  });
});

describe('runPlugin: dispatch and output', () => {
  it('ADD prints the plugin result with 4-space indentation and exit code 0', async () => {
    const out = await run('ADD', conf());
    expect(out.stdout).toBe(JSON.stringify(ADD_RESULT, null, 4));
    expect(out.stdout).toContain('\n    "interfaces": [\n        {\n            "name": "eth0"');
    expect(out.exitCode).toBe(0);
  });

  it('gives the plugin the parsed environment, the raw stdin bytes and the parsed config', async () => {
    const raw = '{ "cniVersion": "1.0.0",\n  "name": "testnet", "type": "fake", "extra": {"b": 1, "a": 2} }';
    const fake = fakePlugin();
    const env = envFor('ADD', { CNI_ARGS: 'K8S_POD_NAME=p1' });
    const out = await runPlugin(fake.plugin, env, () => Buffer.from(raw), HOST);
    expect(out.exitCode).toBe(0);
    expect(fake.calls).toHaveLength(1);
    const inv = fake.calls[0]!.inv;
    expect(inv.stdin.toString()).toBe(raw);
    expect(inv.config).toEqual(JSON.parse(raw));
    expect(inv.cniVersion).toBe('1.0.0');
    expect(inv.cmd).toEqual({
      command: 'ADD',
      containerId: 'ctr-1',
      netns: '/var/run/netns/does-not-exist-multus-ts-test',
      ifName: 'eth0',
      args: 'K8S_POD_NAME=p1',
      path: ['/opt/cni/bin'],
    });
    expect(inv.env).toBe(env);
  });

  it('DEL, CHECK, STATUS and GC print nothing on success', async () => {
    const fake = fakePlugin();
    const c = conf({ cniVersion: '1.1.0' });
    expect(await runPlugin(fake.plugin, envFor('DEL'), stdinOf(c), HOST)).toEqual({ stdout: '', exitCode: 0 });
    expect(await runPlugin(fake.plugin, envFor('CHECK'), stdinOf(c), HOST)).toEqual({ stdout: '', exitCode: 0 });
    expect(await runPlugin(fake.plugin, envFor('STATUS'), stdinOf(c), HOST)).toEqual({ stdout: '', exitCode: 0 });
    expect(await runPlugin(fake.plugin, envFor('GC'), stdinOf(c), HOST)).toEqual({ stdout: '', exitCode: 0 });
    expect(fake.calls.map((x) => x.verb)).toEqual(['del', 'check', 'status', 'gc']);
  });

  it('a CniError from the plugin keeps its code, msg and details, exit code 1', async () => {
    const fake = fakePlugin({
      add: () => {
        throw new CniError(11, 'try again later', 'the daemon is starting');
      },
    });
    const out = await run('ADD', conf(), fake);
    expect(out.exitCode).toBe(1);
    expect(errorOf(out)).toMatchObject({ code: 11, msg: 'try again later', details: 'the daemon is starting' });
  });

  it('a CniError without details prints no details key', async () => {
    const fake = fakePlugin({
      del: () => {
        throw new CniError(3, 'container unknown');
      },
    });
    const err = errorOf(await run('DEL', conf(), fake));
    expect(err).toMatchObject({ code: 3, msg: 'container unknown' });
    expect(err).not.toHaveProperty('details');
  });

  it('a plain Error from the plugin becomes code 999 with its message and no stack trace', async () => {
    const fake = fakePlugin({
      add: () => {
        throw new TypeError('cannot read properties of undefined');
      },
    });
    const out = await run('ADD', conf(), fake);
    const err = errorOf(out);
    expect(err).toMatchObject({ code: 999, msg: 'cannot read properties of undefined' });
    expect(err).not.toHaveProperty('details');
    expect(err).not.toHaveProperty('stack');
    expect(out.stdout).not.toMatch(/\n\s+at /);
    expect(out.stdout).not.toContain('.ts:');
    expect(out.stdout).not.toContain('TypeError');
  });

  it('anything else thrown becomes code 999', async () => {
    const fake = fakePlugin({
      check: () => {
        throw 'a string';
      },
    });
    expect(errorOf(await run('CHECK', conf(), fake))).toMatchObject({ code: 999, msg: 'a string' });
  });

  it('error objects are 4-space indented JSON', async () => {
    const fake = fakePlugin({
      add: () => {
        throw new Error('boom');
      },
    });
    const out = await run('ADD', conf(), fake);
    expect(out.stdout).toBe(JSON.stringify(JSON.parse(out.stdout), null, 4));
    expect(out.stdout).toMatch(/^\{\n {4}"/);
  });
});

describe('runPlugin: the host network namespace', () => {
  it('refuses ADD, DEL and CHECK with CNI_NETNS=/proc/self/ns/net with code 8, before calling the plugin', async () => {
    for (const verb of ['ADD', 'DEL', 'CHECK']) {
      const out = await run(verb, conf(), fakePlugin(), { CNI_NETNS: '/proc/self/ns/net' });
      expect(errorOf(out)).toMatchObject({ code: 8, msg: "plugin's netns and netns from CNI_NETNS should not be the same" });
      expect(out.fake.calls).toEqual([]);
    }
  });

  it('allows it with CNI_NETNS_OVERRIDE=1 (or true)', async () => {
    for (const override of ['1', 'true', 'TRUE']) {
      const out = await run('ADD', conf(), fakePlugin(), { CNI_NETNS: '/proc/self/ns/net', CNI_NETNS_OVERRIDE: override });
      expect(out.exitCode).toBe(0);
      expect(out.fake.calls.map((c) => c.verb)).toEqual(['add']);
    }
  });

  it('a netns path that does not exist is left to the plugin', async () => {
    const out = await run('ADD', conf());
    expect(out.exitCode).toBe(0);
  });
});

describe('prepareCall: a call read ahead (multus prepares the ADDs after its primary\'s while that runs)', () => {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'prep-1', CNI_NETNS: '/var/run/netns/prep-test', CNI_IFNAME: 'net1', CNI_PATH: '/opt/cni/bin' };
  const stdin = () => Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'prepared', type: 'macvlan', master: 'eth0' }));
  const invOf = (call: ReturnType<typeof readCall>) => (call.answer ? undefined : call.inv);

  it('hands the call with the same stdin the configuration it read, until released', () => {
    const prepared = prepareCall(env, stdin(), { runner: spawnRunner });
    expect(prepared.inv?.config).toMatchObject({ name: 'prepared' });
    const later = readCall(env, stdin, { runner: spawnRunner });
    expect(invOf(later)?.config).toBe(prepared.inv?.config);
    expect(invOf(later)?.cniVersion).toBe('1.0.0');
    // Another stdin is read on its own.
    const other = readCall(env, () => Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'other', type: 'macvlan' })), { runner: spawnRunner });
    expect(invOf(other)?.config).toMatchObject({ name: 'other' });
    prepared.release();
    const after = readCall(env, stdin, { runner: spawnRunner });
    expect(invOf(after)?.config).not.toBe(prepared.inv?.config);
    expect(invOf(after)?.config).toEqual(prepared.inv?.config);
  });

  it('prepares nothing for a call that would fail, which then fails on its own', () => {
    const bad = Buffer.from(JSON.stringify({ cniVersion: '1.0.0', name: 'bad name!', type: 'macvlan' }));
    const prepared = prepareCall(env, bad, { runner: spawnRunner });
    expect(prepared.inv).toBeUndefined();
    expect(readCall(env, () => bad, { runner: spawnRunner }).answer?.stdout).toContain('invalid characters found in network name');
    prepared.release();
  });
});
