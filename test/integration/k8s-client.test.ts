import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../src/cni/errors';
import { KubeApi, KubeApiError, KubeClient, MERGE_PATCH, NotFoundError, connectKubeApi, isNotFound, type ClientOptions } from '../../src/k8s/api';
import { loadKubeconfig } from '../../src/k8s/kubeconfig';
import { NAD_GROUP, startApiServer, unusedPort, type ApiServer } from '../helpers/api-server';
import { rejected } from '../helpers/caught';
import { validateText } from '../../src/validate/validate';
import { thinKubeconfig } from '../helpers/thin-kubeconfig';

// Small pauses keep retry tests quick; the policy itself (sizes, caps) is the client's default.
const FAST: ClientOptions = { attemptTimeoutMs: 2_000, totalTimeoutMs: 10_000, backoffMs: 5, maxBackoffMs: 20 };

let server: ApiServer;
let dir: string;
const apis: KubeApi[] = [];

beforeAll(async () => {
  server = await startApiServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multus-ts-k8s-client-'));
  server.resetLog();
});
afterEach(() => {
  server.clearFaults();
  server.nadCrdInstalled = true;
  for (const api of apis.splice(0)) api.close();
  rmSync(dir, { recursive: true, force: true });
});

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function apiFor(kubeconfig: string, options: ClientOptions = FAST): Promise<KubeApi> {
  const api = (await connectKubeApi(kubeconfig, {}, options))!;
  apis.push(api);
  return api;
}

async function api(options: ClientOptions = FAST): Promise<KubeApi> {
  return apiFor(server.writeKubeconfig(dir), options);
}


function podPath(ns: string, name: string, sub = ''): string {
  return `/api/v1/namespaces/${ns}/pods/${name}${sub}`;
}

function nadPath(ns: string, name: string): string {
  return `/apis/${NAD_GROUP}/v1/namespaces/${ns}/network-attachment-definitions/${name}`;
}

describe('authentication and transport', () => {
  it('GETs a pod with the bearer token over HTTPS verified with the kubeconfig CA', async () => {
    const ns = unique('ns');
    const created = server.addPod({ namespace: ns, name: 'p', annotations: { 'k8s.v1.cni.cncf.io/networks': 'a' } });
    const pod = await (await api()).getPod(ns, 'p');
    expect(pod).toEqual({
      namespace: ns,
      name: 'p',
      uid: created.metadata.uid,
      resourceVersion: created.metadata.resourceVersion,
      annotations: { 'k8s.v1.cni.cncf.io/networks': 'a' },
    });
    expect(server.logged()).toMatchObject([{ method: 'GET', path: podPath(ns, 'p'), query: '', auth: 'token', status: 200 }]);
  });

  it('authenticates with a client certificate', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const a = await apiFor(server.writeKubeconfig(dir, { token: null, clientCertificate: true }));
    expect((await a.getPod(ns, 'p')).name).toBe('p');
    expect(server.logged()).toMatchObject([{ auth: 'client-certificate', status: 200 }]);
  });

  it('keeps one connection open for the calls of one process', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.addNad({ namespace: ns, name: 'n', config: '{}' });
    const a = await api();
    const before = server.connections;
    await a.getPod(ns, 'p');
    await a.getNetworkAttachmentDefinition(ns, 'n');
    await a.patchPodStatusAnnotations(ns, 'p', { x: 'y' });
    expect(server.connections - before).toBe(1);
  });

  it('talks plain HTTP to an http:// server, under a path prefix', async () => {
    const plain = await startApiServer({ tls: false, pathPrefix: '/k8s/clusters/c-1' });
    try {
      plain.addPod({ namespace: 'ns', name: 'p' });
      const a = await apiFor(plain.writeKubeconfig(dir));
      expect((await a.getPod('ns', 'p')).name).toBe('p');
      expect(plain.logged()).toMatchObject([{ path: podPath('ns', 'p'), status: 200 }]);
    } finally {
      await plain.close();
    }
  });

  it('accepts any certificate with insecure-skip-tls-verify', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const kubeconfig = join(dir, 'insecure');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: server.token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    expect((await (await apiFor(kubeconfig)).getPod(ns, 'p')).name).toBe('p');
  });

  it('refuses a server certificate it cannot verify, without retrying', async () => {
    const kubeconfig = join(dir, 'no-ca');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: server.url } }],
        users: [{ name: 'u', user: { token: server.token } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const e = await rejected((await apiFor(kubeconfig)).getPod('ns', 'p'));
    expect(e.code).toBe(ErrorCode.InvalidNetworkConfig);
    expect(e.message).toMatch(
      new RegExp(`^cannot verify the TLS certificate of Kubernetes API server ${server.url} with the system's trusted CAs \\(kubeconfig ${kubeconfig} has no certificate-authority\\): `),
    );
    expect(e.message).toMatch(/fix certificate-authority\(-data\) or tls-server-name$/);
    expect(server.count()).toBe(0);
  });

  it('401: code 11 (try again: installers rewrite rotated tokens), names the server and the credential field, no retry', async () => {
    const kubeconfig = server.writeKubeconfig(dir, { token: 'expired-token' });
    const e = await rejected((await apiFor(kubeconfig)).getPod('ns', 'p'));
    expect(e).toBeInstanceOf(KubeApiError);
    expect((e as KubeApiError).status).toBe(401);
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    expect(e.message).toBe(
      `Kubernetes API server ${server.url} rejected the token of user "multus" in kubeconfig ${kubeconfig} (401 Unauthorized, GET pod "ns/p"): ` +
        'the token may have expired or belong to another cluster: a service-account token copied into a kubeconfig stops ' +
        'working when the kubelet rotates it, so the installer must rewrite the file (multus install --watch does; Go Multus ' +
        'only with --cleanup-config-on-exit), or point tokenFile at the projected token',
    );
    expect(server.count()).toBe(1);
  });

  it('reads a kubeconfig exactly as Go Multus\'s installer writes it: YAML, https://[IPv4]:port, token with its newline', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const port = new URL(server.url).port;
    const kubeconfig = join(dir, 'multus.kubeconfig');
    writeFileSync(kubeconfig, thinKubeconfig({ host: '127.0.0.1', port, caPem: server.caPem, tokenFileContent: `${server.token}\n` }));
    expect((await (await apiFor(kubeconfig)).getPod(ns, 'p')).name).toBe('p');
    writeFileSync(kubeconfig, thinKubeconfig({ host: '127.0.0.1', port, tokenFileContent: server.token }));
    expect((await (await apiFor(kubeconfig)).getPod(ns, 'p')).name).toBe('p');
  });

  it('401 with a tokenFile names the file, which is read when the kubeconfig is loaded', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'stale\n');
    const kubeconfig = join(dir, 'k');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority-data': Buffer.from(server.caPem).toString('base64') } }],
        users: [{ name: 'u', user: { tokenFile: 'token' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const e = await rejected((await apiFor(kubeconfig)).getPod('ns', 'p'));
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    expect(e.message).toContain(`rejected the token in ${tokenFile} (tokenFile of user "u" in kubeconfig ${kubeconfig}) (401 Unauthorized`);
    // kubelet rotated the token: the next process reads the new one.
    writeFileSync(tokenFile, `${server.token}\n`);
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    expect((await (await apiFor(kubeconfig)).getPod(ns, 'p')).name).toBe('p');
  });

  it('403: the verb, the resource as RBAC names it, the object, the credential and the server message', async () => {
    const ns = unique('ns');
    server.inject({ method: 'GET', path: nadPath(ns, 'n'), status: 403 });
    const kubeconfig = server.writeKubeconfig(dir);
    const e = await rejected((await apiFor(kubeconfig)).getNetworkAttachmentDefinition(ns, 'n'));
    expect((e as KubeApiError).status).toBe(403);
    expect(e.message).toBe(
      `Kubernetes API server ${server.url} forbids get on network-attachment-definitions.k8s.cni.cncf.io "${ns}/n" with the token of user "multus" in kubeconfig ${kubeconfig}: ` +
        `network-attachment-definitions.k8s.cni.cncf.io "n" is forbidden: User "system:serviceaccount:kube-system:multus" cannot get resource ` +
        `"network-attachment-definitions" in API group "k8s.cni.cncf.io" in the namespace "${ns}" (grant it in the RBAC role bound to that identity)`,
    );
    expect(server.count()).toBe(1);
  });
});

describe('not found', () => {
  it('is a typed error for the pod or the NAD, and never retried', async () => {
    const ns = unique('ns');
    const a = await api();
    const pod = await rejected(a.getPod(ns, 'gone'));
    expect(pod).toBeInstanceOf(NotFoundError);
    expect(isNotFound(pod, 'pods')).toBe(true);
    expect(isNotFound(pod, 'network-attachment-definitions')).toBe(false);
    expect(pod).toMatchObject({ resource: 'pods', namespace: ns, objectName: 'gone', status: 404, reason: 'NotFound' });
    expect(pod.message).toBe(`pod "${ns}/gone" not found (Kubernetes API server ${server.url})`);

    const nad = await rejected(a.getNetworkAttachmentDefinition(ns, 'missing'));
    expect(isNotFound(nad, 'network-attachment-definitions')).toBe(true);
    expect(isNotFound(nad, 'pods')).toBe(false);
    expect(nad.message).toBe(`NetworkAttachmentDefinition "${ns}/missing" not found (Kubernetes API server ${server.url})`);
    expect(server.count()).toBe(2);
  });

  it('patching the status of a deleted pod is "pod not found"', async () => {
    const ns = unique('ns');
    const e = await rejected((await api()).patchPodStatusAnnotations(ns, 'gone', { a: 'b' }));
    expect(isNotFound(e, 'pods')).toBe(true);
  });

  it('a 404 that does not name the object is not "not found": wrong URL or missing CRD', async () => {
    server.nadCrdInstalled = false;
    const ns = unique('ns');
    const e = await rejected((await api()).getNetworkAttachmentDefinition(ns, 'n'));
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e).not.toBeInstanceOf(NotFoundError);
    expect(e.message).toBe(
      `Kubernetes API server ${server.url} does not serve GET ${nadPath(ns, 'n')}: the server could not find the requested resource ` +
        '(is the server URL right, and is the network-attachment-definitions.k8s.cni.cncf.io CustomResourceDefinition installed?)',
    );

    const proxied = await startApiServer({ tls: false, pathPrefix: '/k8s/clusters/c-1' });
    try {
      const kubeconfig = proxied.writeKubeconfig(dir);
      const withoutPrefix = join(dir, 'without-prefix');
      writeFileSync(withoutPrefix, (await import('node:fs')).readFileSync(kubeconfig, 'utf8').replace('/k8s/clusters/c-1', ''));
      const wrong = await rejected((await apiFor(withoutPrefix)).getPod('ns', 'p'));
      expect(isNotFound(wrong, 'pods')).toBe(false);
      expect(wrong.message).toMatch(/does not serve GET \/api\/v1\/namespaces\/ns\/pods\/p: 404 page not found \(is the server URL right\?\)$/);
    } finally {
      await proxied.close();
    }
  });
});

describe('retries and time limits', () => {
  it('retries 500 and 503, then succeeds', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const fault = server.inject({ path: podPath(ns, 'p'), status: 500, times: 1 });
    server.inject({ path: podPath(ns, 'p'), status: 503, times: 1 });
    expect((await (await api()).getPod(ns, 'p')).name).toBe('p');
    expect(fault.hits).toBe(1);
    expect(server.logged().map((r) => r.status)).toEqual([500, 503, 200]);
  });

  it('retries after a dropped connection', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.inject({ path: podPath(ns, 'p'), reset: true, times: 2 });
    expect((await (await api()).getPod(ns, 'p')).name).toBe('p');
    expect(server.count()).toBe(3);
  });

  it('429: waits for Retry-After, capped by maxRetryAfterMs', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.inject({ path: podPath(ns, 'p'), status: 429, retryAfter: 3600, times: 1 });
    expect((await (await api({ ...FAST, maxRetryAfterMs: 10 })).getPod(ns, 'p')).name).toBe('p');
    expect(server.logged().map((r) => r.status)).toEqual([429, 200]);
  });

  it('429: gives up at once when Retry-After is beyond the time left', async () => {
    const ns = unique('ns');
    server.inject({ path: podPath(ns, 'p'), status: 429, retryAfter: 60 });
    const e = await rejected((await api({ ...FAST, maxRetryAfterMs: 120_000 })).getPod(ns, 'p'));
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    expect(e.message).toBe(
      `Kubernetes API server ${server.url} answered 429 TooManyRequests: Too many requests, please try again later. ` +
        `(GET pod "${ns}/p"; gave up after 1 attempt in ${e.message.match(/in (\d+\.\d) s\)$/)![1]} s)`,
    );
    expect(server.count()).toBe(1);
  });

  it('a server that keeps failing: code 11 after maxAttempts', async () => {
    const ns = unique('ns');
    server.inject({ path: nadPath(ns, 'n'), status: 503 });
    const e = await rejected((await api({ ...FAST, maxAttempts: 4 })).getNetworkAttachmentDefinition(ns, 'n'));
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    expect(e.message).toMatch(
      new RegExp(`^Kubernetes API server ${server.url} answered 503 ServiceUnavailable: the server is currently unable to handle the request \\(GET NetworkAttachmentDefinition "${ns}/n"; gave up after 4 attempts in `),
    );
    expect(server.count()).toBe(4);
  });

  it('no retry on other 4xx: 415 for a patch type the server does not take', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const a = await api();
    const e = await rejected(
      a.client.request({
        method: 'PATCH',
        path: podPath(ns, 'p'),
        target: { resource: 'pods', group: '', namespace: ns, name: 'p' },
        body: [{ op: 'add', path: '/metadata/annotations/a', value: 'b' }],
        contentType: 'application/json-patch+json',
      }),
    );
    expect((e as KubeApiError).status).toBe(415);
    expect(e.message).toMatch(/answered 415 UnsupportedMediaType to PATCH pod ".*\/p": the body of the request was in an unknown format/);
    expect(server.count()).toBe(1);
  });

  it('an unreachable server: code 11 naming the server, after a bounded number of attempts', async () => {
    const url = `https://127.0.0.1:${await unusedPort()}`;
    const kubeconfig = join(dir, 'k');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': Buffer.from(server.caPem).toString('base64') } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    const e = await rejected((await apiFor(kubeconfig, { ...FAST, maxAttempts: 3 })).getPod('ns', 'p'));
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    expect(e.message).toMatch(new RegExp(`^Kubernetes API server ${url} is unreachable: connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+ \\(GET pod "ns/p"; gave up after 3 attempts in `));
  });

  it('a slow server: each attempt times out, and the call stops within its total budget', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.inject({ path: podPath(ns, 'p'), delayMs: 30_000 });
    const e = await rejected((await api({ ...FAST, attemptTimeoutMs: 100, totalTimeoutMs: 400, maxAttempts: 10 })).getPod(ns, 'p'));
    expect(e.code).toBe(ErrorCode.TryAgainLater);
    const m = new RegExp(`^Kubernetes API server ${server.url} is unreachable: no answer within (\\d+) ms \\(GET pod "${ns}/p"; gave up after \\d+ attempts`)
      .exec(e.message);
    expect(m, e.message).not.toBeNull();
    // The failing attempt had the attempt timeout, or less when the budget was nearly spent (the last one is clipped).
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![1])).toBeLessThanOrEqual(100);
    const attempts = server.count();
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThan(10);
  });

  it('a slow answer within the attempt timeout is just slow', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.inject({ path: podPath(ns, 'p'), delayMs: 50, times: 1 });
    expect((await (await api()).getPod(ns, 'p')).name).toBe('p');
    expect(server.count()).toBe(1);
  });
});

describe('network-status write', () => {
  it('is one merge PATCH of pods/status: annotations merged, null removes, spec kept, resourceVersion moves', async () => {
    const ns = unique('ns');
    const before = server.addPod({ namespace: ns, name: 'p', annotations: { keep: 'me', drop: 'me' } });
    const status = '[{"name":"cbr0","interface":"eth0","ips":["10.1.0.5"],"default":true,"dns":{}}]';
    const pod = await (await api()).patchPodStatusAnnotations(ns, 'p', { 'k8s.v1.cni.cncf.io/network-status': status, drop: null }, before.metadata.uid);
    expect(pod.annotations).toEqual({ keep: 'me', 'k8s.v1.cni.cncf.io/network-status': status });
    expect(Number(pod.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    const stored = server.pod(ns, 'p')!;
    expect(stored.metadata.annotations).toEqual(pod.annotations);
    expect(stored.spec).toEqual(before.spec);
    expect(server.logged()).toMatchObject([{ method: 'PATCH', path: podPath(ns, 'p', '/status'), contentType: MERGE_PATCH, status: 200 }]);
  });

  it('fails instead of writing to a pod that replaced ours under the same name', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    const e = await rejected((await api()).patchPodStatusAnnotations(ns, 'p', { a: 'b' }, 'uid-of-the-old-pod'));
    expect((e as KubeApiError).status).toBe(422);
    expect(e.message).toMatch(/^pod status ".*\/p" was replaced: expected uid uid-of-the-old-pod \(.*answered 422 Invalid to PATCH pod status ".*\/p": Pod "p" is invalid: metadata.uid: Invalid value: "uid-of-the-old-pod": field is immutable\)$/);
    expect(server.pod(ns, 'p')!.metadata.annotations).toBeUndefined();
  });

  it("falls back to get and update when RBAC only grants Multus's verbs on pods/status", async () => {
    const ns = unique('ns');
    const created = server.addPod({ namespace: ns, name: 'p', annotations: { keep: 'me' } });
    server.inject({ method: 'PATCH', path: podPath(ns, 'p', '/status'), status: 403 });
    server.inject({ method: 'PUT', path: podPath(ns, 'p', '/status'), status: 409, times: 1 });
    const pod = await (await api()).patchPodStatusAnnotations(ns, 'p', { a: 'b' }, created.metadata.uid);
    expect(pod.annotations).toEqual({ keep: 'me', a: 'b' });
    expect(server.logged().map((r) => `${r.method} ${r.status}`)).toEqual(['PATCH 403', 'GET 200', 'PUT 409', 'GET 200', 'PUT 200']);
    expect(server.logged({ method: 'PUT' })[1]!.contentType).toBe('application/json');
  });

  it('says so when neither patch nor update is allowed', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.inject({ path: podPath(ns, 'p', '/status'), status: 403 });
    const e = await rejected((await api()).patchPodStatusAnnotations(ns, 'p', { a: 'b' }));
    expect((e as KubeApiError).status).toBe(403);
    expect(e.message).toMatch(/forbids patch on pods\/status ".*\/p" with .*cannot patch resource "pods\/status" in API group "".*; the fallback was refused too: .*forbids update on pods\/status/);
  });
});

describe('request budget and validation', () => {
  it('an ADD costs 2 + distinct NADs requests: GET pod, each NAD once, one PATCH', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p' });
    server.addNad({ namespace: ns, name: 'a', config: '{"type":"macvlan"}', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'r' } });
    server.addNad({ namespace: 'kube-system', name: 'b' });
    const a = await api();
    const pod = await a.getPod(ns, 'p');
    const [first, second, again] = await Promise.all([
      a.getNetworkAttachmentDefinition(ns, 'a'),
      a.getNetworkAttachmentDefinition('kube-system', 'b'),
      a.getNetworkAttachmentDefinition(ns, 'a'),
    ]);
    await a.patchPodStatusAnnotations(ns, 'p', { 'k8s.v1.cni.cncf.io/network-status': '[]' }, pod.uid);
    expect(first).toEqual({ namespace: ns, name: 'a', annotations: { 'k8s.v1.cni.cncf.io/resourceName': 'r' }, config: '{"type":"macvlan"}' });
    expect(second).toEqual({ namespace: 'kube-system', name: 'b', annotations: {}, config: '' });
    expect(again).toBe(first);
    expect(server.count()).toBe(4);
    expect(server.count({ method: 'GET', path: /network-attachment-definitions/ })).toBe(2);
  });

  it('lists NADs (test server)', async () => {
    const ns = unique('ns');
    server.addNad({ namespace: ns, name: 'a', config: '{}' });
    server.addNad({ namespace: ns, name: 'b', config: '{}' });
    const a = await api();
    const list = (await a.client.request({
      method: 'GET',
      path: `/apis/${NAD_GROUP}/v1/namespaces/${ns}/network-attachment-definitions`,
      target: { resource: 'network-attachment-definitions', group: NAD_GROUP, namespace: ns, name: '' },
    })) as { kind: string; items: Array<{ metadata: { name: string } }> };
    expect(list.kind).toBe('NetworkAttachmentDefinitionList');
    expect(list.items.map((i) => i.metadata.name)).toEqual(['a', 'b']);
  });

  it('rejects names that would change the URL, without a request', async () => {
    const a = await api();
    expect((await rejected(a.getPod('', 'p'))).message).toBe('invalid namespace "" for pod "/p": it must be a Kubernetes namespace name');
    expect((await rejected(a.getNetworkAttachmentDefinition('ns', '..'))).message).toBe(
      'invalid name ".." for NetworkAttachmentDefinition "ns/..": it must be a Kubernetes object name',
    );
    for (const [ns, name] of [['x/../rel', 'p'], ['rel%2Fpods', 'p'], ['ns', 'a/b'], ['ns', 'p?watch=1'], ['NS', 'p']]) {
      expect((await rejected(a.getPod(ns!, name!))).code).toBe(7);
    }
    expect(server.count()).toBe(0);
  });

  it('validates the shape of what the server sends', async () => {
    const ns = unique('ns');
    server.addPod({ namespace: ns, name: 'p', uid: '' });
    const e = await rejected((await api()).getPod(ns, 'p'));
    expect(e.code).toBe(ErrorCode.DecodingFailure);
    expect(e.message).toBe(`Kubernetes API server ${server.url} sent a malformed pod "${ns}/p": metadata.uid is missing`);
  });

  it('refuses a malformed NetworkAttachmentDefinition with the first problem multus validate prints of it', async () => {
    const ns = unique('ns');
    const stored = server.addNad({ namespace: ns, name: 'bad', config: 5 as unknown as string, annotations: { a: 7 as unknown as string } });
    const e = await rejected((await api()).getNetworkAttachmentDefinition(ns, 'bad'));
    expect(e.code).toBe(ErrorCode.DecodingFailure);
    expect(e.message).toBe(`Kubernetes API server ${server.url} sent a malformed NetworkAttachmentDefinition "${ns}/bad": metadata.annotations is not a map of strings`);
    const lines = (await validateText(JSON.stringify(stored), 'nad', 'bad.json')).lines().map((l) => l.split(' — ')[0]);
    expect(lines).toEqual([
      `NetworkAttachmentDefinition ${ns}/bad: metadata.annotations.a: 7 is not a string`,
      `NetworkAttachmentDefinition ${ns}/bad: spec.config: 5 is not a string, but it must be a string holding the JSON configuration`,
    ]);
  });

  it('connectKubeApi: the kubeconfig when set, else in-cluster, else nothing', async () => {
    expect(await connectKubeApi('', {})).toBeUndefined();
    const kubeconfig = server.writeKubeconfig(dir);
    const a = (await connectKubeApi(kubeconfig, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }))!;
    apis.push(a);
    expect(a.client.conn.server).toBe(server.url);
    expect(new KubeClient(await loadKubeconfig(kubeconfig)).options.attemptTimeoutMs).toBe(10_000);
  });
});
