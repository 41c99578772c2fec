import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerInstallCommand } from '../../src/install/install-command';
import { HostFiles, type InstallIo } from '../../src/install/host-files';
import { parseInstallFlags, type InstallOptions, type RawInstallFlags } from '../../src/install/options';

/** A JWT as the API server issues it; the installer only reads the payload. */
export function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'test' })}.${part(claims)}.c2lnbmF0dXJl`;
}

/** The flags `multus install <args>` parses to, defaults included, without running the command. */
export async function installFlags(args: string[]): Promise<RawInstallFlags> {
  const program = new Command('multus').exitOverride();
  registerInstallCommand(program);
  let flags: RawInstallFlags | undefined;
  program.commands[0]!.action((f: RawInstallFlags) => {
    flags = f;
  });
  await program.parseAsync(['install', ...args], { from: 'user' });
  return flags!;
}

class CapturedIo implements InstallIo {
  readonly outs: string[] = [];
  readonly logs: string[] = [];
  out(text: string): void {
    this.outs.push(text);
  }
  log(msg: string): void {
    this.logs.push(msg);
  }
  clear(): void {
    this.outs.length = 0;
    this.logs.length = 0;
  }
}

/**
 * A node in a temporary directory: conf dir, bin dir, install dir and a service-account directory, with every
 * path given to the installer as a host path (no host prefix), so that an installed executable really runs.
 */
export class InstallSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'multus-install-'));
  readonly confDir = join(this.dir, 'net.d');
  readonly binDir = join(this.dir, 'bin');
  readonly installDir = join(this.dir, 'versions');
  readonly saDir = join(this.dir, 'sa');
  readonly kubeconfigPath = join(this.confDir, 'multus.d', 'multus.kubeconfig');
  readonly io = new CapturedIo();

  constructor() {
    mkdirSync(this.confDir);
    mkdirSync(this.saDir);
    this.setToken(jwt({ exp: Math.floor(Date.now() / 1000) + 3600 }));
    writeFileSync(join(this.saDir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n');
  }

  setToken(token: string): void {
    writeFileSync(join(this.saDir, 'token'), token);
  }

  /** The arguments that point the installer at this sandbox. */
  args(): string[] {
    return [
      '--cni-bin-dir', this.binDir, '--cni-conf-dir', this.confDir, '--install-dir', this.installDir,
      '--kubeconfig-path', this.kubeconfigPath, '--service-account-dir', this.saDir, '--api-server', 'https://10.96.0.1:443',
    ];
  }

  async options(...extra: string[]): Promise<InstallOptions> {
    return parseInstallFlags(await installFlags([...this.args(), ...extra]));
  }

  files(dryRun = false): HostFiles {
    return new HostFiles(dryRun, this.io);
  }

  writeConf(name: string, conf: unknown): string {
    const path = join(this.confDir, name);
    writeFileSync(path, typeof conf === 'string' ? conf : JSON.stringify(conf, null, 2));
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const FLANNEL_031 = {
  name: 'cbr0',
  cniVersion: '0.3.1',
  plugins: [
    { type: 'flannel', delegate: { hairpinMode: true, isDefaultGateway: true } },
    { type: 'portmap', capabilities: { portMappings: true } },
  ],
};
