/**
 * A stand-in for the Kubernetes API server: HTTPS with a CA and certificates made at test time by the openssl CLI,
 * bearer-token (or client-certificate) authentication, in-memory pods and NetworkAttachmentDefinitions with uid and
 * resourceVersion, merge patches, errors as real `Status` objects, a request log, and faults injected per path.
 *
 *   const server = await startApiServer();
 *   server.addPod({ namespace: 'ns', name: 'p' });
 *   const kubeconfig = server.writeKubeconfig(dir);
 *   ...
 *   await server.close();
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { nativeHelper } from '../../src/netlink/native';
import { TestCa } from './certs';
import { decodeMessage } from '../../src/grpc/wire';

export const NAD_GROUP = 'k8s.cni.cncf.io';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
/** What client-go sends when configured for protobuf, as Go Multus's is (for PUTs of pods/status). */
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';
/** The identity the server sees for a token or for its client certificate, used in 403 messages. */
export const SERVICE_ACCOUNT_USER = 'system:serviceaccount:kube-system:multus';
const CLIENT_CN = SERVICE_ACCOUNT_USER;

type Obj = Record<string, any>;

export interface LoggedRequest {
  method: string;
  /** Path without the server's prefix and without the query. */
  path: string;
  query: string;
  contentType: string;
  /** How the request authenticated itself. */
  auth: 'token' | 'client-certificate' | 'none';
  /** Status sent, or 0 when the connection was dropped or is still open. */
  status: number;
  time: number;
}

export interface RequestFilter {
  method?: string;
  /** Exact path, or a pattern tested against the path. */
  path?: string | RegExp;
}

export interface Fault extends RequestFilter {
  /** Answer with this status and a Kubernetes Status body instead of serving the request. */
  status?: number;
  /** Retry-After header, in seconds. */
  retryAfter?: number;
  /** Status message; a realistic one is made up from the path otherwise. */
  message?: string;
  /** Wait this long before answering (with `status`, or normally). */
  delayMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
  /** Only for this many matching requests; afterwards they are served normally. */
  times?: number;
}

export interface FaultHandle {
  /** Matching requests this fault has acted on. */
  readonly hits: number;
  remove(): void;
}

export interface ServerOptions {
  /** Plain HTTP instead of HTTPS. */
  tls?: boolean;
  /** Serve under this path prefix, as an authenticating proxy does (e.g. /k8s/clusters/c-1). */
  pathPrefix?: string;
  /** Listen on the loopback of this network namespace (a path), where a node's plugin can reach it. */
  netns?: string;
}

export interface KubeconfigOptions {
  /** File name in dir; `kubeconfig` by default. */
  name?: string;
  /** Bearer token to write; the server's by default, null for none. */
  token?: string | null;
  /** Write the server's client certificate and key as data fields. */
  clientCertificate?: boolean;
}

interface Certificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

interface Route {
  resource: 'pods' | 'network-attachment-definitions' | 'events';
  namespace: string;
  name?: string;
  subresource?: string;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** A fresh CA, a server certificate for 127.0.0.1/localhost and a client certificate, in a new temp dir. */
function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'multus-apiserver-'));
  const ca = new TestCa(dir);
  ca.sign('server', '/CN=localhost', 'server');
  ca.sign('client', `/CN=${CLIENT_CN}`, 'client');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { dir, ca: read('ca.crt'), serverCert: read('server.crt'), serverKey: read('server.key'), clientCert: read('client.crt'), clientKey: read('client.key') };
}

/** A port nothing listens on (for "unreachable"): bound once by us, then released. */
export async function unusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export class ApiServer {
  readonly token = randomBytes(16).toString('hex');
  readonly requests: LoggedRequest[] = [];
  url = '';
  /** TCP connections accepted so far (a keep-alive client makes one for many requests). */
  connections = 0;
  /** False answers NAD paths the way a cluster without the NetworkAttachmentDefinition CRD does. */
  nadCrdInstalled = true;
  private readonly pods = new Map<string, Obj>();
  private readonly nads = new Map<string, Obj>();
  private readonly createdEvents: Obj[] = [];
  private faults: Array<Fault & { hits: number }> = [];
  private revision = 1;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: http.Server;
  private readonly certs: Certificates | undefined;
  private readonly prefix: string;
  private readonly netns: string | undefined;

  constructor(options: ServerOptions = {}) {
    this.prefix = (options.pathPrefix ?? '').replace(/\/+$/, '');
    this.netns = options.netns;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((e: unknown) => this.fail(res, 500, `test server bug: ${(e as Error).stack}`));
    };
    if (options.tls === false) {
      this.server = http.createServer(handler);
    } else {
      this.certs = makeCertificates();
      this.server = https.createServer(
        { key: this.certs.serverKey, cert: this.certs.serverCert, ca: this.certs.ca, requestCert: true, rejectUnauthorized: false },
        handler,
      );
    }
    this.server.on('connection', (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      if (this.netns) {
        // Without a host, listen() creates and binds its socket before returning (a host costs an asynchronous
        // lookup first), so the socket belongs to the namespace: every address there is one of the test's own.
        nativeHelper().withNetns(this.netns, () => this.server.listen(0, resolve));
      } else {
        this.server.listen(0, '127.0.0.1', resolve);
      }
    });
    const { port } = this.server.address() as AddressInfo;
    this.url = `${this.certs ? 'https' : 'http'}://127.0.0.1:${port}${this.prefix}`;
  }

  /** PEM of the CA that signed the server's and the client's certificates. */
  get caPem(): string {
    return this.certs?.ca ?? '';
  }

  /** A client certificate the server accepts instead of a token. */
  get clientCertificate(): { cert: string; key: string } {
    if (!this.certs) throw new Error('a plain-HTTP test server has no certificates');
    return { cert: this.certs.clientCert, key: this.certs.clientKey };
  }

  addPod(p: { namespace: string; name: string; uid?: string; annotations?: Record<string, string> }): Obj {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        uid: p.uid ?? randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: new Date().toISOString(),
        ...(p.annotations && { annotations: { ...p.annotations } }),
      },
      spec: { containers: [{ name: 'c', image: 'registry.example/pause' }], nodeName: 'node-1' },
      status: { phase: 'Pending' },
    };
    this.pods.set(`${p.namespace}/${p.name}`, pod);
    return clone(pod);
  }

  addNad(n: { namespace: string; name: string; config?: string; annotations?: Record<string, string> }): Obj {
    const nad = {
      apiVersion: `${NAD_GROUP}/v1`,
      kind: 'NetworkAttachmentDefinition',
      metadata: {
        name: n.name,
        namespace: n.namespace,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        ...(n.annotations && { annotations: { ...n.annotations } }),
      },
      ...(n.config !== undefined && { spec: { config: n.config } }),
    };
    this.nads.set(`${n.namespace}/${n.name}`, nad);
    return clone(nad);
  }

  /** The stored pod, as a copy. */
  /** The core/v1 Events created in `namespace`, in the order they arrived. */
  events(namespace: string): Obj[] {
    return this.createdEvents.filter((e) => (e.metadata as Obj | undefined)?.namespace === namespace).map(clone);
  }

  pod(namespace: string, name: string): Obj | undefined {
    const p = this.pods.get(`${namespace}/${name}`);
    return p && clone(p);
  }

  deletePod(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }

  inject(fault: Fault): FaultHandle {
    const entry = { ...fault, hits: 0 };
    this.faults.push(entry);
    return {
      get hits() {
        return entry.hits;
      },
      remove: () => {
        this.faults = this.faults.filter((f) => f !== entry);
      },
    };
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Logged requests matching the filter (all of them without one). */
  logged(filter: RequestFilter = {}): LoggedRequest[] {
    return this.requests.filter((r) => matches(filter, r.method, r.path));
  }

  count(filter: RequestFilter = {}): number {
    return this.logged(filter).length;
  }

  resetLog(): void {
    this.requests.length = 0;
  }

  /** Writes a JSON kubeconfig for this server (CA and credentials as data fields) and returns its path. */
  writeKubeconfig(dir: string, options: KubeconfigOptions = {}): string {
    const user: Obj = {};
    const token = options.token === undefined ? this.token : options.token;
    if (token !== null) user.token = token;
    if (options.clientCertificate) {
      user['client-certificate-data'] = Buffer.from(this.clientCertificate.cert).toString('base64');
      user['client-key-data'] = Buffer.from(this.clientCertificate.key).toString('base64');
    }
    const cluster: Obj = { server: this.url };
    if (this.certs) cluster['certificate-authority-data'] = Buffer.from(this.certs.ca).toString('base64');
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster }],
      users: [{ name: 'multus', user }],
      contexts: [{ name: 'multus-context', context: { cluster: 'test', user: 'multus' } }],
      'current-context': 'multus-context',
    };
    const path = join(dir, options.name ?? 'kubeconfig');
    writeFileSync(path, JSON.stringify(kubeconfig, null, 2), { mode: 0o600 });
    return path;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
    if (this.certs) rmSync(this.certs.dir, { recursive: true, force: true });
  }

  private nextVersion(): string {
    return String(++this.revision);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const socket = req.socket as TLSSocket;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const certified = this.certs !== undefined && socket.authorized && socket.getPeerCertificate().subject?.CN === CLIENT_CN;
    const inPrefix = url.pathname === this.prefix || url.pathname.startsWith(`${this.prefix}/`);
    const path = inPrefix ? url.pathname.slice(this.prefix.length) || '/' : url.pathname;
    const entry: LoggedRequest = {
      method,
      path,
      query: url.search,
      contentType: req.headers['content-type'] ?? '',
      auth: token !== undefined ? 'token' : certified ? 'client-certificate' : 'none',
      status: 0,
      time: Date.now(),
    };
    this.requests.push(entry);
    res.on('finish', () => (entry.status = res.statusCode));
    if (!inPrefix) {
      // What a proxy in front of the API server answers for paths outside it: not a Status.
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    const route = parseRoute(path, this.nadCrdInstalled);

    const fault = this.faults.find((f) => matches(f, method, path) && (f.times === undefined || f.hits < f.times));
    if (fault) {
      fault.hits++;
      if (fault.delayMs) await this.sleep(fault.delayMs);
      if (res.destroyed) return;
      if (fault.reset) {
        req.socket.destroy();
        return;
      }
      if (fault.status) {
        const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
        this.fail(res, fault.status, fault.message ?? defaultMessage(fault.status, method, route), route, headers);
        return;
      }
    }

    if ((token === undefined || token !== this.token) && !certified) {
      this.fail(res, 401, 'Unauthorized');
      return;
    }
    if (!route) {
      this.fail(res, 404, 'the server could not find the requested resource');
      return;
    }
    if (route.resource === 'network-attachment-definitions') this.serveNad(res, method, route);
    else if (route.resource === 'events') this.serveEvents(res, method, route, body);
    else this.servePod(res, method, route, req.headers['content-type'] ?? '', body);
  }

  /** Event creation as the real server checks it: the namespace of the URL, a name, and nothing else stored twice. */
  private serveEvents(res: http.ServerResponse, method: string, route: Route, body: Buffer): void {
    if (method !== 'POST') return this.fail(res, 405, `${method} is not supported by this test server`, route);
    let event: Obj;
    try {
      event = JSON.parse(body.toString('utf8')) as Obj;
    } catch {
      return this.fail(res, 400, 'the body is not JSON', route);
    }
    const metadata = (event.metadata ?? {}) as Obj;
    if (metadata.namespace !== route.namespace || typeof metadata.name !== 'string' || metadata.name === '') {
      return this.fail(res, 422, 'Event is invalid: metadata.namespace must match the URL and metadata.name is required', route);
    }
    if (this.createdEvents.some((e) => (e.metadata as Obj).namespace === route.namespace && (e.metadata as Obj).name === metadata.name)) {
      return this.fail(res, 409, `events "${metadata.name}" already exists`, route);
    }
    const stored = { ...event, metadata: { ...metadata, uid: randomUUID(), resourceVersion: this.nextVersion() } };
    this.createdEvents.push(stored);
    send(res, 201, stored);
  }

  private serveNad(res: http.ServerResponse, method: string, route: Route): void {
    if (method !== 'GET') return this.fail(res, 405, `${method} is not supported by this test server`, route);
    if (route.name === undefined) {
      const items = [...this.nads.values()].filter((n) => n.metadata.namespace === route.namespace);
      return send(res, 200, {
        apiVersion: `${NAD_GROUP}/v1`,
        kind: 'NetworkAttachmentDefinitionList',
        metadata: { resourceVersion: String(this.revision) },
        items,
      });
    }
    const nad = this.nads.get(`${route.namespace}/${route.name}`);
    if (!nad) return this.notFound(res, route);
    send(res, 200, nad);
  }

  private servePod(res: http.ServerResponse, method: string, route: Route, contentType: string, body: Buffer): void {
    if (route.name === undefined || (route.subresource !== undefined && route.subresource !== 'status')) {
      return this.fail(res, 404, 'the server could not find the requested resource');
    }
    const key = `${route.namespace}/${route.name}`;
    const current = this.pods.get(key);
    if (method === 'GET') return current ? send(res, 200, current) : this.notFound(res, route);
    if (method !== 'PATCH' && method !== 'PUT') return this.fail(res, 405, `${method} is not supported by this test server`, route);

    const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
    const accepted = method === 'PATCH' ? [MERGE_PATCH, STRATEGIC_MERGE_PATCH] : ['application/json', PROTOBUF];
    if (!accepted.includes(mediaType)) {
      return this.fail(res, 415, `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`, route);
    }
    let input: unknown;
    try {
      input = mediaType === PROTOBUF ? podFromProtobuf(body, current) : JSON.parse(body.toString('utf8'));
    } catch (e) {
      return this.fail(res, 400, `error decoding the request body: ${(e as Error).message}`, route);
    }
    if (!isObject(input)) return this.fail(res, 400, 'the request body must be a JSON object', route);
    if (!current) return this.notFound(res, route);

    const proposed = method === 'PATCH' ? mergePatch(clone(current), input) : clone(input);
    const meta = isObject(proposed.metadata) ? proposed.metadata : {};
    if (method === 'PUT') {
      if (meta.uid !== undefined && meta.uid !== current.metadata.uid) {
        return this.fail(res, 409, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${current.metadata.uid}`, route);
      }
      if (meta.resourceVersion !== current.metadata.resourceVersion) return this.conflict(res, route);
    } else {
      if (meta.uid !== current.metadata.uid) {
        return this.fail(res, 422, `Pod "${route.name}" is invalid: metadata.uid: Invalid value: ${JSON.stringify(meta.uid)}: field is immutable`, route);
      }
      // A resourceVersion in a patch is an optimistic lock.
      if (isObject(input.metadata) && input.metadata.resourceVersion !== undefined && input.metadata.resourceVersion !== current.metadata.resourceVersion) {
        return this.conflict(res, route);
      }
    }
    if (meta.name !== route.name || meta.namespace !== route.namespace) {
      return this.fail(res, 422, `Pod "${route.name}" is invalid: metadata.name: the name of the object does not match the name on the URL`, route);
    }
    const annotations = meta.annotations ?? {};
    if (!isObject(annotations) || Object.values(annotations).some((v) => typeof v !== 'string')) {
      return this.fail(res, 400, 'metadata.annotations must be a map of strings', route);
    }
    // The status subresource takes metadata and status from the request and keeps the spec; the main resource keeps the status.
    const stored = {
      ...current,
      metadata: { ...current.metadata, labels: meta.labels, annotations, resourceVersion: this.nextVersion() },
      ...(route.subresource === 'status' ? { status: proposed.status } : { spec: proposed.spec }),
    };
    if (stored.metadata.labels === undefined) delete stored.metadata.labels;
    if (Object.keys(annotations).length === 0) delete stored.metadata.annotations;
    this.pods.set(key, stored);
    send(res, 200, stored);
  }

  private notFound(res: http.ServerResponse, route: Route): void {
    this.fail(res, 404, `${route.resource}${route.resource === 'pods' ? '' : `.${NAD_GROUP}`} "${route.name}" not found`, route);
  }

  private conflict(res: http.ServerResponse, route: Route): void {
    this.fail(res, 409, `Operation cannot be fulfilled on pods "${route.name}": the object has been modified; please apply your changes to the latest version and try again`, route);
  }

  private fail(res: http.ServerResponse, code: number, message: string, route?: Route, headers: Record<string, string> = {}): void {
    if (res.headersSent || res.destroyed) return;
    const details: Obj = {};
    if (route?.name !== undefined && code !== 401 && code !== 415 && code !== 400) {
      details.name = route.name;
      if (route.resource !== 'pods') details.group = NAD_GROUP;
      details.kind = route.resource;
    }
    if (headers['Retry-After'] !== undefined) details.retryAfterSeconds = Number(headers['Retry-After']);
    send(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? '', details, code }, headers);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

export async function startApiServer(options: ServerOptions = {}): Promise<ApiServer> {
  const server = new ApiServer(options);
  await server.listen();
  return server;
}

function parseRoute(path: string, nadCrdInstalled: boolean): Route | undefined {
  const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
  if (pod) return route('pods', pod);
  const events = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path);
  if (events) return route('events', events);
  if (!nadCrdInstalled) return undefined;
  const nad = new RegExp(`^/apis/${NAD_GROUP}/v1/namespaces/([^/]+)/network-attachment-definitions(?:/([^/]+))?$`).exec(path);
  if (nad) return route('network-attachment-definitions', nad);
  return undefined;
}

function route(resource: Route['resource'], m: RegExpExecArray): Route {
  const [, namespace, name, subresource] = m.map((s) => (s === undefined ? undefined : decodeURIComponent(s)));
  return { resource, namespace: namespace!, ...(name !== undefined && { name }), ...(subresource !== undefined && { subresource }) };
}

/** What the real server says for the status codes tests inject. */
function defaultMessage(code: number, method: string, route: Route | undefined): string {
  const what = route ? `${route.resource}${route.resource === 'pods' ? '' : `.${NAD_GROUP}`} "${route.name ?? ''}"` : 'the resource';
  switch (code) {
    case 401:
      return 'Unauthorized';
    case 403: {
      const verb = { GET: 'get', PATCH: 'patch', PUT: 'update' }[method] ?? method.toLowerCase();
      const resource = `${route?.resource ?? 'unknown'}${route?.subresource ? `/${route.subresource}` : ''}`;
      const group = route?.resource === 'network-attachment-definitions' ? NAD_GROUP : '';
      return `${what} is forbidden: User "${SERVICE_ACCOUNT_USER}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${route?.namespace ?? ''}"`;
    }
    case 404:
      return `${what} not found`;
    case 429:
      return 'Too many requests, please try again later.';
    case 503:
      return 'the server is currently unable to handle the request';
    default:
      return `Internal error occurred: injected failure ${code}`;
  }
}

function matches(filter: RequestFilter, method: string, path: string): boolean {
  if (filter.method !== undefined && filter.method.toUpperCase() !== method) return false;
  if (filter.path === undefined) return true;
  return typeof filter.path === 'string' ? filter.path === path : filter.path.test(path);
}

/** RFC 7386: objects merge recursively, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): any {
  if (!isObject(patch)) return patch;
  const out: Obj = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * A Pod sent as Kubernetes protobuf: the `k8s\0` magic, then a runtime.Unknown whose field 2 is the Pod message
 * (k8s.io/api/core/v1/generated.proto). Only what this server keeps is read: the ObjectMeta fields name (1),
 * namespace (3), uid (5), resourceVersion (6), labels (11) and annotations (12), maps as repeated {1: key, 2: value}.
 * Spec and status stay as stored (`current`): nothing here reads what a client changes in them.
 */
function podFromProtobuf(body: Buffer, current: Obj | undefined): Obj {
  if (body.subarray(0, 4).toString('latin1') !== 'k8s\0') throw new Error('protobuf body without the k8s magic prefix');
  const unknown = decodeMessage(body.subarray(4));
  const kind = unknown.message(1).string(2);
  if (kind !== 'Pod') throw new Error(`protobuf body holds a ${kind || 'nameless kind'}, not a Pod`);
  const meta = decodeMessage(unknown.bytes(2)).message(1);
  const map = (no: number) => {
    const entries = meta.messages(no);
    return entries.length > 0 ? Object.fromEntries(entries.map((e) => [e.string(1), e.string(2)])) : undefined;
  };
  const labels = map(11);
  const annotations = map(12);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: meta.string(1), namespace: meta.string(3), uid: meta.string(5), resourceVersion: meta.string(6),
      ...(labels && { labels }), ...(annotations && { annotations }),
    },
    spec: current?.spec,
    status: current?.status,
  };
}

function send(res: http.ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), ...headers }).end(data);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}
