/**
 * Where the Kubernetes API server is and how to authenticate to it, from a kubeconfig file or from the in-cluster
 * environment of a pod. Everything is read and checked here, once, so a broken file is reported with its path and
 * field before any request is made, and the client only ever sees a complete ApiConnection.
 */
import { dirname, join, resolve } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { parseJson } from '../cni/json-text';
import { ipFamily } from '../cni/ip';
import { readRegularFile } from '../util/bounded-read';

/** One API server and the credentials for it. */
export interface ApiConnection {
  /** Where these settings came from, for messages: `kubeconfig <path>` or `in-cluster configuration`. */
  source: string;
  /** Base URL without a trailing slash; it may carry a path prefix (an authenticating proxy's /k8s/clusters/c-1). */
  server: string;
  /** PEM bundle that signs the server's certificate; without it the system's trusted CAs are used. */
  ca?: Buffer;
  insecure: boolean;
  /** Name to verify the server's certificate against instead of the host in `server`. */
  tlsServerName?: string;
  /** Bearer token, already read from its file when it came from one. */
  token?: string;
  clientCert?: Buffer;
  clientKey?: Buffer;
  /** The credential in words, naming the fields it came from, so a 401 or 403 can say which one was rejected. */
  credential: string;
  /** What to do when the server rejects that credential (401). */
  credentialFix: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Obj = Record<string, unknown>;

// Credential mechanisms kubectl knows and this client does not: silently ignoring them would send requests
// as someone else (or as nobody), so they are refused by name.
const UNSUPPORTED_USER_FIELDS: Record<string, string> = {
  exec: 'exec credential plugins are not supported',
  'auth-provider': 'auth-provider plugins are not supported',
  username: 'basic authentication is not supported (Kubernetes removed it in 1.19)',
  password: 'basic authentication is not supported (Kubernetes removed it in 1.19)',
  as: 'impersonation is not supported',
};
const CREDENTIAL_HINT = 'use token, tokenFile or client-certificate/client-key';

/**
 * Reads the current context of a kubeconfig. Our installer writes JSON, which is also YAML and parsed without
 * loading a YAML parser; YAML files (Go Multus's installer writes one) are read as client-go reads them, at the
 * cost of loading the parser.
 */
export async function loadKubeconfig(path: string): Promise<ApiConnection> {
  const file = resolve(path);
  const where = `kubeconfig ${file}`;
  const text = readConfigFile(file, where);
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch (jsonError) {
    doc = await parseYaml(text, where, jsonError as CniError);
  }
  return fromDocument(doc, where, dirname(file));
}

/**
 * The connection a pod has to its own cluster, as client-go's InClusterConfig builds it: the service's environment
 * variables, the service-account token, and the service-account CA when it is there (else the system's CAs).
 */
export function inClusterConfig(env: NodeJS.ProcessEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): ApiConnection {
  const where = 'in-cluster configuration';
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `${where}: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set; set "kubeconfig" in the multus configuration instead`,
    );
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${where}: KUBERNETES_SERVICE_PORT must be a port number, got ${JSON.stringify(port)}`);
  }
  const tokenFile = join(serviceAccountDir, 'token');
  const caFile = join(serviceAccountDir, 'ca.crt');
  const ca = readOptional(caFile, where);
  if (ca !== undefined) requirePem(ca, 'CERTIFICATE', `service-account CA ${caFile}`, where);
  return {
    source: where,
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ...(ca !== undefined && { ca }),
    insecure: false,
    token: readTokenFile(tokenFile, where),
    credential: `the service-account token ${tokenFile}`,
    credentialFix: 'the kubelet rotates that token; if it keeps failing, the service account or its token was deleted',
  };
}

/** Text that is neither JSON nor YAML cannot be decoded (code 6); the error says where, as far as a parser knows. */
async function parseYaml(text: string, where: string, jsonError: CniError): Promise<unknown> {
  const { parseGoYaml } = await import('../util/go-yaml');
  try {
    return await parseGoYaml(text);
  } catch (e) {
    // The YAML parser recurses: a document nested thousands of levels deep exhausts the stack, which is its answer,
    // without a position; the JSON reader's error has one (JSON is YAML, so deep text is usually JSON-like).
    const why = e instanceof RangeError ? `it is nested too deeply (as JSON: ${jsonError.message})` : (e as Error).message;
    throw new CniError(ErrorCode.DecodingFailure, `${where}: is neither JSON nor YAML: ${why}`);
  }
}

function fromDocument(doc: unknown, where: string, baseDir: string): ApiConnection {
  if (!isObject(doc)) throw invalid(where, 'must be a mapping with clusters, users, contexts and current-context');
  const current = optString(doc, 'current-context', where);
  if (!current) throw invalid(where, 'current-context is not set; set it to the name of one of its contexts');
  const context = named(doc, 'contexts', 'context', current, where, `current-context "${current}" not found in contexts`);
  const clusterName = optString(context, 'cluster', `${where}: context "${current}"`);
  if (!clusterName) throw invalid(where, `context "${current}" has no cluster`);
  const cluster = named(doc, 'clusters', 'cluster', clusterName, where, `cluster "${clusterName}" of context "${current}" not found in clusters`);
  const userName = optString(context, 'user', `${where}: context "${current}"`);
  // A context without a user is anonymous access, which kubectl allows too.
  const user = userName
    ? named(doc, 'users', 'user', userName, where, `user "${userName}" of context "${current}" not found in users`)
    : {};
  const files = new FileFields(where, baseDir);
  return {
    source: where,
    ...serverSettings(cluster, `${where}: cluster "${clusterName}"`, files),
    ...credentials(user, userName ?? '', `${where}: user "${userName}"`, files),
  };
}

function serverSettings(cluster: Obj, where: string, files: FileFields): Pick<ApiConnection, 'server' | 'ca' | 'insecure' | 'tlsServerName'> {
  if (cluster['proxy-url'] !== undefined) throw invalid(where, 'proxy-url is not supported; reach the API server directly');
  const server = parseServer(optString(cluster, 'server', where), where);
  const insecure = optBool(cluster, 'insecure-skip-tls-verify', where) ?? false;
  const ca = files.bytes(cluster, 'certificate-authority', 'certificate-authority-data', where);
  if (ca !== undefined) {
    requirePem(ca, 'CERTIFICATE', 'certificate-authority', where);
    // client-go refuses the pair: a CA that would silently be ignored is a mistake the user should hear about.
    if (insecure) throw invalid(where, 'insecure-skip-tls-verify cannot be combined with certificate-authority; remove one of them');
  }
  const tlsServerName = optString(cluster, 'tls-server-name', where);
  return { server, ...(ca !== undefined && { ca }), insecure, ...(tlsServerName && { tlsServerName }) };
}

const TOKEN_FIX = 'the token may have expired or belong to another cluster: a service-account token copied into a '
  + 'kubeconfig stops working when the kubelet rotates it, so the installer must rewrite the file (multus install --watch '
  + 'does; Go Multus only with --cleanup-config-on-exit), or point tokenFile at the projected token';

function credentials(user: Obj, userName: string, where: string, files: FileFields): Pick<ApiConnection, 'token' | 'clientCert' | 'clientKey' | 'credential' | 'credentialFix'> {
  for (const [field, why] of Object.entries(UNSUPPORTED_USER_FIELDS)) {
    if (user[field] !== undefined) throw invalid(where, `${field}: ${why}; ${CREDENTIAL_HINT}`);
  }
  const described: string[] = [];
  const fixes: string[] = [];
  const of = `of user "${userName}" in ${files.source}`;
  let token: string | undefined;
  // As in client-go the file wins over an inline token: it is what kubelet keeps fresh.
  const tokenFile = optString(user, 'tokenFile', where);
  if (tokenFile) {
    const path = files.path(tokenFile);
    token = readTokenFile(path, where);
    described.push(`the token in ${path} (tokenFile ${of})`);
    fixes.push(`the token in ${path} may have expired or belong to another cluster`);
  } else {
    // Go's HTTP client trims the header value, so a token written with its file's trailing newline works there.
    token = optString(user, 'token', where)?.trim() || undefined;
    if (token) {
      described.push(`the token ${of}`);
      fixes.push(TOKEN_FIX);
    }
  }
  const clientCert = files.bytes(user, 'client-certificate', 'client-certificate-data', where);
  const clientKey = files.bytes(user, 'client-key', 'client-key-data', where);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw invalid(where, `${clientCert ? 'client-certificate' : 'client-key'} is set without ${clientCert ? 'client-key' : 'client-certificate'}; set both or neither`);
  }
  if (clientCert && clientKey) {
    requirePem(clientCert, 'CERTIFICATE', 'client-certificate', where);
    requirePem(clientKey, 'PRIVATE KEY', 'client-key', where);
    const field = user['client-certificate-data'] ? 'client-certificate-data' : 'client-certificate';
    described.push(`the client certificate (${field}) ${of}`);
    fixes.push('the client certificate may have expired or not be signed by the cluster\'s client CA');
  }
  return {
    ...(token && { token }),
    ...(clientCert && clientKey && { clientCert, clientKey }),
    credential: described.length > 0 ? described.join(' and ') : `no credentials (context has ${userName ? `user "${userName}" without any` : 'no user'})`,
    credentialFix: fixes.length > 0 ? fixes.join('; ') : `the server does not allow anonymous requests; give user "${userName}" a token, tokenFile or client certificate`,
  };
}

/** Reads `<field>` (a path, relative to the kubeconfig's directory as kubectl resolves it) or `<field>-data` (base64). */
class FileFields {
  constructor(
    readonly source: string,
    private readonly baseDir: string,
  ) {}

  path(p: string): string {
    return resolve(this.baseDir, p);
  }

  bytes(obj: Obj, fileField: string, dataField: string, where: string): Buffer | undefined {
    // Inline data wins over the file, as in client-go, so the file is not even opened.
    const data = optString(obj, dataField, where);
    if (data) {
      const compact = data.replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
        throw invalid(where, `${dataField} is not valid base64; it must hold the base64 encoding of the PEM file`);
      }
      return Buffer.from(compact, 'base64');
    }
    const file = optString(obj, fileField, where);
    if (!file) return undefined;
    const path = this.path(file);
    try {
      return readRegularFile(path, { follow: true });
    } catch (e) {
      throw new CniError(ErrorCode.IoFailure, `${where}: cannot read ${fileField} ${path}: ${(e as Error).message}`);
    }
  }
}

function parseServer(raw: string | undefined, where: string): string {
  if (!raw) throw invalid(where, 'server is not set; it must be the API server URL, e.g. https://10.96.0.1:443');
  // client-go takes a bare host:port as https.
  let withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  // Go's URL parser takes an IPv4 address in brackets (Go Multus's installer writes https://[10.96.0.1]:443) and
  // dials the bare address; WHATWG URLs only take IPv6 there.
  const bracketed = /^([a-z][a-z0-9+.-]*:\/\/)\[([^\]]*)\](.*)$/i.exec(withScheme);
  if (bracketed && ipFamily(bracketed[2]!) === 4) withScheme = `${bracketed[1]}${bracketed[2]}${bracketed[3]}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(where, `server ${JSON.stringify(raw)} is not a URL; it must look like https://10.96.0.1:443`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(where, `server ${JSON.stringify(raw)} must be an https:// (or http://) URL`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw invalid(where, `server ${JSON.stringify(raw)} must not carry credentials, a query or a fragment`);
  }
  // Kept as written (a normalised URL would drop :443), so messages show what the user configured.
  return withScheme.replace(/\/+$/, '');
}

/** The `field` object of the entry named `name` in the list `list` (kubeconfig's named-list layout). */
function named(doc: Obj, list: string, field: string, name: string, where: string, missing: string): Obj {
  const entries = doc[list];
  if (entries !== undefined && entries !== null && !Array.isArray(entries)) {
    throw invalid(where, `${list} must be a list of {name, ${field}} entries`);
  }
  const entry = (entries ?? []).find((e: unknown) => isObject(e) && e.name === name) as Obj | undefined;
  if (entry === undefined) throw invalid(where, missing);
  const value = entry[field];
  if (!isObject(value)) throw invalid(where, `${list} entry "${name}" has no ${field} mapping`);
  return value;
}

function readConfigFile(file: string, where: string): string {
  try {
    return readRegularFile(file, { follow: true }).toString('utf8');
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `${where}: cannot read the file: ${(e as Error).message}`);
  }
}

function readOptional(file: string, where: string): Buffer | undefined {
  try {
    return readRegularFile(file, { follow: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(ErrorCode.IoFailure, `${where}: cannot read ${file}: ${(e as Error).message}`);
  }
}

function readTokenFile(file: string, where: string): string {
  let token: string;
  try {
    token = readRegularFile(file, { follow: true }).toString('utf8').trim();
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `${where}: cannot read the token file ${file}: ${(e as Error).message}`);
  }
  if (!token) throw invalid(where, `the token file ${file} is empty`);
  return token;
}

// Node only reports a malformed PEM when the first request fails, far from the field that was wrong.
function requirePem(bytes: Buffer, label: string, field: string, where: string): void {
  const text = bytes.toString('latin1');
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw invalid(where, `${field} does not hold a PEM ${label} (no "-----BEGIN ...${label}-----" line)`);
  }
}

function optString(obj: Obj, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(where, `${key} must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function optBool(obj: Obj, key: string, where: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(where, `${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(where: string, msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${where}: ${msg}`);
}
