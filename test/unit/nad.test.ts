import { afterAll, describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nadNetwork, RESOURCE_NAME_ANNOTATION, type NetworkAttachmentDefinition, type NadOptions } from '../../src/k8s/nad';
import { parseNetworkSelection, type NetworkSelection } from '../../src/k8s/network-selection';
import { buildPluginStdin } from '../../src/delegation/network-config';
import { delegateFrom, interfaceName, selectionDelegate } from '../../src/multus/delegate';
import { readScratchCache, writeScratchCache } from '../../src/multus/scratch-cache';
import { caught } from '../helpers/caught';
import { capabilityArgs } from '../../src/multus/capability-args';
import { cniDeviceInfoPath, dpDeviceInfoPath, DEFAULT_DEVICE_INFO_DIR } from '../../src/k8s/device-info';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nad-test-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const OPTIONS: NadOptions = { confDir: '/nonexistent', cniVersion: '1.0.0' };

function nad(config: unknown, extra: Partial<NetworkAttachmentDefinition> = {}): NetworkAttachmentDefinition {
  return { namespace: 'default', name: 'macvlan-conf', annotations: {}, config: typeof config === 'string' ? config : JSON.stringify(config), ...extra };
}

// What pod-networks does for one element: the NAD's configuration, then the delegate with the element's requests.
function nadDelegate(n: NetworkAttachmentDefinition, s: NetworkSelection, o: NadOptions) {
  return selectionDelegate(nadNetwork(n, s, o), `${n.namespace}/${n.name}`, s, o.resourceDeviceID, n.annotations[RESOURCE_NAME_ANNOTATION]);
}

function sel(extra: Partial<NetworkSelection> = {}): NetworkSelection {
  return { name: 'macvlan-conf', namespace: 'default', ...extra };
}

function bytesJson(d: { net: { bytes: Buffer } }): Record<string, unknown> {
  return JSON.parse(d.net.bytes.toString('utf8')) as Record<string, unknown>;
}

const MACVLAN = { cniVersion: '0.3.1', name: 'macvlan-net', type: 'macvlan', master: 'eth0', ipam: { type: 'host-local', subnet: '10.1.1.0/24' } };

describe('nadDelegate: configuration', () => {
  it('keeps a named single configuration and its bytes as they are', () => {
    const text = `${JSON.stringify(MACVLAN, null, 2)}\n`;
    const d = nadDelegate(nad(text), sel(), OPTIONS);
    expect(d.name).toBe('default/macvlan-conf');
    expect(d.net.name).toBe('macvlan-net');
    expect(d.net.cniVersion).toBe('0.3.1');
    expect(d.net.isList).toBe(false);
    expect(d.net.plugins[0]).toMatchObject({ type: 'macvlan', master: 'eth0' });
    expect(d.net.bytes.toString()).toBe(text);
  });

  it('injects the NAD name into a configuration without one, in the bytes too (Multus scenario 18)', () => {
    const d = nadDelegate(nad({ type: 'mynet' }), sel(), OPTIONS);
    expect(d.net.name).toBe('macvlan-conf');
    expect(bytesJson(d)).toEqual({ type: 'mynet', name: 'macvlan-conf' });
    expect(nadDelegate(nad({ type: 'mynet', name: '' }), sel(), OPTIONS).net.name).toBe('macvlan-conf');
  });

  it('fills a missing cniVersion with the one given (the multus configuration\'s)', () => {
    expect(nadDelegate(nad({ type: 'mynet' }), sel(), { ...OPTIONS, cniVersion: '0.4.0' }).net.cniVersion).toBe('0.4.0');
  });

  it('reads a conflist', () => {
    const d = nadDelegate(nad({ cniVersion: '1.0.0', plugins: [{ type: 'bridge' }, { type: 'tuning' }] }), sel(), OPTIONS);
    expect(d.net.isList).toBe(true);
    expect(d.net.name).toBe('macvlan-conf');
    expect(d.net.plugins.map((p) => p.type)).toEqual(['bridge', 'tuning']);
  });

  it('names the NAD and the field in every refusal', () => {
    const e1 = caught(() => nadDelegate(nad('{"type": "macvlan",}'), sel(), OPTIONS));
    expect(e1.code).toBe(7);
    expect(e1.message).toMatch(/^NetworkAttachmentDefinition default\/macvlan-conf: spec\.config is not valid JSON: /);
    expect(caught(() => nadDelegate(nad('[]'), sel(), OPTIONS)).message)
      .toBe('NetworkAttachmentDefinition default/macvlan-conf: spec.config is not a JSON object');
    expect(caught(() => nadDelegate(nad({ name: 'x' }), sel(), OPTIONS)).message)
      .toContain('NetworkAttachmentDefinition default/macvlan-conf: spec.config (network "x"): missing "type"');
    expect(caught(() => nadDelegate(nad({ name: 'x', cniVersion: '9.9.9', type: 'a' }), sel(), OPTIONS)).message)
      .toContain('NetworkAttachmentDefinition default/macvlan-conf: spec.config (network "x"): unsupported "cniVersion" "9.9.9"');
    expect(caught(() => nadDelegate(nad({ name: 'x', type: '../../bin/sh' }), sel(), OPTIONS)).message).toContain('is not a plain plugin name');
  });

  it('refuses a configuration with both "type" and "plugins" instead of guessing', () => {
    const e = caught(() => nadDelegate(nad({ type: 'macvlan', plugins: [{ type: 'bridge' }] }), sel(), OPTIONS));
    expect(e.message).toBe('NetworkAttachmentDefinition default/macvlan-conf: spec.config: has both "type" and "plugins"');
  });
});

describe('nadDelegate: empty spec.config (Multus scenario 24)', () => {
  const confDir = tempDir();
  writeFileSync(join(confDir, '10-net1.conf'), JSON.stringify({ cniVersion: '0.3.1', name: 'net1', type: 'bridge' }));
  writeFileSync(join(confDir, '20-net2.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net2', plugins: [{ type: 'ptp' }, { type: 'portmap' }] }));
  const options = { confDir, cniVersion: '1.0.0' };

  it('takes the file whose network name is the NAD name', () => {
    const d1 = nadDelegate(nad('', { name: 'net1' }), sel({ name: 'net1' }), options);
    expect(d1.net).toMatchObject({ name: 'net1', cniVersion: '0.3.1', isList: false });
    expect(d1.name).toBe('default/net1');
    const d2 = nadDelegate(nad('  ', { name: 'net2' }), sel({ name: 'net2' }), options);
    expect(d2.net.isList).toBe(true);
    expect(d2.net.plugins.map((p) => p.type)).toEqual(['ptp', 'portmap']);
  });

  it('applies the element\'s cni-args to a file\'s configuration too', () => {
    const d = nadDelegate(nad('', { name: 'net2' }), sel({ name: 'net2', cniArgs: { a: '1' } }), options);
    expect(d.net.plugins.map((p) => p.args)).toEqual([{ cni: { a: '1' } }, { cni: { a: '1' } }]);
  });

  it('says which file is missing and where it was looked for', () => {
    const e = caught(() => nadDelegate(nad('', { name: 'net3' }), sel({ name: 'net3' }), options));
    expect(e.message).toBe(`NetworkAttachmentDefinition default/net3: spec.config is empty and confDir ${confDir} has no CNI configuration named "net3"`);
    expect(e.details).toContain('"name": "net3"');
  });
});

describe('nadDelegate: what the selection element adds', () => {
  it('merges cni-args into args.cni, the element\'s values winning (Multus scenario 19)', () => {
    const conf = { ...MACVLAN, args: { cni: { args0: 'val0', args1: 'val1' }, other: true } };
    const d = nadDelegate(nad(conf), sel({ cniArgs: { args1: 'val1a' } }), OPTIONS);
    expect(d.net.plugins[0]!.args).toEqual({ cni: { args0: 'val0', args1: 'val1a' }, other: true });
    expect(bytesJson(d).args).toEqual({ cni: { args0: 'val0', args1: 'val1a' }, other: true });
  });

  it('gives every plugin of a conflist the cni-args', () => {
    const conf = { cniVersion: '1.0.0', name: 'l', plugins: [{ type: 'macvlan' }, { type: 'tuning', args: { cni: { keep: 1 } } }] };
    const d = nadDelegate(nad(conf), sel({ cniArgs: { x: 'y' } }), OPTIONS);
    expect(d.net.plugins.map((p) => p.args)).toEqual([{ cni: { x: 'y' } }, { cni: { keep: 1, x: 'y' } }]);
  });

  it('refuses cni-args when the configuration\'s args cannot take them', () => {
    expect(caught(() => nadDelegate(nad({ ...MACVLAN, args: 'x' }), sel({ cniArgs: { a: 1 } }), OPTIONS)).message)
      .toContain('NetworkAttachmentDefinition default/macvlan-conf: spec.config: "args" is not an object');
    expect(caught(() => nadDelegate(nad({ ...MACVLAN, args: { cni: [] } }), sel({ cniArgs: { a: 1 } }), OPTIONS)).message)
      .toContain('"args.cni" is not an object');
  });

  it('writes a resource device ID into the configuration or every plugin (Multus scenario 20)', () => {
    const annotations = { 'k8s.v1.cni.cncf.io/resourceName': 'intel.com/sriov' };
    const d = nadDelegate(nad(MACVLAN, { annotations }), sel(), { ...OPTIONS, resourceDeviceID: '0000:00:00.0' });
    expect(d.net.plugins[0]).toMatchObject({ deviceID: '0000:00:00.0', pciBusID: '0000:00:00.0' });
    expect(d.deviceID).toBe('0000:00:00.0');
    expect(d.resourceName).toBe('intel.com/sriov');
    const list = nadDelegate(nad({ name: 'l', plugins: [{ type: 'sriov' }, { type: 'tuning' }] }), sel({ deviceID: 'ignored' }), { ...OPTIONS, resourceDeviceID: 'dev1' });
    expect(list.net.plugins.map((p) => [p.deviceID, p.pciBusID])).toEqual([['dev1', 'dev1'], ['dev1', 'dev1']]);
    expect(list.deviceID).toBe('dev1');
  });

  it('keeps the element\'s own deviceID for runtimeConfig only', () => {
    const d = nadDelegate(nad(MACVLAN), sel({ deviceID: '0000:03:00.1' }), OPTIONS);
    expect(d.deviceID).toBe('0000:03:00.1');
    expect(d.net.plugins[0]!.deviceID).toBeUndefined();
  });

  it('carries the requests Multus caches', () => {
    const [s] = parseNetworkSelection(JSON.stringify([{
      name: 'macvlan-conf', interface: 'data0', mac: 'c2:b0:57:49:47:f1', 'infiniband-guid': 'c2:9b:61:8b:6e:4c:0d:9a',
      ips: ['10.1.1.5/24'], 'default-route': ['10.1.1.1'],
    }]), 'default');
    const d = nadDelegate(nad(MACVLAN), s!, OPTIONS);
    expect(d).toMatchObject({
      ifnameRequest: 'data0', macRequest: 'c2:b0:57:49:47:f1', infinibandGUIDRequest: 'c2:9b:61:8b:6e:4c:0d:9a',
      ipRequest: ['10.1.1.5/24'], gatewayRequest: ['10.1.1.1'], isFilterV4Gateway: false, isFilterV6Gateway: false,
    });
  });

  it('survives the scratch cache unchanged, so DEL runs what ADD ran', () => {
    const cniDir = tempDir();
    const d = nadDelegate(nad({ type: 'macvlan', args: { cni: { a: 0 } } }), sel({ cniArgs: { b: 1 }, interface: 'data0', ips: ['10.1.1.5'] }), OPTIONS);
    writeScratchCache(cniDir, 'cid-1', [d]);
    const read = readScratchCache(cniDir, 'cid-1', '1.0.0');
    expect(read.state).toBe('found');
    const [back] = (read as { delegates: typeof d[] }).delegates;
    expect(back!.net.plugins).toEqual(d.net.plugins);
    expect(back!.net.name).toBe('macvlan-conf');
    expect(back).toMatchObject({ name: 'default/macvlan-conf', ifnameRequest: 'data0', ipRequest: ['10.1.1.5'] });
  });
});

describe('interface names of NAD delegates (Multus scenario 15)', () => {
  it('uses a requested name and numbers the others by position', () => {
    const sels = parseNetworkSelection('[{"name":"a","interface":"foo"},{"name":"b"}]', 'test');
    const ds = [delegateFrom(nadDelegate(nad(MACVLAN), sel(), OPTIONS).net), ...sels.map((s) => nadDelegate(nad(MACVLAN, { name: s.name }), s, OPTIONS))];
    expect(ds.map((d, i) => interfaceName(d, i, 'eth0'))).toEqual(['eth0', 'foo', 'net2']);
  });
});


describe('capabilityArgs', () => {
  const RUNTIME = { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }], bandwidth: { ingressRate: 9 }, dns: { servers: ['1.1.1.1'] } };
  const CAPS = { mac: true, ips: true, bandwidth: true, portMappings: true };
  const [element] = parseNetworkSelection(JSON.stringify([{
    name: 'net1', mac: 'c2:b0:57:49:47:f1', ips: ['10.1.1.5/24'], bandwidth: { ingressRate: 100, ingressBurst: 200 },
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
  }]), 'test');
  const secondary = nadDelegate(nad({ name: 'net1', type: 'macvlan', capabilities: CAPS }, { namespace: 'test', name: 'net1' }), element!, OPTIONS);

  function runtimeConfigOf(d: typeof secondary, args: Record<string, unknown>): unknown {
    const stdin = JSON.parse(buildPluginStdin(d.net, d.net.plugins[0]!, undefined, args).toString()) as Record<string, unknown>;
    return stdin.runtimeConfig;
  }

  it('gives a secondary exactly the element\'s requests its plugin declares (Multus scenario 13)', () => {
    const args = capabilityArgs(RUNTIME, secondary, false, undefined);
    expect(runtimeConfigOf(secondary, args)).toEqual({
      mac: 'c2:b0:57:49:47:f1', ips: ['10.1.1.5/24'], bandwidth: { ingressRate: 100, ingressBurst: 200 },
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    });
  });

  it('gives the primary only the runtime\'s runtimeConfig', () => {
    const primary = delegateFrom(secondary.net);
    expect(capabilityArgs(RUNTIME, { ...secondary, ...primary }, true, undefined)).toEqual(RUNTIME);
  });

  it('lets a secondary without requests inherit the runtime\'s values, as Multus does', () => {
    const plain = nadDelegate(nad({ name: 'n', type: 'macvlan', capabilities: CAPS }), sel(), OPTIONS);
    const args = capabilityArgs(RUNTIME, plain, false, undefined);
    expect(runtimeConfigOf(plain, args)).toEqual({ portMappings: RUNTIME.portMappings, bandwidth: RUNTIME.bandwidth });
  });

  it('rebuilds the cached requests from the scratch cache, as DEL does', () => {
    const { portMappingsRequest: _p, bandwidthRequest: _b, ...cached } = secondary;
    const args = capabilityArgs(RUNTIME, cached, false, undefined);
    expect(args).toEqual({ ...RUNTIME, mac: 'c2:b0:57:49:47:f1', ips: ['10.1.1.5/24'] });
  });

  it('adds deviceID and the device-info file path when there is a device', () => {
    const d = nadDelegate(nad(MACVLAN, { namespace: 'ns', name: 'sriov' }), sel({ deviceID: '0000:03:00.1' }), OPTIONS);
    const file = cniDeviceInfoPath(DEFAULT_DEVICE_INFO_DIR, 'ns/sriov', 'abc', 'net1');
    expect(file).toBe('/var/run/k8s.cni.cncf.io/devinfo/cni/ns-sriov-abc_net1');
    expect(capabilityArgs({}, d, false, file)).toEqual({ deviceID: '0000:03:00.1', CNIDeviceInfoFile: file });
    expect(capabilityArgs({}, d, true, file)).toEqual({});
  });

  it('names the device plugin\'s device-info file as NAD-client does', () => {
    expect(dpDeviceInfoPath(DEFAULT_DEVICE_INFO_DIR, 'intel.com/sriov_a', '0000:03:00.1'))
      .toBe('/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov_a-0000:03:00.1-device.json');
  });

  it('does not change the runtime\'s object', () => {
    const runtime = { ips: ['1.1.1.1'] };
    capabilityArgs(runtime, secondary, false, undefined);
    expect(runtime).toEqual({ ips: ['1.1.1.1'] });
  });
});
