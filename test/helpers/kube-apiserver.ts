/**
 * A real Kubernetes control plane for the tests: etcd and kube-apiserver on loopback, with a scratch data
 * directory, TLS certificates and a service-account signing key made at test time by the openssl CLI,
 * authorization by RBAC and an audit log that records every request. No scheduler, no controller manager, no
 * kubelet: the tests create the objects those would, and multus-ts is the only client besides the test's admin.
 *
 *   const kube = await startKubeApiServer();
 *   await kube.apply(readFileSync('conf/crd.yaml', 'utf8'));
 *   const url = await kube.exposeIn('/var/run/netns/node');    // where a plugin running on that node reaches it
 *   ...
 *   await kube.close();
 *
 * kube-apiserver is the pinned peer that scripts/build-peers.sh builds (test/helpers/peers.ts says where); etcd is
 * Debian's etcd-server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { nativeHelper } from '../../src/netlink/native';
import { unusedPort } from './api-server';
import { openssl, TestCa } from './certs';
import { peer } from './peers';

type Obj = Record<string, any>;

const apiserver = peer('kube-apiserver', ['kube-apiserver']);
export const KUBERNETES_VERSION = apiserver.version;
const KUBE_APISERVER = apiserver.path('kube-apiserver');
// Debian's etcd-server (3.4): kube-apiserver 1.36 works with it, and it saves CI building etcd.
const ETCD = '/usr/bin/etcd';

/** Why the real control plane cannot run here, or undefined when it can. On CI a missing binary is an error. */
function probe(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (apiserver.missing) return apiserver.missing;
  if (!existsSync(ETCD)) return `${ETCD} is missing (apt-get install etcd-server)`;
  if (spawnSync('openssl', ['version']).status !== 0) return 'openssl is missing';
  return undefined;
}

const missing = probe();
if (missing && process.env.CI) throw new Error(`real kube-apiserver tests cannot run on CI: ${missing}`);
export const canRunKubeApiServer = missing === undefined;
export const whyNoKubeApiServer = missing ?? '';

/** The identity of the test's own requests: system:masters may do anything, as a cluster admin would. */
const ADMIN_USER = 'multus-ts-test-admin';

// Metadata for every request: who, which verb on which object, and the answer's code; enough to count requests.
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

/** CA, serving certificate for 127.0.0.1, the admin's client certificate and the service-account key pair. */
function makeCertificates(dir: string): void {
  const ca = new TestCa(dir, '/CN=multus-ts test cluster CA');
  ca.sign('server', '/CN=kube-apiserver', 'server');
  ca.sign('admin', `/O=system:masters/CN=${ADMIN_USER}`, 'client');
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key']);
  openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

export interface ApiAnswer {
  status: number;
  body: Obj;
}

/** One line of the audit log (the fields used here). */
export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  userAgent?: string;
}

export interface TokenOptions {
  /** Tie the token to this Secret (in the service account's namespace): deleting the Secret revokes the token. */
  boundSecret?: string;
  expirationSeconds?: number;
}

interface Started {
  child: ChildProcess;
  name: string;
  log: string;
  exited: Promise<void>;
}

/** Starts a program with its output in a log file; it is killed with the cluster. */
function startProcess(name: string, bin: string, args: string[], log: string): Started {
  const out = openSync(log, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', out, out] });
  closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, name, log, exited };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KubeCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'multus-kube-'));
  /** https://127.0.0.1:<port> on the host's loopback. */
  url = '';
  readonly caPem: string;
  readonly auditLog = join(this.dir, 'audit.log');
  private readonly processes: Started[] = [];
  private readonly relays: net.Server[] = [];
  private readonly relayed = new Set<net.Socket>();
  private agent: https.Agent;
  private port = 0;

  constructor() {
    makeCertificates(this.dir);
    this.caPem = readFileSync(join(this.dir, 'ca.crt'), 'utf8');
    this.agent = new https.Agent({
      keepAlive: true,
      ca: this.caPem,
      cert: readFileSync(join(this.dir, 'admin.crt')),
      key: readFileSync(join(this.dir, 'admin.key')),
    });
  }

  async start(): Promise<void> {
    const [clientPort, peerPort, securePort] = [await unusedPort(), await unusedPort(), await unusedPort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    this.processes.push(startProcess('etcd', ETCD, [
      '--name', 'test', '--data-dir', join(this.dir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `test=${peerUrl}`,
      // A throw-away store: durability costs fsyncs that a shared CI disk makes slow.
      '--unsafe-no-fsync',
      '--log-level', 'warn',
    ], join(this.dir, 'etcd.log')));
    writeFileSync(join(this.dir, 'audit-policy.yaml'), AUDIT_POLICY);
    const f = (name: string) => join(this.dir, name);
    this.processes.push(startProcess('kube-apiserver', KUBE_APISERVER, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${securePort}`,
      `--tls-cert-file=${f('server.crt')}`, `--tls-private-key-file=${f('server.key')}`, `--client-ca-file=${f('ca.crt')}`,
      `--service-account-key-file=${f('sa.pub')}`, `--service-account-signing-key-file=${f('sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      // No controller manager creates each namespace's "default" service account, which this plugin would demand
      // of every pod.
      '--disable-admission-plugins=ServiceAccount',
      `--audit-policy-file=${f('audit-policy.yaml')}`, `--audit-log-path=${this.auditLog}`, '--audit-log-mode=blocking',
      `--cert-dir=${f('certs')}`,
      '--profiling=false',
    ], join(this.dir, 'kube-apiserver.log')));
    this.port = securePort;
    this.url = `https://127.0.0.1:${securePort}`;
    await this.waitReady();
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + 150_000;
    let last = '';
    while (Date.now() < deadline) {
      for (const p of this.processes) {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before the API server was ready:\n${tail(p.log)}`);
        }
      }
      try {
        const r = await this.request('GET', '/readyz');
        if (r.status === 200) return;
        last = `readyz answered ${r.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`kube-apiserver not ready after 150 s (${last}):\n${tail(join(this.dir, 'kube-apiserver.log'))}`);
  }

  /** A request as the cluster admin (client certificate in system:masters). */
  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiAnswer> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = https.request(`${this.url}${path}`, {
        method, agent: this.agent,
        headers: { Accept: 'application/json', ...(data && { 'Content-Type': contentType, 'Content-Length': data.length }) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Obj;
          try {
            parsed = JSON.parse(text) as Obj;
          } catch {
            parsed = { text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** The same, failing unless the answer is a 2xx. */
  async must(method: string, path: string, body?: unknown, contentType?: string): Promise<Obj> {
    const r = await this.request(method, path, body, contentType);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} answered ${r.status}: ${r.body.message ?? JSON.stringify(r.body)}`);
    return r.body;
  }

  /**
   * Creates every object of a manifest (YAML, several documents) as `kubectl create` would, in `namespace` for
   * namespaced objects without one. A CustomResourceDefinition is waited for until it is served.
   */
  async apply(manifest: string | Obj[], namespace?: string): Promise<Obj[]> {
    const docs = typeof manifest === 'string'
      ? parseAllDocuments(manifest).map((d) => d.toJSON() as Obj).filter((d) => d !== null)
      : manifest;
    const created: Obj[] = [];
    for (const doc of docs) {
      const path = await this.collectionPath(doc, namespace);
      created.push(await this.must('POST', path, doc));
      if (doc.kind === 'CustomResourceDefinition') await this.waitEstablished(doc.metadata.name as string);
    }
    return created;
  }

  /** The object's own URL (for GET, PATCH, DELETE). */
  async objectPath(doc: Obj, namespace?: string): Promise<string> {
    return `${await this.collectionPath(doc, namespace)}/${encodeURIComponent(doc.metadata.name as string)}`;
  }

  private async collectionPath(doc: Obj, namespace?: string): Promise<string> {
    const apiVersion = doc.apiVersion as string;
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.must('GET', base);
    const resource = (list.resources as Obj[]).find((r) => r.kind === doc.kind && !(r.name as string).includes('/'));
    if (!resource) throw new Error(`the server does not serve ${doc.kind} in ${apiVersion}`);
    const ns = doc.metadata?.namespace ?? namespace;
    if (resource.namespaced && !ns) throw new Error(`${doc.kind} ${doc.metadata?.name} needs a namespace`);
    return resource.namespaced ? `${base}/namespaces/${encodeURIComponent(ns as string)}/${resource.name}` : `${base}/${resource.name}`;
  }

  private async waitEstablished(name: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const crd = await this.must('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conditions = (crd.status?.conditions ?? []) as Obj[];
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) {
        // Established means the storage is ready; discovery may take a moment longer.
        const group = crd.spec.group as string;
        const version = (crd.spec.versions as Obj[])[0]!.name as string;
        const served = await this.request('GET', `/apis/${group}/${version}`);
        if (served.status === 200 && (served.body.resources as Obj[] | undefined)?.some((r) => r.name === crd.spec.names.plural)) return;
      }
      await sleep(100);
    }
    throw new Error(`CustomResourceDefinition ${name} was not established`);
  }

  async createNamespace(name: string): Promise<void> {
    await this.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  /** A pod as the scheduler would leave it: bound to a node, nothing running. */
  async createPod(namespace: string, name: string, annotations: Record<string, string> = {}, nodeName = 'node-1'): Promise<Obj> {
    return this.must('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace, annotations },
      spec: { nodeName, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }] },
    });
  }

  async getPod(namespace: string, name: string): Promise<Obj> {
    return this.must('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    // No kubelet confirms the deletion, so the grace period must be zero for the object to go at once.
    await this.must('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}?gracePeriodSeconds=0`);
  }

  /**
   * The events about a pod, selected as `kubectl describe pod` selects them, in the order of their messages (events
   * sent at once carry the same whole-second time, so time cannot order them).
   */
  async podEvents(namespace: string, name: string, uid: string): Promise<Obj[]> {
    const selector = `involvedObject.name=${name},involvedObject.namespace=${namespace},involvedObject.kind=Pod,involvedObject.uid=${uid}`;
    const list = await this.must('GET', `/api/v1/namespaces/${namespace}/events?fieldSelector=${encodeURIComponent(selector)}`);
    return (list.items as Obj[]).sort((a, b) => String(a.message).localeCompare(String(b.message)));
  }

  /** A bound service-account token from the TokenRequest API, as the kubelet would project it. */
  async token(namespace: string, serviceAccount: string, o: TokenOptions = {}): Promise<string> {
    const spec: Obj = { expirationSeconds: o.expirationSeconds ?? 3600 };
    if (o.boundSecret) {
      const secret = await this.must('GET', `/api/v1/namespaces/${namespace}/secrets/${o.boundSecret}`);
      spec.boundObjectRef = { kind: 'Secret', apiVersion: 'v1', name: o.boundSecret, uid: secret.metadata.uid };
    }
    const r = await this.must('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec,
    });
    return r.status.token as string;
  }

  /** Waits until the server no longer accepts `token` (revocation passes through an authentication cache). */
  async waitUntilRejected(token: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const review = await this.must('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token },
      });
      if (!review.status?.authenticated) return;
      await sleep(100);
    }
    throw new Error('the server still accepts the token after 30 s');
  }

  /**
   * Makes the API server reachable from the loopback of a network namespace (a path such as /var/run/netns/x), where
   * a plugin running on a node looks for it: a TCP relay whose listening socket lives in that namespace and whose
   * other end is the server on the host's loopback. TLS passes through, so the server's certificate for 127.0.0.1
   * is valid there too. Returns the URL to put in a kubeconfig.
   */
  async exposeIn(netns: string): Promise<string> {
    const relay = net.createServer((inbound) => {
      const outbound = net.connect(this.port, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        this.relayed.add(s);
        s.on('close', () => this.relayed.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
    this.relays.push(relay);
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      // Without a host, listen() binds before returning, inside the namespace (see api-server.ts).
      nativeHelper().withNetns(netns, () => relay.listen(0, resolve));
    });
    return `https://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
  }

  /** A kubeconfig for a bearer token, pointing at `server` (the host URL by default). */
  writeKubeconfig(dir: string, token: string, server = this.url, name = 'kubeconfig'): string {
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'multus', user: { token } }],
      contexts: [{ name: 'multus-context', context: { cluster: 'test', user: 'multus' } }],
      'current-context': 'multus-context',
    };
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
    return path;
  }

  /** Every completed request the audit log holds so far, optionally only those of one user. */
  audit(username?: string): AuditEvent[] {
    if (!existsSync(this.auditLog)) return [];
    return readFileSync(this.auditLog, 'utf8').split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.stage === 'ResponseComplete' && (username === undefined || e.user.username === username));
  }

  async close(): Promise<void> {
    for (const s of this.relayed) s.destroy();
    for (const r of this.relays) r.close();
    this.agent.destroy();
    for (const p of [...this.processes].reverse()) {
      p.child.kill('SIGTERM');
      const killed = await Promise.race([p.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts etcd and kube-apiserver and waits until the server is ready; close() stops both and removes everything. */
export async function startKubeApiServer(): Promise<KubeCluster> {
  const cluster = new KubeCluster();
  try {
    await cluster.start();
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

/** The username the API server gives a service account's tokens (RBAC subjects and the audit log use it). */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}
