import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../../src/cni/errors';
import { inClusterConfig, loadKubeconfig } from '../../src/k8s/kubeconfig';
import { caught } from '../helpers/caught';
import { rejected } from '../helpers/caught';
import { thinKubeconfig } from '../helpers/thin-kubeconfig';

// Only the markers are checked when loading; real certificates are exercised by the client's integration tests.
const CA = '-----BEGIN CERTIFICATE-----\nTUlJQ0FURVNUQ0E=\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nQ0xJRU5UQ0VSVA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nS0VZ\n-----END EC PRIVATE KEY-----\n';
const b64 = (s: string): string => Buffer.from(s).toString('base64');

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'multus-ts-kubeconfig-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});


function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster }],
    users: user ? [{ name: 'multus', user }] : [],
    contexts: [{ name: 'multus-context', context: { cluster: 'local', ...(user && { user: 'multus' }) } }],
    'current-context': 'multus-context',
    ...extra,
  };
}

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Writes a JSON kubeconfig and returns what loading it throws. */
async function failure(doc: unknown): Promise<CniError> {
  return rejected(loadKubeconfig(write('kubeconfig', doc)));
}

describe('loadKubeconfig', () => {
  it('reads the JSON file the installer writes: server, CA data and token', async () => {
    const path = write('multus.kubeconfig', kubeconfig({ server: 'https://10.96.0.1:443', 'certificate-authority-data': b64(CA) }, { token: 'abc.def' }));
    const c = await loadKubeconfig(path);
    expect(c).toEqual({
      source: `kubeconfig ${path}`,
      server: 'https://10.96.0.1:443',
      ca: Buffer.from(CA),
      insecure: false,
      token: 'abc.def',
      credential: `the token of user "multus" in kubeconfig ${path}`,
      credentialFix: expect.stringMatching(/^the token may have expired .* or point tokenFile at the projected token$/),
    });
  });

  describe('reads what Go Multus\'s thin_entrypoint writes', () => {
    it('YAML, a bracketed IPv4 server and a token whose file ended with a newline', async () => {
      const path = write('multus.kubeconfig', thinKubeconfig({ host: '10.96.0.1', port: 443, caPem: CA, tokenFileContent: 'abc.def\n' }));
      const c = await loadKubeconfig(path);
      expect(c.server).toBe('https://10.96.0.1:443');
      expect(c.ca).toEqual(Buffer.from(CA));
      expect(c.insecure).toBe(false);
      // go-yaml folds the newline to a space, and Go's HTTP client trims the header value.
      expect(c.token).toBe('abc.def');
      expect(c.credential).toBe(`the token of user "multus" in kubeconfig ${path}`);
    });

    it('an IPv6 service host, a token without newline, and --skip-tls-verify', async () => {
      const path = write('k6', thinKubeconfig({ host: 'fd00:10:96::1', port: 6443, tokenFileContent: 'abc.def' }));
      const c = await loadKubeconfig(path);
      expect(c.server).toBe('https://[fd00:10:96::1]:6443');
      expect(c.insecure).toBe(true);
      expect(c.ca).toBeUndefined();
      expect(c.token).toBe('abc.def');
    });

    it('KUBERNETES_SERVICE_PROTOCOL=http', async () => {
      const c = await loadKubeconfig(write('kh', thinKubeconfig({ protocol: 'http', host: '10.0.0.1', port: 8080, tokenFileContent: 't' })));
      expect(c.server).toBe('http://10.0.0.1:8080');
    });
  });

  it('reads YAML as client-go does: 1.1 booleans, unindented quoted continuation lines, repeated keys', async () => {
    const path = write('go.yaml', `apiVersion: v1
clusters:
- name: local
  cluster:
    server: "https://api.example"
    tls-server-name: 'kubernetes.default
'
    insecure-skip-tls-verify: yes
users:
- name: u
  user:
    token: 'first
second'
    token: 'tok'
contexts: [{name: c, context: {cluster: local, user: u}}]
current-context: c
`);
    const c = await loadKubeconfig(path);
    expect(c.server).toBe('https://api.example');
    expect(c.tlsServerName).toBe('kubernetes.default ');
    expect(c.insecure).toBe(true);
    expect(c.token).toBe('tok');
  });

  it('a server without a port, and with a path prefix', async () => {
    const noPort = await loadKubeconfig(write('np', kubeconfig({ server: 'https://[10.96.0.1]' }, { token: 't' })));
    expect(noPort.server).toBe('https://10.96.0.1');
    const prefixed = await loadKubeconfig(write('pp', kubeconfig({ server: 'https://[10.96.0.1]:8443/k8s/clusters/c-1' }, { token: 't' })));
    expect(prefixed.server).toBe('https://10.96.0.1:8443/k8s/clusters/c-1');
  });

  it('trims an inline token (JSON cannot carry a newline into an HTTP header)', async () => {
    const c = await loadKubeconfig(write('tn', kubeconfig({ server: 'https://h:1' }, { token: 'abc.def\n' })));
    expect(c.token).toBe('abc.def');
  });

  it('reads hand-written YAML, with file paths relative to the kubeconfig directory', async () => {
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.crt'), CA);
    writeFileSync(join(dir, 'pki', 'client.crt'), CERT);
    writeFileSync(join(dir, 'pki', 'client.key'), KEY);
    writeFileSync(join(dir, 'token'), '  tok-from-file\n');
    const path = write(
      'config.yaml',
      `# written by hand
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster:
    server: https://other.example:6443
- name: local
  cluster:
    server: https://api.example:6443/
    certificate-authority: pki/ca.crt
    tls-server-name: kubernetes.default.svc
users:
- name: admin
  user:
    tokenFile: token
    client-certificate: pki/client.crt
    client-key: ./pki/client.key
contexts:
- name: ctx
  context:
    cluster: local
    user: admin
    namespace: ignored
current-context: ctx
`,
    );
    const c = await loadKubeconfig(path);
    expect(c.server).toBe('https://api.example:6443');
    expect(c.ca).toEqual(Buffer.from(CA));
    expect(c.tlsServerName).toBe('kubernetes.default.svc');
    expect(c.token).toBe('tok-from-file');
    expect(c.clientCert).toEqual(Buffer.from(CERT));
    expect(c.clientKey).toEqual(Buffer.from(KEY));
    expect(c.credential).toBe(
      `the token in ${join(dir, 'token')} (tokenFile of user "admin" in kubeconfig ${path}) and the client certificate (client-certificate) of user "admin" in kubeconfig ${path}`,
    );
    expect(c.credentialFix).toBe(
      `the token in ${join(dir, 'token')} may have expired or belong to another cluster; the client certificate may have expired or not be signed by the cluster's client CA`,
    );
  });

  it('loads the YAML parser only for files that are not JSON', async () => {
    vi.resetModules();
    let yamlLoads = 0;
    vi.doMock('yaml', async () => {
      yamlLoads++;
      return vi.importActual('yaml');
    });
    try {
      const fresh = await import('../../src/k8s/kubeconfig');
      const doc = kubeconfig({ server: 'https://h:1' }, { token: 't' });
      await fresh.loadKubeconfig(write('k.json', doc));
      expect(yamlLoads).toBe(0);
      await fresh.loadKubeconfig(
        write('k.yaml', 'clusters: [{name: local, cluster: {server: "https://h:1"}}]\ncontexts: [{name: c, context: {cluster: local}}]\ncurrent-context: c\n'),
      );
      expect(yamlLoads).toBe(1);
    } finally {
      vi.doUnmock('yaml');
      vi.resetModules();
    }
  });

  it('takes inline data over the file field, and tokenFile over token', async () => {
    writeFileSync(join(dir, 't'), 'from-file');
    const c = await loadKubeconfig(
      write(
        'k',
        kubeconfig(
          { server: 'https://h:6443', 'certificate-authority': '/nonexistent/ca.crt', 'certificate-authority-data': b64(CA) },
          {
            token: 'inline',
            tokenFile: 't',
            'client-certificate': '/nonexistent/c',
            'client-certificate-data': b64(CERT),
            'client-key': '/nonexistent/k',
            'client-key-data': b64(KEY),
          },
        ),
      ),
    );
    expect(c.ca).toEqual(Buffer.from(CA));
    expect(c.token).toBe('from-file');
    expect(c.clientCert).toEqual(Buffer.from(CERT));
    expect(c.clientKey).toEqual(Buffer.from(KEY));
  });

  it('accepts insecure-skip-tls-verify, a bare host:port, an http server and a path prefix', async () => {
    const insecure = await loadKubeconfig(write('a', kubeconfig({ server: '10.0.0.1:6443', 'insecure-skip-tls-verify': true }, { token: 't' })));
    expect(insecure.server).toBe('https://10.0.0.1:6443');
    expect(insecure.insecure).toBe(true);
    expect(insecure.ca).toBeUndefined();
    const proxied = await loadKubeconfig(write('b', kubeconfig({ server: 'http://rancher.example/k8s/clusters/c-1/' }, { token: 't' })));
    expect(proxied.server).toBe('http://rancher.example/k8s/clusters/c-1');
    const v6 = await loadKubeconfig(write('c', kubeconfig({ server: 'https://[fd00::1]:443' }, { token: 't' })));
    expect(v6.server).toBe('https://[fd00::1]:443');
  });

  it('allows a context without a user (anonymous) and says so', async () => {
    const c = await loadKubeconfig(write('k', kubeconfig({ server: 'https://h:1' }, undefined)));
    expect(c.token).toBeUndefined();
    expect(c.clientCert).toBeUndefined();
    expect(c.credential).toBe('no credentials (context has no user)');
    const empty = await loadKubeconfig(write('k2', kubeconfig({ server: 'https://h:1' }, { token: '' })));
    expect(empty.credential).toBe('no credentials (context has user "multus" without any)');
  });

  describe('errors name the file and the field', () => {
    const ok = { server: 'https://h:6443' };

    it('unreadable file', async () => {
      const missing = join(dir, 'missing.kubeconfig');
      const e = await rejected(loadKubeconfig(missing));
      expect(e.code).toBe(ErrorCode.IoFailure);
      expect(e.message).toMatch(new RegExp(`^kubeconfig ${missing}: cannot read the file: ENOENT`));
    });

    it('neither JSON nor YAML, or not a mapping', async () => {
      const e = await failure('clusters: [unclosed\n  - x: {');
      expect(e.code).toBe(ErrorCode.DecodingFailure);
      expect(e.message).toMatch(/^kubeconfig .*\/kubeconfig: is neither JSON nor YAML: .*at line \d+, column \d+/);
      const deep = await failure(`a: ${'['.repeat(50_000)}`);
      expect(deep.code).toBe(ErrorCode.DecodingFailure);
      expect(deep.message).toMatch(/is nested too deeply \(as JSON: .*line 1, column \d+/);
      expect((await failure('[1, 2]')).message).toMatch(/: must be a mapping with clusters, users, contexts and current-context$/);
      expect((await failure('')).message).toMatch(/: must be a mapping/);
    });

    it('current-context missing or unknown', async () => {
      const path = join(dir, 'kubeconfig');
      expect((await failure(kubeconfig(ok, { token: 't' }, { 'current-context': '' }))).message).toBe(
        `kubeconfig ${path}: current-context is not set; set it to the name of one of its contexts`,
      );
      expect((await failure(kubeconfig(ok, { token: 't' }, { 'current-context': 'x' }))).message).toBe(
        `kubeconfig ${path}: current-context "x" not found in contexts`,
      );
      expect((await failure(kubeconfig(ok, { token: 't' }, { 'current-context': 7 }))).message).toBe(
        `kubeconfig ${path}: current-context must be a string, got 7`,
      );
    });

    it('context pointing nowhere', async () => {
      const base = kubeconfig(ok, { token: 't' });
      expect((await failure({ ...base, contexts: [{ name: 'multus-context', context: {} }] })).message).toMatch(/: context "multus-context" has no cluster$/);
      expect((await failure({ ...base, contexts: [{ name: 'multus-context' }] })).message).toMatch(/: contexts entry "multus-context" has no context mapping$/);
      expect((await failure({ ...base, contexts: [{ name: 'multus-context', context: { cluster: 'nope', user: 'multus' } }] })).message).toMatch(
        /: cluster "nope" of context "multus-context" not found in clusters$/,
      );
      expect((await failure({ ...base, contexts: [{ name: 'multus-context', context: { cluster: 'local', user: 'nobody' } }] })).message).toMatch(
        /: user "nobody" of context "multus-context" not found in users$/,
      );
      expect((await failure({ ...base, clusters: { local: ok } })).message).toMatch(/: clusters must be a list of \{name, cluster\} entries$/);
    });

    it('server missing, malformed or not http(s)', async () => {
      expect((await failure(kubeconfig({}, { token: 't' }))).message).toMatch(/: cluster "local": server is not set; it must be the API server URL/);
      expect((await failure(kubeconfig({ server: 42 }, { token: 't' }))).message).toMatch(/: cluster "local": server must be a string, got 42$/);
      expect((await failure(kubeconfig({ server: 'https://' }, { token: 't' }))).message).toMatch(/: cluster "local": server "https:\/\/" is not a URL/);
      expect((await failure(kubeconfig({ server: 'ftp://h:21' }, { token: 't' }))).message).toMatch(/server "ftp:\/\/h:21" must be an https:\/\/ \(or http:\/\/\) URL$/);
      expect((await failure(kubeconfig({ server: 'https://u:p@h:1' }, { token: 't' }))).message).toMatch(/must not carry credentials, a query or a fragment$/);
      expect((await failure(kubeconfig({ ...ok, 'proxy-url': 'http://proxy:3128' }, { token: 't' }))).message).toMatch(/: proxy-url is not supported/);
    });

    it('TLS fields', async () => {
      expect((await failure(kubeconfig({ ...ok, 'insecure-skip-tls-verify': 'yes' }, { token: 't' }))).message).toMatch(
        /: cluster "local": insecure-skip-tls-verify must be true or false, got "yes"$/,
      );
      expect((await failure(kubeconfig({ ...ok, 'certificate-authority-data': 'not base64!' }, { token: 't' }))).message).toMatch(
        /: cluster "local": certificate-authority-data is not valid base64/,
      );
      expect((await failure(kubeconfig({ ...ok, 'certificate-authority-data': b64('hello') }, { token: 't' }))).message).toMatch(
        /: cluster "local": certificate-authority does not hold a PEM CERTIFICATE/,
      );
      expect((await failure(kubeconfig({ ...ok, 'certificate-authority-data': b64(CA), 'insecure-skip-tls-verify': true }, { token: 't' }))).message).toMatch(
        /: insecure-skip-tls-verify cannot be combined with certificate-authority/,
      );
      const e = await failure(kubeconfig({ ...ok, 'certificate-authority': 'ca/missing.crt' }, { token: 't' }));
      expect(e.code).toBe(ErrorCode.IoFailure);
      expect(e.message).toContain(`: cluster "local": cannot read certificate-authority ${join(dir, 'ca/missing.crt')}: ENOENT`);
    });

    it('credentials', async () => {
      const e = await failure(kubeconfig(ok, { tokenFile: 'nope' }));
      expect(e.code).toBe(ErrorCode.IoFailure);
      expect(e.message).toMatch(new RegExp(`: user "multus": cannot read the token file ${join(dir, 'nope')}: ENOENT`));
      writeFileSync(join(dir, 'empty'), '\n');
      expect((await failure(kubeconfig(ok, { tokenFile: 'empty' }))).message).toMatch(/: user "multus": the token file .*\/empty is empty$/);
      expect((await failure(kubeconfig(ok, { 'client-certificate-data': b64(CERT) }))).message).toMatch(
        /: user "multus": client-certificate is set without client-key; set both or neither$/,
      );
      expect((await failure(kubeconfig(ok, { 'client-key-data': b64(KEY) }))).message).toMatch(/client-key is set without client-certificate/);
      expect((await failure(kubeconfig(ok, { 'client-certificate-data': b64(CERT), 'client-key-data': b64(CERT) }))).message).toMatch(
        /client-key does not hold a PEM PRIVATE KEY/,
      );
      expect((await failure(kubeconfig(ok, { token: 5 }))).message).toMatch(/: user "multus": token must be a string, got 5$/);
    });

    it('credential mechanisms this client does not implement', async () => {
      expect((await failure(kubeconfig(ok, { exec: { command: 'aws' } }))).message).toMatch(
        /: user "multus": exec: exec credential plugins are not supported; use token, tokenFile or client-certificate\/client-key$/,
      );
      expect((await failure(kubeconfig(ok, { 'auth-provider': { name: 'gcp' } }))).message).toMatch(/auth-provider: auth-provider plugins are not supported/);
      expect((await failure(kubeconfig(ok, { username: 'a', password: 'b' }))).message).toMatch(/username: basic authentication is not supported/);
      expect((await failure(kubeconfig(ok, { token: 't', as: 'admin' }))).message).toMatch(/as: impersonation is not supported/);
    });
  });
});

describe('inClusterConfig', () => {
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  it('uses the service environment, the service-account token and CA', () => {
    writeFileSync(join(dir, 'token'), 'sa-token\n');
    writeFileSync(join(dir, 'ca.crt'), CA);
    expect(inClusterConfig(env, dir)).toEqual({
      source: 'in-cluster configuration',
      server: 'https://10.96.0.1:443',
      ca: Buffer.from(CA),
      insecure: false,
      token: 'sa-token',
      credential: `the service-account token ${join(dir, 'token')}`,
      credentialFix: expect.stringContaining('the kubelet rotates that token'),
    });
  });

  it('brackets an IPv6 service host and falls back to the system CAs without ca.crt', () => {
    writeFileSync(join(dir, 'token'), 'sa-token');
    const c = inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '6443' }, dir);
    expect(c.server).toBe('https://[fd00:10:96::1]:6443');
    expect(c.ca).toBeUndefined();
  });

  it('errors', () => {
    expect(caught(() => inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, dir)).message).toBe(
      'in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set; set "kubeconfig" in the multus configuration instead',
    );
    expect(caught(() => inClusterConfig({ ...env, KUBERNETES_SERVICE_PORT: 'https' }, dir)).message).toBe(
      'in-cluster configuration: KUBERNETES_SERVICE_PORT must be a port number, got "https"',
    );
    const noToken = caught(() => inClusterConfig(env, dir));
    expect(noToken.code).toBe(ErrorCode.IoFailure);
    expect(noToken.message).toMatch(new RegExp(`^in-cluster configuration: cannot read the token file ${join(dir, 'token')}: ENOENT`));
    writeFileSync(join(dir, 'token'), 't');
    writeFileSync(join(dir, 'ca.crt'), 'garbage');
    expect(caught(() => inClusterConfig(env, dir)).message).toMatch(/^in-cluster configuration: service-account CA .*ca.crt does not hold a PEM CERTIFICATE/);
  });
});
