import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command as Program, Option } from 'commander';
import { splitCniArgs } from '../cni/cni-args';
import { toCniError } from '../cni/errors';
import { validateContainerId, validateInterfaceName } from '../cni/environment';
import { convertResult, formatResult } from '../cni/result';
import { versionInfoJson } from '../cni/version';
import type { PluginRunner } from '../cni/runner';
import type { NetworkConfig } from '../delegation/network-config';
import {
  addNetwork, checkNetwork, delNetwork, gcNetwork, statusNetwork, type InvokeContext, type RuntimeConf,
} from '../delegation/network-invoker';
import { loadNetworkFile } from '../delegation/network-files';
import { registerInstallCommand } from '../install/install-command';
import { registerValidateCommand } from '../validate/command';
import { isVersionFlag, readBuildInfo, versionText } from './build-info';
import { parseJson } from '../cni/json-text';

/*
 * The human side of the executable: the operations of cnitool, run through the same delegation code the
 * meta-plugin uses, for trying a configuration by hand.
 */

interface AttachOptions {
  ifname: string;
  containerId?: string;
  args: string;
  capArgs: string;
  cniPath: string;
  cacheDir: string;
  timeout: string;
}

/** cnitool's container ID for a netns, so that the two tools can be mixed on one attachment. */
function containerIdFor(netns: string): string {
  return `cnitool-${createHash('sha512').update(netns).digest('hex').slice(0, 20)}`;
}

// A configuration without cniVersion is 0.1.0, as the spec says.
function loadConfig(file: string): NetworkConfig {
  return loadNetworkFile(resolve(file), '0.1.0');
}

// bin/ holds this executable, so a configuration of type "multus" runs this checkout's plugin when no other is found.
function ownBinDir(): string {
  return dirname(realpathSync(process.argv[1] ?? '.'));
}

function invokeContext(o: Pick<AttachOptions, 'cniPath' | 'cacheDir' | 'timeout'>, runner: PluginRunner): InvokeContext {
  return {
    runner,
    cacheDir: o.cacheDir,
    pluginDirs: [...o.cniPath.split(':').filter((d) => d !== ''), ownBinDir()],
    timeoutMs: Number(o.timeout) * 1000,
    baseEnv: process.env,
  };
}

function runtimeConf(netnsArg: string, o: AttachOptions): RuntimeConf {
  const netns = resolve(netnsArg);
  const containerId = o.containerId ?? containerIdFor(netns);
  validateContainerId(containerId);
  validateInterfaceName(o.ifname);
  let capabilityArgs: Record<string, unknown> = {};
  if (o.capArgs) capabilityArgs = parseJson(o.capArgs) as Record<string, unknown>;
  return { containerId, netns, ifName: o.ifname, args: splitCniArgs(o.args), capabilityArgs };
}

function fail(err: unknown): never {
  const e = toCniError(err);
  process.stderr.write(`multus: ${e.message}${e.details ? ` (${e.details})` : ''} [code ${e.code}]\n`);
  process.exit(1);
}

function attachCommand(program: Program, runner: PluginRunner, name: string, summary: string,
  action: (net: NetworkConfig, ctx: InvokeContext, rt: RuntimeConf) => Promise<void>): void {
  program
    .command(name)
    .summary(summary)
    .description(`${summary}.\nThe configuration is a .conf or .conflist file; plugins are looked up in --cni-path, then next to this executable.`)
    .argument('<config>', 'network configuration file (.conf, .conflist or .json)')
    .argument('<netns>', 'network namespace path, e.g. /var/run/netns/test')
    .addOption(new Option('-i, --ifname <name>', 'interface name in the namespace').env('CNI_IFNAME').default('eth0'))
    .option('--container-id <id>', 'container ID (default: derived from the netns path, as cnitool does)')
    .addOption(new Option('--args <K=V;...>', 'CNI_ARGS for the plugins').env('CNI_ARGS').default(''))
    .addOption(new Option('--cap-args <json>', 'capability arguments (runtimeConfig), as a JSON object').env('CAP_ARGS').default(''))
    .addOption(new Option('--cni-path <dirs>', 'plugin directories, colon separated').env('CNI_PATH').default('/opt/cni/bin'))
    .option('--cache-dir <dir>', 'where results are cached between add, check and del', '/var/lib/cni')
    .option('--timeout <seconds>', 'how long one plugin call may take', '60')
    .action(async (config: string, netns: string, o: AttachOptions) => {
      try {
        await action(loadConfig(config), invokeContext(o, runner), runtimeConf(netns, o));
      } catch (e) {
        fail(e);
      }
    });
}

function networkCommand(program: Program, runner: PluginRunner, name: string, summary: string,
  action: (net: NetworkConfig, ctx: InvokeContext, extra: { valid: string[] }) => Promise<void>): Program {
  const command = program
    .command(name)
    .summary(summary)
    .argument('<config>', 'network configuration file (.conf, .conflist or .json)')
    .addOption(new Option('--cni-path <dirs>', 'plugin directories, colon separated').env('CNI_PATH').default('/opt/cni/bin'))
    .option('--cache-dir <dir>', 'result cache directory', '/var/lib/cni')
    .option('--timeout <seconds>', 'how long one plugin call may take', '60');
  // Only GC has attachments to keep (CNI's cni.dev/valid-attachments); STATUS takes none.
  if (name === 'gc') command.option('--keep <containerID:ifname...>', 'attachments GC must keep', []);
  return command.action(async (config: string, o: AttachOptions & { keep?: string[] }) => {
    try {
      await action(loadConfig(config), invokeContext(o, runner), { valid: o.keep ?? [] });
    } catch (e) {
      fail(e);
    }
  });
}

/**
 * The command line. `runner` runs the plugins (the built-ins in this process); `about` is what the multus plugin
 * says about itself.
 */
export async function runCli(argv: string[], runner: PluginRunner, about: string): Promise<void> {
  if (argv.length <= 2) {
    // What the reference skel does when it is started without CNI_COMMAND: say what it is, on stderr, and succeed.
    process.stderr.write(`${about}Run 'multus --help' for the command line.\n`);
    return;
  }
  if (isVersionFlag(argv.slice(2))) {
    process.stdout.write(versionText(readBuildInfo()));
    return;
  }
  const program = new Program('multus')
    .description('multus-ts: a CNI meta-plugin that gives a pod more than one network interface.\n'
      + 'Run by the container runtime with CNI_COMMAND set; run by hand, it offers the operations of cnitool.')
    .showHelpAfterError()
    .option('-v, --version', 'print the product version, its git commit and the CNI versions (also Go Multus\'s -version)');
  program.command('version').summary('print the CNI spec versions this plugin supports').action(() => {
    process.stdout.write(versionInfoJson());
  });
  attachCommand(program, runner, 'add', 'attach the network to a namespace and print the result', async (net, ctx, rt) => {
    const out = await addNetwork(ctx, net, rt);
    process.stdout.write(`${formatResult(convertResult(out.result, net.cniVersion))}\n`);
  });
  attachCommand(program, runner, 'check', 'check an attachment against its cached result', (net, ctx, rt) => checkNetwork(ctx, net, rt));
  attachCommand(program, runner, 'del', 'detach the network from a namespace', (net, ctx, rt) => delNetwork(ctx, net, rt));
  networkCommand(program, runner, 'status', 'ask the network\'s plugins whether they are ready (cniVersion 1.1.0)', (net, ctx) => statusNetwork(ctx, net));
  networkCommand(program, runner, 'gc', 'garbage-collect every attachment except --keep (cniVersion 1.1.0)', (net, ctx, { valid }) =>
    gcNetwork(ctx, net, valid.map((v) => {
      const [containerId = '', ifName = 'eth0'] = v.split(':');
      return { containerId, ifName };
    })));
  registerValidateCommand(program);
  registerInstallCommand(program);
  await program.parseAsync(argv);
}
