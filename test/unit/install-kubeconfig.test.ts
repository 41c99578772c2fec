import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ErrorCode } from '../../src/cni/errors';
import {
  apiServerFromEnv, expiryWarning, kubeconfigContent, nextCheckDelay, syncKubeconfig, tokenExpiry,
} from '../../src/install/kubeconfig';
import { caught } from '../helpers/caught';
import { InstallSandbox, jwt } from '../helpers/install';

// multus-behaviour.md §6.1 step 3 (kubeconfig from the service account) and §7 item 7 (Unauthorized after expiry).

let sb: InstallSandbox;
beforeEach(() => {
  sb = new InstallSandbox();
});
afterEach(() => sb.remove());

interface Kubeconfig {
  clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
  users: Array<{ user: { token: string } }>;
  'current-context': string;
}

function readKubeconfig(): Kubeconfig {
  return JSON.parse(readFileSync(sb.kubeconfigPath, 'utf8')) as Kubeconfig;
}

describe('API server address', () => {
  it('comes from the service environment, IPv6 in brackets', () => {
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toBe('https://10.96.0.1:443');
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: 'fd00:10:96::1', KUBERNETES_SERVICE_PORT: '443' })).toBe('https://[fd00:10:96::1]:443');
    expect(apiServerFromEnv({ KUBERNETES_SERVICE_HOST: 'api', KUBERNETES_SERVICE_PORT: '6443', KUBERNETES_SERVICE_PROTOCOL: 'http' }))
      .toBe('http://api:6443');
  });

  it('is an error naming the way out when the environment lacks it', () => {
    const e = caught(() => apiServerFromEnv({}));
    expect(e.code).toBe(ErrorCode.InvalidEnvironment);
    expect(e.details).toContain('--api-server');
  });

  it('--api-server must be a URL', async () => {
    await expect(sb.options('--api-server', 'not a url')).rejects.toThrow('--api-server: must be an http(s) URL');
  });
});

describe('token expiry', () => {
  it('reads exp from the JWT payload without verifying it', () => {
    expect(tokenExpiry(jwt({ exp: 1_900_000_000, iat: 1 }))).toBe(1_900_000_000_000);
    expect(tokenExpiry(jwt({ sub: 'no exp' }))).toBeUndefined();
    expect(tokenExpiry('opaque-legacy-token')).toBeUndefined();
    expect(tokenExpiry('a.!!!.c')).toBeUndefined();
  });

  it('wakes the watch loop before the margin, never later than the interval', () => {
    const now = 1_000_000;
    expect(nextCheckDelay(5000, undefined, 60_000, now)).toBe(5000);
    expect(nextCheckDelay(5000, now + 3_600_000, 60_000, now)).toBe(5000);
    expect(nextCheckDelay(3_600_000, now + 600_000, 60_000, now)).toBe(540_000);
    expect(nextCheckDelay(5000, now + 30_000, 60_000, now)).toBe(5000);
  });

  it('warns while the token in use is inside the margin or expired', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(expiryWarning(now + 120_000, 60_000, now)).toBeUndefined();
    expect(expiryWarning(now + 30_000, 60_000, now)).toContain('expires at 2026-01-01T00:00:30.000Z and has not been rotated yet');
    expect(expiryWarning(now - 1, 60_000, now)).toContain('expired');
    expect(expiryWarning(undefined, 60_000, now)).toBeUndefined();
  });
});

describe('kubeconfig file', () => {
  it('is JSON (and so YAML) with the token, the CA and the server', () => {
    const text = kubeconfigContent('https://[fd00::1]:443', { token: 'tok', ca: Buffer.from('CA') });
    const viaYaml = parseYaml(text) as Kubeconfig;
    expect(viaYaml).toEqual(JSON.parse(text));
    expect(viaYaml.clusters[0]!.cluster).toEqual({ server: 'https://[fd00::1]:443', 'certificate-authority-data': 'Q0E=' });
    expect(viaYaml.users[0]!.user.token).toBe('tok');
    expect(viaYaml['current-context']).toBe('multus-context');
  });

  it('is written with mode 0600 from the service-account directory', async () => {
    const token = readFileSync(join(sb.saDir, 'token'), 'utf8');
    const r = syncKubeconfig(await sb.options(), sb.files(), {});
    expect(r.changed).toBe(true);
    expect(r.expiresAt).toBe(tokenExpiry(token));
    expect(statSync(sb.kubeconfigPath).mode & 0o777).toBe(0o600);
    expect(readKubeconfig().users[0]!.user.token).toBe(token);
    expect(readKubeconfig().clusters[0]!.cluster.server).toBe('https://10.96.0.1:443');
  });

  it('is rewritten when the kubelet rotates the token or the CA changes, and only then', async () => {
    const o = await sb.options();
    syncKubeconfig(o, sb.files(), {});
    expect(syncKubeconfig(o, sb.files(), {}).changed).toBe(false);
    const rotated = jwt({ exp: Math.floor(Date.now() / 1000) + 7200 });
    sb.setToken(`${rotated}\n`);
    const r = syncKubeconfig(o, sb.files(), {});
    expect(r.changed).toBe(true);
    expect(r.expiresAt).toBe(tokenExpiry(rotated));
    expect(readKubeconfig().users[0]!.user.token).toBe(rotated);
    writeFileSync(join(sb.saDir, 'ca.crt'), 'NEW CA');
    expect(syncKubeconfig(o, sb.files(), {}).changed).toBe(true);
    expect(readKubeconfig().clusters[0]!.cluster['certificate-authority-data']).toBe(Buffer.from('NEW CA').toString('base64'));
  });

  it('takes the server from the environment when --api-server is not given', async () => {
    const o = { ...(await sb.options()), apiServer: '' };
    syncKubeconfig(o, sb.files(), { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' });
    expect(readKubeconfig().clusters[0]!.cluster.server).toBe('https://[fd00::1]:6443');
  });

  it('fails naming the file when there is no token', async () => {
    const o = await sb.options('--service-account-dir', join(sb.dir, 'missing'));
    const e = caught(() => syncKubeconfig(o, sb.files(), {}));
    expect(e.message).toContain(`service-account token at ${join(sb.dir, 'missing', 'token')}`);
    expect(existsSync(sb.kubeconfigPath)).toBe(false);
  });

  it('--dry-run prints it with the token redacted and writes nothing', async () => {
    const token = readFileSync(join(sb.saDir, 'token'), 'utf8');
    syncKubeconfig(await sb.options('--dry-run'), sb.files(true), {});
    expect(existsSync(sb.kubeconfigPath)).toBe(false);
    const out = sb.io.outs.join('');
    expect(out).toContain(`would write ${sb.kubeconfigPath} (mode 600)`);
    expect(out).toContain(`"token": "<token from ${join(sb.saDir, 'token')}, ${token.length} bytes>"`);
    expect(out).not.toContain(token);
  });
});
