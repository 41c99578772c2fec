/*
 * Entry point of bin/multus. kubelet starts this process for every pod, so only what the command needs is loaded:
 * VERSION answers from one small module, a CNI call loads one bundled file with a V8 code cache (builtins, or plugins
 * when started as a plugin other than multus) and a person's command line run-human (another), never two.
 */
import { basename, join } from 'node:path';
import { bundleFile } from './builtin-bundles';
import { versionInfoJson } from './cni/version';
import { writeStdout } from './util/stdout';

export function main(): void {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    writeStdout(versionInfoJson());
    return;
  }
  // The name the executable was started under (a symlink such as /opt/cni/bin/macvlan) says which plugin it is.
  const name = basename(process.argv[1] ?? 'multus');
  // A CNI call's code (a bundle beside this file, in dist/bundle/ as in the compiler's dist/) comes with a code cache:
  // the runtime starts one such process per pod. A person's command line is loaded plainly.
  // (code-cache loads node:vm, which VERSION does not need.) The cache is kept per kind of call: plugin and verb.
  // Both bundles are builtins.ts, one without multus: the same runCni.
  const run = command
    ? import('./code-cache').then(({ requireWithCodeCache }) => {
      const file = join(__dirname, `${bundleFile(name, command)}.js`);
      const cni = requireWithCodeCache<typeof import('./builtins')>(file, `${name}:${command}`, require);
      return cni.runCni(name);
    })
    : import('./run-human').then(({ runHuman }) => runHuman(name));
  run.catch((err: unknown) => {
    // Only a bug gets here; the runtime still deserves an error object rather than silence.
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    if (command) writeStdout(JSON.stringify({ code: 999, msg: `internal error: ${(err as Error)?.message ?? String(err)}` }));
    process.exitCode = 1;
  });
}
