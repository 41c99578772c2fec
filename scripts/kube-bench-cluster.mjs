// The real control plane both Kubernetes benchmarks run against (bench-kube-requests.mjs, bench-kube-pod.mjs):
// kube-apiserver + etcd from test/helpers/kube-apiserver.ts, the NetworkAttachmentDefinition CRD and multus-ts's
// RBAC from conf/, the server reachable from a node's network namespace, and two service accounts with their
// kubeconfigs: `multus` with our ClusterRole, and, when Go Multus's peer is built, `go-multus` with the ClusterRole
// Go Multus ships (its thin plugin against the same server).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTs } from './load-ts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const kubeHelper = await loadTs('../test/helpers/kube-apiserver.ts', import.meta.url);
const { goMultus } = await loadTs('../test/helpers/peers.ts', import.meta.url);

export { kubeHelper };
export const go = goMultus();

const GO_MULTUS_RBAC = [
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'go-multus', namespace: 'kube-system' } },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'go-multus' }, rules: [
    { apiGroups: ['k8s.cni.cncf.io'], resources: ['*'], verbs: ['*'] },
    { apiGroups: [''], resources: ['pods', 'pods/status'], verbs: ['get', 'list', 'update', 'watch'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update'] },
  ] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'go-multus' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'go-multus' },
    subjects: [{ kind: 'ServiceAccount', name: 'go-multus', namespace: 'kube-system' }] },
];

/**
 * Starts the cluster, reachable at a URL from inside `netns` (a path such as /var/run/netns/x), and writes the
 * kubeconfigs into `dir`. Returns { kube, server, kubeconfig, user, goKubeconfig, goUser }; kube.close() ends it.
 */
export async function startBenchCluster(netns, dir) {
  if (!kubeHelper.canRunKubeApiServer) throw new Error(`cannot run kube-apiserver here: ${kubeHelper.whyNoKubeApiServer}`);
  const kube = await kubeHelper.startKubeApiServer();
  try {
    await kube.apply(readFileSync(`${root}/conf/crd.yaml`, 'utf8'));
    await kube.apply(readFileSync(`${root}/conf/rbac.yaml`, 'utf8'));
    const server = await kube.exposeIn(netns);
    const kubeconfig = kube.writeKubeconfig(dir, await kube.token('kube-system', 'multus'), server, 'multus.kubeconfig');
    let goKubeconfig;
    if (!go.missing) {
      await kube.apply(GO_MULTUS_RBAC);
      goKubeconfig = kube.writeKubeconfig(dir, await kube.token('kube-system', 'go-multus'), server, 'go-multus.kubeconfig');
    }
    return {
      kube, server, kubeconfig, goKubeconfig,
      user: kubeHelper.serviceAccountUser('kube-system', 'multus'),
      goUser: kubeHelper.serviceAccountUser('kube-system', 'go-multus'),
    };
  } catch (e) {
    await kube.close();
    throw e;
  }
}
