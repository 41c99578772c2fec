/*
 * The executable started by a person (no CNI_COMMAND): the command line, or, under a built-in plugin's name, what
 * that plugin is. main.ts loads this module only then; the build bundles it into a file of its own, so that the
 * command line's code never weighs on a CNI call.
 */
import { aboutText } from './cni/skel';
import { builtinRunner, isBuiltinPlugin, loadBuiltinPlugin } from './builtins';

export async function runHuman(name: string): Promise<void> {
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
