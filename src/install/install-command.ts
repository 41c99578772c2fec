import { Option, type Command } from 'commander';
import { LOG_LEVELS, type RawInstallFlags } from './options';

/*
 * `multus install`: what the DaemonSet runs on every node (with --host-prefix=/host --watch), and what an
 * administrator can run by hand. Only the flags are defined here; the work is loaded when the command runs.
 */

const DESCRIPTION = [
  'Install multus-ts on this node:',
  '',
  '1. Copy the application and the node binary running it into <install-dir>/<version>/ (the installed bin/multus '
  + 'runs that node, so the host needs no Node.js) and point <cni-bin-dir>/multus at it with one atomic rename; '
  + 'remove versions nothing links to any more after --prune-after.',
  '2. Write the plugin\'s kubeconfig from this pod\'s service-account token (mode 0600).',
  '3. Write 00-multus.conf (00-multus.conflist from cniVersion 1.0.0) in <cni-conf-dir>, delegating to the '
  + 'alphabetically first other configuration there (or --primary-config), with its cniVersion and capabilities.',
  '',
  'Paths are the host\'s; with --host-prefix the installer reaches them under that directory (the DaemonSet mounts '
  + 'the host\'s directories at /host). Running it twice changes nothing. With --watch it keeps the kubeconfig and '
  + '00-multus current (token rotation, a changed or replaced primary) until SIGTERM.',
].join('\n');

export function registerInstallCommand(program: Command): void {
  program
    .command('install')
    .summary('install the executable, 00-multus.conf and the kubeconfig on this node (what the DaemonSet runs)')
    .description(DESCRIPTION)
    .option('--host-prefix <dir>', 'where the host\'s root is mounted in this container (the DaemonSet uses /host)')
    .option('--cni-bin-dir <dir>', 'the runtime\'s plugin directory, on the host', '/opt/cni/bin')
    .option('--cni-conf-dir <dir>', 'the runtime\'s configuration directory, on the host', '/etc/cni/net.d')
    .option('--install-dir <dir>', 'where application versions are kept, on the host', '/opt/cni/multus-ts')
    .option('--kubeconfig-path <file>', 'the plugin\'s kubeconfig, on the host', '/etc/cni/net.d/multus.d/multus.kubeconfig')
    .option('--no-kubeconfig', 'write no kubeconfig and no "kubeconfig" key: multus runs only configured delegates')
    .option('--service-account-dir <dir>', 'where this process finds its token and ca.crt', '/var/run/secrets/kubernetes.io/serviceaccount')
    .option('--api-server <url>', 'API server for the kubeconfig (default: from KUBERNETES_SERVICE_HOST and _PORT)')
    .option('--skip-app-install', 'do not install the executable (it is installed some other way)')
    .option('--builtin-plugins <names>', 'built-in plugins multus runs in-process whatever --cni-bin-dir holds (00-multus "builtinPlugins"), e.g. macvlan,ipvlan,host-local')
    .option('--link-builtin-plugins <names>', 'link these plugin names to multus in --cni-bin-dir: every runtime and plugin then runs ours under them')
    .option('--force', 'let --link-builtin-plugins replace existing plugin files')
    .option('--primary-config <file>', 'file name of the primary network\'s configuration in --cni-conf-dir (default: the alphabetically first other one)')
    .option('--cni-version <version>', 'fail unless the primary network has this cniVersion')
    .option('--namespace-isolation', 'pods may only use NetworkAttachmentDefinitions of their own namespace or --global-namespaces')
    .option('--global-namespaces <list>', 'comma-separated namespaces whose networks every pod may use')
    .option('--multus-namespace <ns>', 'namespace of clusterNetwork/defaultNetworks definitions')
    .option('--readiness-indicator-file <path>', 'ADD waits for this file (the primary network\'s readiness)')
    .addOption(new Option('--log-level <level>', 'the plugin\'s log level').choices(LOG_LEVELS))
    .option('--log-file <path>', 'the plugin\'s log file, on the host')
    .option('--watch', 'keep the kubeconfig and 00-multus current until SIGTERM')
    .option('--interval <seconds>', 'how often --watch looks at the token and the configurations', '5')
    .option('--token-margin <seconds>', 'look at the token again at the latest this long before it expires', '60')
    .option('--prune-after <seconds>', 'remove a replaced version this long after it was unlinked (running ADDs may use it)', '600')
    .option('--cleanup-on-exit', 'with --watch: remove 00-multus and the kubeconfig on SIGTERM')
    .option('--dry-run', 'print every file it would write or remove, change nothing (one pass, even with --watch)')
    .action(async (flags: RawInstallFlags) => {
      const { runInstall } = await import('./install-run');
      process.exitCode = await runInstall(flags, {
        io: {
          out: (text) => process.stdout.write(text),
          log: (msg) => process.stderr.write(`${new Date().toISOString()} multus install: ${msg}\n`),
        },
        env: process.env,
      });
    });
}
