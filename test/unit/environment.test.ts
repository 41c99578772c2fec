import { describe, it, expect } from 'vitest';
import { readCmdArgs, validateContainerId, validateInterfaceName, isSafeName } from '../../src/cni/environment';
import { CniError } from '../../src/cni/errors';
import { caught } from '../helpers/caught';

// cni-contracts.md 1.2: what the reference skel enforces per verb, and its validation messages.

const FULL: NodeJS.ProcessEnv = {
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'abc123',
  CNI_NETNS: '/var/run/netns/test-ns',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=p1',
  CNI_PATH: '/opt/cni/bin:/usr/lib/cni',
};

function env(overrides: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...FULL };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}


function expectCniError(fn: () => unknown, code: number, msg: string, details = ''): void {
  const e = caught(fn);
  expect({ code: e.code, msg: e.message, details: e.details }).toEqual({ code, msg, details });
}

describe('readCmdArgs: required variables per verb', () => {
  it('reads a complete ADD environment', () => {
    expect(readCmdArgs(FULL)).toEqual({
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/test-ns',
      ifName: 'eth0',
      args: 'IgnoreUnknown=1;K8S_POD_NAME=p1',
      path: ['/opt/cni/bin', '/usr/lib/cni'],
    });
  });

  it('reports the missing variables together, with the exact message and code 4', () => {
    expectCniError(
      () => readCmdArgs(env({ CNI_IFNAME: undefined, CNI_PATH: undefined })),
      4,
      'required env variables [CNI_IFNAME,CNI_PATH] missing',
    );
  });

  it('lists missing variables in the fixed order COMMAND, CONTAINERID, NETNS, IFNAME, PATH', () => {
    expectCniError(
      () => readCmdArgs({ CNI_COMMAND: 'ADD' }),
      4,
      'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing',
    );
    // The order does not depend on the order the variables were set in.
    expectCniError(
      () => readCmdArgs({ CNI_PATH: '', CNI_IFNAME: '', CNI_COMMAND: 'CHECK', CNI_NETNS: '/x', CNI_CONTAINERID: '' }),
      4,
      'required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing',
    );
  });

  it('counts an empty value as missing', () => {
    expectCniError(() => readCmdArgs(env({ CNI_NETNS: '' })), 4, 'required env variables [CNI_NETNS] missing');
    expectCniError(() => readCmdArgs(env({ CNI_PATH: '' })), 4, 'required env variables [CNI_PATH] missing');
  });

  it('does not require CNI_ARGS for any verb', () => {
    expect(readCmdArgs(env({ CNI_ARGS: undefined })).args).toBe('');
    expect(readCmdArgs(env({ CNI_ARGS: '' })).args).toBe('');
  });

  it('CHECK needs the same variables as ADD', () => {
    expect(readCmdArgs(env({ CNI_COMMAND: 'CHECK' })).command).toBe('CHECK');
    expectCniError(
      () => readCmdArgs({ CNI_COMMAND: 'CHECK' }),
      4,
      'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing',
    );
  });

  it('DEL does not need CNI_NETNS but needs CONTAINERID, IFNAME and PATH', () => {
    const args = readCmdArgs(env({ CNI_COMMAND: 'DEL', CNI_NETNS: undefined }));
    expect(args.command).toBe('DEL');
    expect(args.netns).toBe('');
    expect(readCmdArgs(env({ CNI_COMMAND: 'DEL', CNI_NETNS: '' })).netns).toBe('');
    expectCniError(
      () => readCmdArgs({ CNI_COMMAND: 'DEL' }),
      4,
      'required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing',
    );
  });

  it('STATUS and GC need only CNI_COMMAND and CNI_PATH', () => {
    for (const verb of ['STATUS', 'GC']) {
      const args = readCmdArgs({ CNI_COMMAND: verb, CNI_PATH: '/opt/cni/bin' });
      expect(args).toEqual({ command: verb, containerId: '', netns: '', ifName: '', args: '', path: ['/opt/cni/bin'] });
      expectCniError(() => readCmdArgs({ CNI_COMMAND: verb }), 4, 'required env variables [CNI_PATH] missing');
      expectCniError(() => readCmdArgs({ CNI_COMMAND: verb, CNI_PATH: '' }), 4, 'required env variables [CNI_PATH] missing');
    }
  });

  it('VERSION needs only CNI_COMMAND', () => {
    expect(readCmdArgs({ CNI_COMMAND: 'VERSION' })).toEqual({
      command: 'VERSION', containerId: '', netns: '', ifName: '', args: '', path: [],
    });
  });

  it('VERSION does not validate the container id or interface name', () => {
    expect(readCmdArgs({ CNI_COMMAND: 'VERSION', CNI_CONTAINERID: 'bad id', CNI_IFNAME: 'a/b' }).command).toBe('VERSION');
  });

  it('without CNI_COMMAND only CNI_COMMAND is reported missing', () => {
    expectCniError(() => readCmdArgs({}), 4, 'required env variables [CNI_COMMAND] missing');
    expectCniError(() => readCmdArgs(env({ CNI_COMMAND: '' })), 4, 'required env variables [CNI_COMMAND] missing');
  });

  it('rejects an unknown command with code 4', () => {
    expectCniError(() => readCmdArgs(env({ CNI_COMMAND: 'FOO' })), 4, 'unknown CNI_COMMAND: FOO');
  });

  it('matches command names case-sensitively, as the Go switch does', () => {
    expectCniError(() => readCmdArgs(env({ CNI_COMMAND: 'add' })), 4, 'unknown CNI_COMMAND: add');
  });

  it('ignores unknown environment variables', () => {
    expect(readCmdArgs(env({ TRACEPARENT: '00-abc-def-01', CNI_NETNS_OVERRIDE: '1' })).command).toBe('ADD');
  });
});

describe('container id rules', () => {
  it('accepts ids matching ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$', () => {
    for (const id of ['a', '0', 'abc123', 'A-b_c.d', 'f0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f']) {
      expect(() => validateContainerId(id)).not.toThrow();
      expect(readCmdArgs(env({ CNI_CONTAINERID: id })).containerId).toBe(id);
    }
  });

  it('rejects other ids with code 4, the exact message and the id as details', () => {
    for (const id of ['-abc', '_abc', '.abc', 'a b', 'a/b', '../etc', 'abc\n', 'ab:c', 'é']) {
      expectCniError(() => readCmdArgs(env({ CNI_CONTAINERID: id })), 4, 'invalid characters in containerID', id);
    }
  });

  it('isSafeName follows the same rule', () => {
    expect(isSafeName('net-1.a_b')).toBe(true);
    expect(isSafeName('')).toBe(false);
    expect(isSafeName('-x')).toBe(false);
    expect(isSafeName('x y')).toBe(false);
  });
});

describe('interface name rules', () => {
  it('accepts 1 to 15 bytes', () => {
    for (const name of ['e', 'eth0', 'net1', 'a'.repeat(15), 'eth0.100', 'br-int_1']) {
      expect(() => validateInterfaceName(name)).not.toThrow();
      expect(readCmdArgs(env({ CNI_IFNAME: name })).ifName).toBe(name);
    }
  });

  it('rejects an empty name', () => {
    expectCniError(() => validateInterfaceName(''), 4, 'interface name is empty');
  });

  it('rejects 16 bytes or more, counting bytes rather than characters', () => {
    const details = 'interface name should be less than 16 characters';
    expectCniError(() => readCmdArgs(env({ CNI_IFNAME: 'a'.repeat(16) })), 4, 'interface name is too long', details);
    // 8 characters, 16 bytes of UTF-8.
    expectCniError(() => readCmdArgs(env({ CNI_IFNAME: 'ä'.repeat(8) })), 4, 'interface name is too long', details);
    // 7 characters, 14 bytes: fine.
    expect(() => validateInterfaceName('ä'.repeat(7))).not.toThrow();
  });

  it('rejects . and ..', () => {
    expectCniError(() => readCmdArgs(env({ CNI_IFNAME: '.' })), 4, 'interface name is . or ..');
    expectCniError(() => readCmdArgs(env({ CNI_IFNAME: '..' })), 4, 'interface name is . or ..');
    expect(() => validateInterfaceName('...')).not.toThrow();
  });

  it('rejects /, : and whitespace', () => {
    for (const name of ['a/b', 'eth0:1', 'eth 0', 'eth\t0', 'eth\n', ' eth0', 'eth\u00a00', 'eth\u20280']) {
      const e = caught(() => readCmdArgs(env({ CNI_IFNAME: name })));
      expect(e.code).toBe(4);
      expect(e.message).toBe('interface name contains / or : or whitespace characters');
    }
  });

  // Go's unicode.IsSpace is true for U+0085 (NEL); JavaScript's \s does not include it.
  it('rejects U+0085 (NEL), which Go counts as whitespace', () => {
    expect(() => validateInterfaceName('eth\u00850')).toThrow(CniError);
  });

  // JavaScript's \s includes U+FEFF; Go's unicode.IsSpace does not, so Go accepts the name.
  it('accepts U+FEFF, which Go does not count as whitespace', () => {
    expect(() => validateInterfaceName('eth\ufeff0')).not.toThrow();
  });

  it('checks the container id before the interface name', () => {
    expectCniError(() => readCmdArgs(env({ CNI_CONTAINERID: '-x', CNI_IFNAME: 'a/b' })), 4, 'invalid characters in containerID', '-x');
  });
});

describe('CNI_PATH splitting', () => {
  it('splits on ":" keeping the order', () => {
    expect(readCmdArgs(env({ CNI_PATH: '/c:/a:/b' })).path).toEqual(['/c', '/a', '/b']);
    expect(readCmdArgs(env({ CNI_PATH: '/opt/cni/bin' })).path).toEqual(['/opt/cni/bin']);
  });

  it('drops empty elements', () => {
    expect(readCmdArgs(env({ CNI_PATH: ':/a::/b:' })).path).toEqual(['/a', '/b']);
  });

  it('keeps duplicates (binDir and CNI_PATH often repeat each other)', () => {
    expect(readCmdArgs(env({ CNI_PATH: '/opt/cni/bin:/opt/cni/bin' })).path).toEqual(['/opt/cni/bin', '/opt/cni/bin']);
  });
});
