import { afterAll, describe, expect, it } from 'vitest';
import { runMultus, Workdir } from '../helpers/multus';

// What a runtime sees when the input is wrong: an error object on stdout, exit status 1, and never a stack trace.
describe('bad input through the executable', () => {
  const work = new Workdir();
  afterAll(() => work.remove());
  const good = { cniVersion: '1.0.0', name: 'm', type: 'multus', cniDir: work.cniDir, binDir: work.binDir,
    delegates: [{ cniVersion: '1.0.0', name: 'a', type: 'spy' }] };
  const add = (conf: unknown, more: Partial<Parameters<typeof runMultus>[0]> = {}) =>
    runMultus({ command: 'ADD', conf, containerId: 'c1', netns: work.fakeNetns, ...more });

  const cases: Array<[string, () => ReturnType<typeof runMultus>, number, string]> = [
    ['invalid JSON', () => add('{"cniVersion":'), 6, 'error unmarshall network config'],
    ['no network name', () => add({ ...good, name: undefined }), 7, 'missing network name'],
    ['unsupported cniVersion', () => add({ ...good, cniVersion: '9.9.9' }), 1, 'incompatible CNI versions'],
    ['missing environment', () => runMultus({ command: 'ADD', conf: good }), 4, 'required env variables [CNI_CONTAINERID,CNI_NETNS] missing'],
    ['bad container ID', () => add(good, { containerId: '../etc' }), 4, 'invalid characters in containerID'],
    ['interface name too long', () => add(good, { ifName: 'averyveryverylongname' }), 4, 'interface name is too long'],
    ['unknown command', () => runMultus({ command: 'FROB', conf: good }), 4, 'unknown CNI_COMMAND: FROB'],
    ['no delegates', () => add({ ...good, delegates: [] }), 7, 'at least one delegate/clusterNetwork must be specified'],
    ['delegate without name', () => add({ ...good, delegates: [{ type: 'spy' }] }), 7, 'delegates[0]: missing network "name"'],
    ['wrongly typed key', () => add({ ...good, binDir: 5 }), 7, '"binDir" must be a string, got 5'],
    ['unknown CNI_ARGS', () => add(good, { args: 'FOO=bar' }), 999, 'error getting k8s args: ARGS: unknown args ["FOO=bar"]'],
    ['netns that does not exist', () => add(good, { netns: '/var/run/netns/no-such-ns' }), 4, 'CNI_NETNS /var/run/netns/no-such-ns does not exist'],
    ['the host netns as CNI_NETNS', () => add(good, { netns: '/proc/self/ns/net' }), 8, "plugin's netns and netns from CNI_NETNS should not be the same"],
    ['CHECK on an old version', () => runMultus({ command: 'CHECK', conf: { ...good, cniVersion: '0.3.1' }, containerId: 'c1',
      netns: work.fakeNetns }), 1, 'config version does not allow CHECK'],
  ];

  it.each(cases)('%s', (_name, run, code, msg) => {
    const r = run();
    expect(r.status).toBe(1);
    expect(r.json?.code).toBe(code);
    expect(r.json?.msg).toContain(msg);
    expect(r.stdout).not.toMatch(/\n\s+at /);
    expect(r.stderr).toBe('');
  });

  it('answers VERSION without reading stdin', () => {
    const r = runMultus({ command: 'VERSION', conf: 'not json at all' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n');
  });
});
