/*
 * Entry point of bin/multus. kubelet starts this process for every pod, so only what the command needs is loaded:
 * VERSION answers from one small module, a CNI call loads one bundled file with a V8 code cache (builtins, or plugins
 * when started as a plugin other than multus) and a person's command line run-human (another), never two.
 */
import { basename } from 'node:path';
import { bundleFile } from './builtin-bundles';
import { requireWithCodeCache } from './code-cache';
import { versionInfoJson } from './cni/version';
import { writeStdout } from './util/stdout';

function main(): void {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    writeStdout(versionInfoJson());
    return;
  }
  // The name the executable was started under (a symlink such as /opt/cni/bin/macvlan) says which plugin it is.
  const name = basename(process.argv[1] ?? 'multus');
  if (!command) {
    // require, not import(): esbuild's __toESM and its helpers would be more code for V8 to compile in every call.
    try {
      (require('./run-human') as typeof import('./run-human')).runHuman(name).catch(internalError);
    } catch (err) {
      internalError(err);
    }
    return;
  }
  // A CNI call's code (a bundle beside this file, in dist/bundle/ as in the compiler's dist/) comes with a code cache:
  // the runtime starts one such process per pod. The cache is kept per kind of call: plugin and verb. Both bundles
  // are builtins.ts, one without multus: the same runCni. code-cache.ts is imported, not loaded with import(): the
  // module wrappers and promise callbacks of a lazy import were functions V8 compiled in every call (this file has
  // no code cache); it loads node:vm only when it compiles, so VERSION does not.
  let run: Promise<void>;
  try {
    const file = `${__dirname}/${bundleFile(name, command)}.js`;
    run = requireWithCodeCache<typeof import('./builtins')>(file, `${name}:${command}`, require).runCni(name);
  } catch (err) {
    run = Promise.reject(err);
  }
  run.catch((err: unknown) => {
    internalError(err);
    writeStdout(JSON.stringify({ code: 999, msg: `internal error: ${(err as Error)?.message ?? String(err)}` }));
  });
}

/** Only a bug gets here; the runtime still deserves an error object rather than silence. */
function internalError(err: unknown): void {
  process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
}

// `export =`, not `export function`: the bundle assigns module.exports itself, without esbuild's ES module glue
// (__toCommonJS, __copyProps, __export and a getter per export), functions V8 compiled in every call for bin/multus.
export = { main };
