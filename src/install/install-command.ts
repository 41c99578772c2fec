import { InvalidArgumentError, Option, type Command } from 'commander';
import { LOG_LEVELS } from '../log/logger';
import type { RawInstallFlags } from './options';

/*
 * `multus install`: what the DaemonSet runs on every node (with --host-prefix=/host --watch), and what an
 * administrator can run by hand. Only the flags are defined here; the work is loaded when the command runs.
 */

const DESCRIPTION = [
  'Install multus-ts on this node:',
  '',
  '1. Copy the application and the node binary running it into <install-dir>/<version>/ (the installed bin/multus '
  + 'runs that node, so the host needs no Node.js).',
  '2. Write the plugin\'s kubeconfig from this pod\'s service-account token (mode 0600, atomically).',
  '3. Point <cni-bin-dir>/multus at the new version with one atomic rename; remove versions nothing links to any '
  + 'more after --prune-after.',
  '4. Write 00-multus.conf (00-multus.conflist from cniVersion 1.0.0) in <cni-conf-dir>, delegating to the '
  + 'alphabetically first other configuration there (or --primary-config), with its cniVersion and capabilities.',
  '',
  'Paths are the host\'s; with --host-prefix the installer reaches them under that directory (the DaemonSet mounts '
  + 'the host\'s directories at /host). Running it twice changes nothing. With --watch it keeps the kubeconfig and '
  + '00-multus current (token rotation, a changed or replaced primary) until SIGTERM.',
  '',
  'Go Multus\'s thin_entrypoint flags (the "Multus:" ones) are accepted with their meaning, so Multus\'s DaemonSet '
  + 'arguments work unchanged; started as /thin_entrypoint (a link to this executable) it also waits for SIGTERM as '
  + 'Multus does, keeping the files current meanwhile.',
].join('\n');

/** Go's strconv.ParseBool, which pflag uses for `--flag=value`; a bare `--flag` is true. */
function goBool(value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`${JSON.stringify(value)} is not a boolean (true or false)`);
}

function addInstallOptions(command: Command): Command {
  return command
    .option('--host-prefix <dir>', 'where the host\'s root is mounted in this container (default: none, or /host when a directory flag is under /host, as in Multus\'s DaemonSet)')
    .option('--cni-bin-dir <dir>', 'the runtime\'s plugin directory, on the host (or under --host-prefix)', '/opt/cni/bin')
    .option('--cni-conf-dir <dir>', 'the runtime\'s configuration directory, on the host (or under --host-prefix)', '/etc/cni/net.d')
    .option('--install-dir <dir>', 'where application versions are kept, on the host (default: <cni-bin-dir>/.multus-ts)')
    .option('--kubeconfig-path <file>', 'the plugin\'s kubeconfig, on the host', '/etc/cni/net.d/multus.d/multus.kubeconfig')
    .option('--no-kubeconfig', 'write no kubeconfig and no "kubeconfig" key: multus runs only configured delegates')
    .option('--service-account-dir <dir>', 'where this process finds its token and ca.crt', '/var/run/secrets/kubernetes.io/serviceaccount')
    .option('--api-server <url>', 'API server for the kubeconfig (default: from KUBERNETES_SERVICE_HOST and _PORT)')
    .option('--skip-app-install', 'do not install the executable (it is installed some other way)')
    .option('--app-only', 'install the executable and its links only: no kubeconfig, no configuration')
    .option('--builtin-plugins <names>', 'built-in plugins multus runs in-process whatever --cni-bin-dir holds (00-multus "builtinPlugins"), e.g. macvlan,ipvlan,host-local')
    .option('--link-builtin-plugins <names>', 'link these plugin names to multus in --cni-bin-dir: every runtime and plugin then runs ours under them')
    .option('--force', 'let --link-builtin-plugins replace existing plugin files')
    .option('--primary-config <file>', 'file name of the primary network\'s configuration in --cni-conf-dir (default: the alphabetically first other one)')
    .option('--cni-version <version>', 'fail unless the primary network has this cniVersion')
    .option('--namespace-isolation [bool]', 'pods may only use NetworkAttachmentDefinitions of their own namespace or --global-namespaces', goBool)
    .option('--global-namespaces <list>', 'comma-separated namespaces whose networks every pod may use')
    .option('--multus-namespace <ns>', 'namespace of clusterNetwork/defaultNetworks definitions')
    .option('--readiness-indicator-file <path>', 'ADD waits for this file (the primary network\'s readiness)')
    .addOption(new Option('--log-level <level>', 'the plugin\'s log level').choices(LOG_LEVELS))
    .option('--log-file <path>', 'the plugin\'s log file, on the host')
    .option('--watch', 'keep the kubeconfig and 00-multus current until SIGTERM')
    .option('--interval <seconds>', 'how often --watch looks at the token and the configurations', '5')
    .option('--token-margin <seconds>', 'look at the token again at the latest this long before it expires', '60')
    .option('--prune-after <seconds>', 'remove a replaced version this long after it was unlinked (running ADDs may use it)', '600')
    .option('--cleanup-on-exit', 'on SIGTERM, remove everything the installer put on the host (what multus uninstall does)')
    .option('--dry-run', 'print every file it would write or remove, change nothing (one pass, even with --watch)')
    // Go Multus's thin_entrypoint flags, with its meaning; its directory flags name the host's paths under /host.
    .option('--multus-conf-file <auto|file>', 'Multus: "auto" generates 00-multus; a file is copied into --cni-conf-dir as it is', 'auto')
    .option('--multus-autoconfig-dir <dir>', 'Multus: where the primary network\'s configuration is looked for (default: --cni-conf-dir)')
    .option('--multus-bin-file <file>', 'Multus: the bin/multus of the multus-ts application to install (default: this one)')
    .option('--skip-multus-binary-copy [bool]', 'Multus: same as --skip-app-install', goBool)
    .option('--multus-kubeconfig-file-host <file>', 'Multus: same as --kubeconfig-path')
    .option('--multus-master-cni-file-name <file>', 'Multus: same as --primary-config')
    .option('--multus-cni-conf-dir <dir>', 'Multus: created, and written as "confDir"')
    .option('--multus-log-to-stderr [bool]', 'Multus: false writes "logToStderr": false', goBool)
    .option('--multus-log-level <level>', 'Multus: same as --log-level (any case)')
    .option('--multus-log-file <path>', 'Multus: same as --log-file')
    .option('--override-network-name [bool]', 'Multus: name the multus network after the primary network', goBool)
    .option('--cleanup-config-on-exit [bool]', 'Multus: same as --cleanup-on-exit', goBool)
    .option('--rename-conf-file [bool]', 'Multus: rename the primary\'s file to <file>.old once 00-multus is written', goBool)
    .option('--additional-bin-dir <dir>', 'Multus: written as "binDir" (where multus looks for delegate plugins)')
    .option('--skip-config-watch [bool]', 'Multus: write once, then only wait for SIGTERM', goBool)
    .option('--skip-tls-verify [bool]', 'Multus: the kubeconfig skips verifying the API server\'s certificate', goBool)
    .option('--force-cni-version [bool]', 'Multus: give the primary network --cni-version instead of checking it', goBool)
    .addOption(new Option('--stay-running', 'wait for SIGTERM after installing (what Multus\'s thin_entrypoint does)').hideHelp());
}

function installIo(name: string): { out(text: string): void; log(msg: string): void } {
  return {
    out: (text) => process.stdout.write(text),
    log: (msg) => process.stderr.write(`${new Date().toISOString()} multus ${name}: ${msg}\n`),
  };
}

export function registerInstallCommand(program: Command): void {
  addInstallOptions(program
    .command('install')
    .summary('install the executable, 00-multus.conf and the kubeconfig on this node (what the DaemonSet runs)')
    .description(DESCRIPTION))
    .action(async (flags: RawInstallFlags) => {
      const { runInstall } = await import('./install-run');
      process.exitCode = await runInstall(flags, { io: installIo('install'), env: process.env });
    });
  addInstallOptions(program
    .command('uninstall')
    .summary('remove everything multus install put on this node (give it the same flags)')
    .description('Remove what `multus install` with the same flags put on the host: 00-multus.conf/.conflist (or the '
      + '--multus-conf-file copy), the links in <cni-bin-dir> that point to this installation, the kubeconfig and every '
      + 'version directory in <install-dir>. Nothing else is touched.'))
    .action(async (flags: RawInstallFlags) => {
      const { runUninstall } = await import('./install-run');
      process.exitCode = await runUninstall(flags, { io: installIo('uninstall'), env: process.env });
    });
}
