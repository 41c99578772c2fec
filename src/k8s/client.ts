/**
 * A minimal Kubernetes API client: JSON in and out over one kept-alive HTTP/1.1 connection (./http1.ts), bounded
 * time, retries where a retry can help, and errors that say which server, object and credential were involved.
 *
 * Not @kubernetes/client-node: importing it costs about half a second, and kubelet starts this process per pod.
 */
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import { CniError, ErrorCode } from '../cni/errors';
import { ipFamily } from '../cni/ip';
import { logDebug, logVerbose } from '../log/logger';
import type { ApiConnection } from './kubeconfig';
import { parseJson } from '../cni/json-text';
import { Http1Client, type HttpAnswer } from './http1';

export interface ClientOptions {
  /** Longest wait for one attempt, from connecting to the last byte of the answer. */
  attemptTimeoutMs?: number;
  /** Longest time one call may take with all its retries and pauses. */
  totalTimeoutMs?: number;
  maxAttempts?: number;
  /** First pause between attempts; each later one doubles, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The longest Retry-After the client is willing to honour. */
  maxRetryAfterMs?: number;
}

/*
 * A WAN-distant or busy API server must not fail pod creation (Multus's 250 ms attempts did, issue #1461), so one
 * attempt may take 10 s. A dead server must not hold kubelet's sandbox creation either: connection errors come back
 * fast, five attempts with pauses of about 0.25+0.5+1+2 s report it in ~3 s, and a black-holed server in at most
 * 30 s, well inside kubelet's 2-minute runtime request timeout (kubelet retries the sandbox after that anyway).
 */
export const DEFAULT_CLIENT_OPTIONS: Required<ClientOptions> = {
  attemptTimeoutMs: 10_000,
  totalTimeoutMs: 30_000,
  maxAttempts: 5,
  backoffMs: 250,
  maxBackoffMs: 4_000,
  maxRetryAfterMs: 10_000,
};

/** What a request is about: names the object in messages and lets a 404 be recognised as "this object is gone". */
export interface Target {
  /** Plural resource name as RBAC spells it: `pods`, `network-attachment-definitions`. */
  resource: string;
  /** API group, empty for the core group. */
  group: string;
  subresource?: string;
  namespace: string;
  name: string;
}

export interface ApiRequest {
  method: 'GET' | 'PATCH' | 'PUT' | 'POST';
  path: string;
  target: Target;
  body?: unknown;
  contentType?: string;
  /** One attempt only, bounded by this (for requests nothing waits on, such as events). */
  onceWithinMs?: number;
}

/** The `Status` object Kubernetes answers failures with; only the fields used here. */
export interface ApiStatus {
  message: string;
  reason: string;
  details: { name?: string; kind?: string; retryAfterSeconds?: number };
}

/** The server answered, and not with success. */
export class KubeApiError extends CniError {
  constructor(
    code: number,
    msg: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(code, msg);
    this.name = 'KubeApiError';
  }
}

/**
 * The object named in the request does not exist. Only raised when the server says so in a NotFound Status about that
 * very name: a 404 from a proxy or for an API the server does not serve (the NetworkAttachmentDefinition CRD not
 * installed) is a KubeApiError, so "pod not found" can never be mistaken for a wrong URL.
 */
export class NotFoundError extends KubeApiError {
  readonly resource: string;
  readonly namespace: string;
  readonly objectName: string;

  constructor(msg: string, target: Target) {
    super(ErrorCode.InvalidNetworkConfig, msg, 404, 'NotFound');
    this.name = 'NotFoundError';
    this.resource = target.resource;
    this.namespace = target.namespace;
    this.objectName = target.name;
  }
}

const VERBS: Record<ApiRequest['method'], string> = { GET: 'get', PATCH: 'patch', PUT: 'update', POST: 'create' };
const RETRIABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRIABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'EPIPE', 'EAI_AGAIN',
]);
// OpenSSL's verification failures of the server's certificate as Node reports them: retrying cannot fix a certificate.
// (ERR_SSL_* codes are handshake alerts, e.g. the server refusing our client certificate.)
const TLS_VERIFY_CODE = /^(?!ERR_SSL_).*(CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|HOSTNAME_MISMATCH)/;
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const USER_AGENT = 'multus-ts';

type Answer = HttpAnswer;

/** One API server. Make one per process: it keeps the TLS connection open between the calls of one ADD. */
export class KubeClient {
  readonly options: Required<ClientOptions>;
  private http: Http1Client | undefined;

  constructor(
    readonly conn: ApiConnection,
    options: ClientOptions = {},
  ) {
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...definedOnly(options) };
  }

  /** Sends the request with retries and returns the decoded JSON answer of a 2xx. */
  async request(req: ApiRequest): Promise<unknown> {
    const o = req.onceWithinMs === undefined ? this.options
      : { ...this.options, maxAttempts: 1, attemptTimeoutMs: req.onceWithinMs, totalTimeoutMs: req.onceWithinMs };
    const start = Date.now();
    const deadline = start + o.totalTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const timeout = Math.max(1, Math.min(o.attemptTimeoutMs, deadline - Date.now()));
      let failure: string;
      let retryAfterMs: number | undefined;
      try {
        const answer = await this.send(req, timeout);
        logDebug(`k8s: ${req.method} ${req.path} -> ${answer.status} (attempt ${attempt}, ${Date.now() - start} ms)`);
        if (answer.status >= 200 && answer.status < 300) return this.decode(req, answer);
        const status = parseStatus(answer.body);
        if (!RETRIABLE_STATUS.has(answer.status)) throw this.statusError(req, answer.status, status, answer.body);
        failure = `answered ${statusLine(answer.status, status)}: ${status?.message ?? snippet(answer.body)}`;
        retryAfterMs = retryAfter(answer.headers['retry-after'], status);
      } catch (e) {
        if (e instanceof CniError) throw e;
        failure = this.networkFailure(req, e as NodeJS.ErrnoException);
      }
      const pause = retryAfterMs !== undefined ? Math.min(retryAfterMs, o.maxRetryAfterMs) : this.backoff(attempt);
      if (attempt >= o.maxAttempts || Date.now() + pause >= deadline) {
        throw new CniError(
          ErrorCode.TryAgainLater,
          `Kubernetes API server ${this.conn.server} ${failure} (${req.method} ${describe(req.target)}; gave up after ` +
            `${attempt} attempt${attempt > 1 ? 's' : ''} in ${((Date.now() - start) / 1000).toFixed(1)} s)`,
        );
      }
      logVerbose(`k8s: ${req.method} ${describe(req.target)}: ${this.conn.server} ${failure}; retrying in ${pause} ms`);
      await sleep(pause);
    }
  }

  /** Closes the kept-alive connections. Not needed before exit: idle sockets do not keep the process alive. */
  close(): void {
    this.http?.close();
    this.http = undefined;
  }

  private send(req: ApiRequest, timeoutMs: number): Promise<Answer> {
    const url = new URL(this.conn.server + req.path);
    this.http ??= new Http1Client(url, url.protocol === 'https:' ? this.tlsOptions() : undefined, MAX_RESPONSE_BYTES);
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT };
    if (this.conn.token) headers.Authorization = `Bearer ${this.conn.token}`;
    if (body) headers['Content-Type'] = req.contentType ?? 'application/json';
    return this.http.request({
      method: req.method, path: `${url.pathname}${url.search}`, headers, timeoutMs,
      ...(body && { body }), ...(req.onceWithinMs !== undefined && { background: true }),
    });
  }

  private tlsOptions(): ConnectionOptions {
    const c = this.conn;
    const host = new URL(c.server).hostname.replace(/^\[(.*)\]$/, '$1');
    return {
      rejectUnauthorized: !c.insecure,
      // Without a certificate-authority, the CAs node ships, named: bin/multus starts node with --use-openssl-ca, under
      // which node's default would be OpenSSL's CA directory instead (which a copied node may not find on the host).
      ...(c.ca ? { ca: c.ca } : !c.insecure && { ca: [...rootCertificates] }),
      ...(c.clientCert && { cert: c.clientCert, key: c.clientKey }),
      // SNI and the name the certificate is checked against: tls-server-name, else the host unless it is an address
      // (as node:https sets it; an address is checked against the certificate's IP SANs).
      ...(c.tlsServerName ? { servername: c.tlsServerName } : ipFamily(host) === 0 && { servername: host }),
    };
  }

  private decode(req: ApiRequest, answer: Answer): unknown {
    try {
      return parseJson(answer.body.toString('utf8'));
    } catch {
      throw new CniError(
        ErrorCode.DecodingFailure,
        `Kubernetes API server ${this.conn.server} answered ${req.method} ${describe(req.target)} with something that is not JSON: ${snippet(answer.body)}`,
      );
    }
  }

  /** A connection-level failure: a description to retry on, or a CniError when retrying cannot help. */
  private networkFailure(req: ApiRequest, e: NodeJS.ErrnoException): string {
    const code = e.code ?? '';
    if (TLS_VERIFY_CODE.test(code)) {
      const trust = this.conn.ca
        ? `the certificate-authority of ${this.conn.source}`
        : `the system's trusted CAs (${this.conn.source} has no certificate-authority)`;
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `cannot verify the TLS certificate of Kubernetes API server ${this.conn.server} with ${trust}: ${e.message} ` +
          `(${req.method} ${describe(req.target)}); fix certificate-authority(-data) or tls-server-name`,
      );
    }
    if (!RETRIABLE_NETWORK_CODES.has(code)) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `cannot talk to Kubernetes API server ${this.conn.server} (${req.method} ${describe(req.target)}): ${e.message}`,
      );
    }
    return `is unreachable: ${e.message}`;
  }

  private statusError(req: ApiRequest, code: number, status: ApiStatus | undefined, body: Buffer): KubeApiError {
    const t = req.target;
    const server = `Kubernetes API server ${this.conn.server}`;
    const what = describe(t);
    const said = status?.message ?? snippet(body);
    switch (code) {
      case 401:
        // Try again later: a rotated token reaches the kubeconfig within seconds when an installer keeps it current.
        return new KubeApiError(
          ErrorCode.TryAgainLater,
          `${server} rejected ${this.conn.credential} (401 Unauthorized, ${req.method} ${what}): ${this.conn.credentialFix}`,
          401,
          status?.reason ?? 'Unauthorized',
        );
      case 403:
        return new KubeApiError(
          ErrorCode.InvalidNetworkConfig,
          `${server} forbids ${VERBS[req.method]} on ${resourceName(t)} ${qualified(t)} with ${this.conn.credential}: ${said}` +
            ` (grant it in the RBAC role bound to that identity)`,
          403,
          status?.reason ?? 'Forbidden',
        );
      case 404:
        if (status?.reason === 'NotFound' && status.details.name === t.name) {
          return new NotFoundError(`${what} not found (${server})`, t);
        }
        return new KubeApiError(
          ErrorCode.InvalidNetworkConfig,
          `${server} does not serve ${req.method} ${req.path}: ${said} (is the server URL right` +
            `${t.group ? `, and is the ${t.resource}.${t.group} CustomResourceDefinition installed` : ''}?)`,
          404,
          status?.reason ?? 'NotFound',
        );
      default:
        return new KubeApiError(
          ErrorCode.Internal,
          `${server} answered ${statusLine(code, status)} to ${req.method} ${what}: ${said}`,
          code,
          status?.reason ?? '',
        );
    }
  }

  /** Exponential with "equal jitter": never shorter than half the step, so many pods do not retry in lockstep. */
  private backoff(attempt: number): number {
    const step = Math.min(this.options.backoffMs * 2 ** (attempt - 1), this.options.maxBackoffMs);
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }
}

/** `pod "ns/name"`-style words for messages. */
export function describe(t: Target): string {
  const kind = t.resource === 'pods' ? 'pod' : t.resource === 'network-attachment-definitions' ? 'NetworkAttachmentDefinition' : t.resource;
  return `${kind}${t.subresource ? ` ${t.subresource}` : ''} ${qualified(t)}`;
}

function qualified(t: Target): string {
  return `"${t.namespace}/${t.name}"`;
}

/** The resource as RBAC rules name it, e.g. `pods/status`, `network-attachment-definitions.k8s.cni.cncf.io`. */
function resourceName(t: Target): string {
  return `${t.resource}${t.group ? `.${t.group}` : ''}${t.subresource ? `/${t.subresource}` : ''}`;
}

function statusLine(code: number, status: ApiStatus | undefined): string {
  return status?.reason ? `${code} ${status.reason}` : String(code);
}

function parseStatus(body: Buffer): ApiStatus | undefined {
  let v: unknown;
  try {
    v = parseJson(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || (v as { kind?: unknown }).kind !== 'Status') return undefined;
  const s = v as Record<string, unknown>;
  const details = typeof s.details === 'object' && s.details !== null ? (s.details as Record<string, unknown>) : {};
  return {
    message: typeof s.message === 'string' ? s.message : '',
    reason: typeof s.reason === 'string' ? s.reason : '',
    details: {
      ...(typeof details.name === 'string' && { name: details.name }),
      ...(typeof details.kind === 'string' && { kind: details.kind }),
      ...(typeof details.retryAfterSeconds === 'number' && { retryAfterSeconds: details.retryAfterSeconds }),
    },
  };
}

/** Retry-After in seconds or as an HTTP date, else the Status's retryAfterSeconds (the API server sends both). */
function retryAfter(header: string | undefined, status: ApiStatus | undefined): number | undefined {
  if (header !== undefined) {
    const seconds = /^\s*\d+\s*$/.test(header) ? Number(header) * 1000 : Date.parse(header) - Date.now();
    if (Number.isFinite(seconds)) return Math.max(0, seconds);
  }
  const fromStatus = status?.details.retryAfterSeconds;
  return fromStatus !== undefined && fromStatus >= 0 ? fromStatus * 1000 : undefined;
}

function snippet(body: Buffer): string {
  const text = body.toString('utf8').trim();
  if (!text) return '(empty answer)';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
