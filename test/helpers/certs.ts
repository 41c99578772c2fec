/**
 * Test PKI made with the openssl CLI at test time: a CA and certificates it signs (EC P-256, valid two days), for
 * the test API server and the real kube-apiserver alike.
 *
 *   const ca = new TestCa(dir);                       // ca.key, ca.crt in dir
 *   ca.sign('server', '/CN=localhost', 'server');     // server.key, server.crt (127.0.0.1 and localhost)
 *   ca.sign('admin', '/O=system:masters/CN=admin', 'client');
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Runs openssl in `dir`; throws with its stderr when it fails. */
export function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr || r.error}`);
}

export class TestCa {
  private serial = 1;

  constructor(readonly dir: string, subject = '/CN=multus-ts test CA') {
    writeFileSync(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
    openssl(dir, ['req', '-x509', '-config', 'openssl.cnf', '-extensions', 'ca_ext', ...NEW_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', subject]);
  }

  /** `<name>.key` and `<name>.crt` in the CA's dir: a server certificate for 127.0.0.1/localhost, or a client one. */
  sign(name: string, subject: string, use: 'server' | 'client'): void {
    this.serial += 1;
    openssl(this.dir, ['req', '-new', '-config', 'openssl.cnf', ...NEW_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(this.dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(this.serial), '-days', '2',
      '-out', `${name}.crt`, '-extfile', 'openssl.cnf', '-extensions', `${use}_ext`]);
  }
}
