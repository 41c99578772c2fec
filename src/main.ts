/*
 * Entry point of bin/multus. kubelet starts this process for every pod, so only what the command needs is loaded:
 * VERSION answers from one small module, a plugin is loaded by name, and the CLI (commander) only when a person
 * runs the executable.
 */
import { basename } from 'node:path';
import { versionInfoJson } from './cni/version';

async function runCni(name: string): Promise<void> {
  const { runPlugin } = await import('./cni/skel');
  const { readBoundedFd } = await import('./util/bounded-read');
  const { builtinRunner, loadBuiltinPlugin } = await import('./builtins');
  const out = await runPlugin(await loadBuiltinPlugin(name), process.env, () => readBoundedFd(0), { runner: builtinRunner });
  process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}

async function runHuman(name: string): Promise<void> {
  const { aboutText } = await import('./cni/skel');
  const { builtinRunner, isBuiltinPlugin, loadBuiltinPlugin } = await import('./builtins');
  if (name !== 'multus' && isBuiltinPlugin(name)) {
    // Under a plugin's name this is that plugin, and a reference plugin started without CNI_COMMAND only says what it is.
    process.stderr.write(aboutText(await loadBuiltinPlugin(name)));
    return;
  }
  const { runCli } = await import('./cli/cli');
  let argv = process.argv;
  if (name === 'thin_entrypoint' || name === 'install_multus') {
    // Go Multus's installer names, as its DaemonSet starts them.
    const { THIN_ENTRYPOINT, installMultusArgs, thinEntrypointArgs } = await import('./install/multus-entrypoints');
    try {
      argv = [...argv.slice(0, 2), ...(name === THIN_ENTRYPOINT ? thinEntrypointArgs : installMultusArgs)(argv.slice(2))];
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
  }
  await runCli(argv, builtinRunner, aboutText(await loadBuiltinPlugin('multus')));
}

export function main(): void {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    process.stdout.write(versionInfoJson());
    return;
  }
  // The name the executable was started under (a symlink such as /opt/cni/bin/macvlan) says which plugin it is.
  const name = basename(process.argv[1] ?? 'multus');
  const run = command ? runCni(name) : runHuman(name);
  run.catch((err: unknown) => {
    // Only a bug gets here; the runtime still deserves an error object rather than silence.
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    if (command) process.stdout.write(JSON.stringify({ code: 999, msg: `internal error: ${(err as Error)?.message ?? String(err)}` }));
    process.exitCode = 1;
  });
}
