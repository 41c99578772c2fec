import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import type { HostFiles } from './host-files';
import { onHost, type InstallOptions } from './options';
import { parseJson } from '../cni/json-text';

/*
 * The plugin's kubeconfig, made from this pod's service-account token. Bound tokens expire (an hour by default)
 * and the kubelet rotates the projected file before that, so keeping the kubeconfig fresh means re-reading the
 * token and rewriting the file when it changed. Multus writes it once and pods fail with "Unauthorized" later.
 */

export interface ServiceAccount {
  token: string;
  ca: Buffer;
}

function readSecret(dir: string, file: string): Buffer {
  const path = join(dir, file);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `cannot read the service-account ${file} at ${path}: ${(e as Error).message}`,
      'run in a pod with a service account, point --service-account-dir at one, or pass --no-kubeconfig');
  }
}

function readServiceAccount(dir: string): ServiceAccount {
  const token = readSecret(dir, 'token').toString('utf8').trim();
  if (token === '') throw new CniError(ErrorCode.IoFailure, `the service-account token at ${join(dir, 'token')} is empty`);
  return { token, ca: readSecret(dir, 'ca.crt') };
}

/** The in-cluster API server address, as a pod sees it; IPv6 addresses go in brackets. */
export function apiServerFromEnv(env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so the API server is unknown',
      'pass --api-server https://HOST:PORT, or --no-kubeconfig');
  }
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${env.KUBERNETES_SERVICE_PROTOCOL || 'https'}://${bracketed}:${port}`;
}

/** A kubeconfig in JSON, which is YAML too, and which the plugin reads without a YAML parser. */
export function kubeconfigContent(server: string, sa: ServiceAccount, skipTlsVerify = false): string {
  const tls = skipTlsVerify ? { 'insecure-skip-tls-verify': true } : { 'certificate-authority-data': sa.ca.toString('base64') };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, ...tls } }],
    users: [{ name: 'multus', user: { token: sa.token } }],
    contexts: [{ name: 'multus-context', context: { cluster: 'local', user: 'multus' } }],
    'current-context': 'multus-context',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The `exp` claim of a JWT in milliseconds, read without verifying the signature; undefined for tokens without one. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = parseJson(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface KubeconfigSync {
  /** When the token now in the kubeconfig expires (ms since the epoch), if it says. */
  expiresAt: number | undefined;
  changed: boolean;
}

/** Writes the kubeconfig from the current token and CA, unless the file already holds exactly that. */
export function syncKubeconfig(o: InstallOptions, files: HostFiles, env: NodeJS.ProcessEnv = process.env): KubeconfigSync {
  const sa = readServiceAccount(o.serviceAccountDir);
  const server = o.apiServer || apiServerFromEnv(env);
  const expiresAt = tokenExpiry(sa.token);
  const content = kubeconfigContent(server, sa, o.skipTlsVerify);
  const shown = content.replace(JSON.stringify(sa.token), `"<token from ${join(o.serviceAccountDir, 'token')}, ${sa.token.length} bytes>"`);
  const changed = files.writeFile(onHost(o, o.kubeconfigPath), content, { mode: 0o600, dirMode: 0o700, shown });
  return { expiresAt, changed };
}

/**
 * How long the watch loop sleeps: the interval, but never past the moment the token is `marginMs` from expiring,
 * so that a rotated token reaches the kubeconfig in time even with a long interval.
 */
export function nextCheckDelay(intervalMs: number, expiresAt: number | undefined, marginMs: number, now: number): number {
  if (expiresAt === undefined) return intervalMs;
  const refreshAt = expiresAt - marginMs;
  return refreshAt > now ? Math.min(intervalMs, refreshAt - now) : intervalMs;
}

/** A warning when the token in use is about to expire: the kubelet should have rotated it by then. */
export function expiryWarning(expiresAt: number | undefined, marginMs: number, now: number): string | undefined {
  if (expiresAt === undefined || expiresAt - now > marginMs) return undefined;
  const when = new Date(expiresAt).toISOString();
  return expiresAt <= now
    ? `the service-account token expired at ${when} and has not been rotated: the plugin's API calls fail with Unauthorized`
    : `the service-account token expires at ${when} and has not been rotated yet`;
}
