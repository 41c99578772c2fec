/*
 * A CNI call (CNI_COMMAND set): the plugin `name` the executable was started under, with the runtime's environment
 * and stdin. main.ts loads this module only for such a call; the build bundles it, with everything it can reach,
 * into one file (scripts/bundle.mjs).
 */
import { runPlugin } from './cni/skel';
import { readBoundedFd } from './util/bounded-read';
import { writeStdout } from './util/stdout';
import { builtinRunner, loadBuiltinPlugin } from './builtins';

export async function runCni(name: string): Promise<void> {
  const out = await runPlugin(await loadBuiltinPlugin(name), process.env, () => readBoundedFd(0), { runner: builtinRunner });
  writeStdout(out.stdout);
  process.exitCode = out.exitCode;
}
