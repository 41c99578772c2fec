import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseNetworkConfig } from '../../src/delegation/network-config';
import { parseInstallFlags } from '../../src/install/options';
import { installFlags } from '../helpers/install';

// The manifests in conf/: they parse, RBAC is exactly what the plugin needs, the DaemonSet's arguments are ones
// the installer accepts and its mounts cover the paths it is told to write, the example networks are valid.

const CONF = resolve(__dirname, '../../conf');

type Doc = Record<string, any>;

function docs(file: string): Doc[] {
  const parsed = parseAllDocuments(readFileSync(join(CONF, file), 'utf8'));
  for (const d of parsed) expect(d.errors, `${file}: ${d.errors.join('; ')}`).toEqual([]);
  return parsed.map((d) => d.toJS() as Doc);
}

function only(file: string, kind: string): Doc {
  const found = docs(file).filter((d) => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('conf/*.yaml', () => {
  it('every YAML file parses', () => {
    const files = [...readdirSync(CONF).filter((f) => f.endsWith('.yaml')), ...readdirSync(join(CONF, 'examples')).map((f) => `examples/${f}`)];
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) expect(docs(f).length).toBeGreaterThan(0);
  });

  it('defines the NetworkAttachmentDefinition CRD as Multus does', () => {
    const crd = only('crd.yaml', 'CustomResourceDefinition');
    expect(crd.metadata.name).toBe('network-attachment-definitions.k8s.cni.cncf.io');
    expect(crd.spec).toMatchObject({
      group: 'k8s.cni.cncf.io',
      scope: 'Namespaced',
      names: { kind: 'NetworkAttachmentDefinition', plural: 'network-attachment-definitions', singular: 'network-attachment-definition' },
    });
    expect(crd.spec.names.shortNames.sort()).toEqual(['nad', 'net-attach-def']);
    const [v1] = crd.spec.versions;
    expect(v1).toMatchObject({ name: 'v1', served: true, storage: true });
    expect(v1.schema.openAPIV3Schema.properties.spec.properties.config.type).toBe('string');
  });

  it('grants exactly pods get, pods/status patch, NADs get and events create', () => {
    const role = only('rbac.yaml', 'ClusterRole');
    const grants = role.rules.flatMap((r: Doc) => r.apiGroups.flatMap((g: string) => r.resources.flatMap((res: string) =>
      r.verbs.map((v: string) => `${g || 'core'}/${res}:${v}`)))).sort();
    expect(grants).toEqual([
      'core/events:create',
      'core/pods/status:patch',
      'core/pods:get',
      'k8s.cni.cncf.io/network-attachment-definitions:get',
    ]);
    for (const r of role.rules) expect(r).not.toHaveProperty('resourceNames');
    const sa = only('rbac.yaml', 'ServiceAccount');
    const binding = only('rbac.yaml', 'ClusterRoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  });

  it('runs the installer with arguments it accepts, with a host mount under every path it writes', async () => {
    const ds = only('daemonset.yaml', 'DaemonSet');
    const sa = only('rbac.yaml', 'ServiceAccount');
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
    const pod = ds.spec.template.spec;
    expect(pod.serviceAccountName).toBe(sa.metadata.name);
    expect(pod.hostNetwork).toBe(true);
    expect(ds.spec.selector.matchLabels).toEqual({ app: ds.spec.template.metadata.labels.app });
    const [c] = pod.containers;
    expect(c.command).toEqual(['/app/bin/multus', 'install']);
    const o = parseInstallFlags(await installFlags(c.args));
    expect(o).toMatchObject({ hostPrefix: '/host', watch: true, cleanupOnExit: false, dryRun: false });
    const mounts = new Map<string, string>(c.volumeMounts.map((m: Doc) => {
      const vol = pod.volumes.find((v: Doc) => v.name === m.name);
      return [m.mountPath, vol.hostPath.path];
    }));
    for (const hostPath of [o.cniBinDir, o.cniConfDir, o.installDir, o.kubeconfigPath]) {
      const covered = [...mounts].some(([mountPath, host]) =>
        (hostPath === host || hostPath.startsWith(`${host}/`)) && mountPath === `${o.hostPrefix}${host}`);
      expect(covered, `no host mount for ${hostPath}`).toBe(true);
    }
    expect(c.securityContext.privileged).toBe(false);
  });

  it('the example networks are valid CNI configurations with the documented ranges', () => {
    const nads = Object.fromEntries(readdirSync(join(CONF, 'examples'))
      .flatMap((f) => docs(`examples/${f}`))
      .filter((d) => d.kind === 'NetworkAttachmentDefinition')
      .map((d) => {
        const config = JSON.parse(d.spec.config) as Doc;
        parseNetworkConfig(config, d.metadata.name, '0.1.0');
        expect(config.name).toBe(d.metadata.name);
        return [d.metadata.name, config];
      }));
    expect(nads['macvlan-conf']).toMatchObject({
      type: 'macvlan', mode: 'bridge',
      ipam: { type: 'host-local', rangeStart: '192.168.1.200', rangeEnd: '192.168.1.216', gateway: '192.168.1.1', routes: [{ dst: '0.0.0.0/0' }] },
    });
    expect(nads['ipvlan-l3-conf']).toMatchObject({ type: 'ipvlan', mode: 'l3', ipam: { type: 'host-local', rangeStart: '192.168.1.13', rangeEnd: '192.168.1.17' } });
    expect(nads['ipvlan-l2-conf']).toMatchObject({ type: 'ipvlan', mode: 'l2', ipam: { type: 'whereabouts' } });
  });

  it('the example pod asks for networks that exist', () => {
    const pod = only('examples/pod.yaml', 'Pod');
    const names = (pod.metadata.annotations['k8s.v1.cni.cncf.io/networks'] as string).split(',').map((s) => s.trim());
    const defined = readdirSync(join(CONF, 'examples')).flatMap((f) => docs(`examples/${f}`))
      .filter((d) => d.kind === 'NetworkAttachmentDefinition').map((d) => d.metadata.name);
    for (const n of names) expect(defined).toContain(n);
  });
});
