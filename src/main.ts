/*
 * Entry point of bin/multus. kubelet starts this process for every pod, so only what the command needs is loaded:
 * VERSION answers from one small module, the CLI (commander) is loaded only when a person runs the executable.
 */
import { readFileSync } from 'node:fs';
import { versionInfoJson } from './cni/version';

async function runCni(): Promise<void> {
  const { runPlugin } = await import('./cni/skel');
  const { multusPlugin } = await import('./multus/plugin');
  const out = await runPlugin(multusPlugin, process.env, () => readFileSync(0));
  process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}

export function main(): void {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    process.stdout.write(versionInfoJson());
    return;
  }
  const run = command ? runCni() : import('./cli/cli').then((cli) => cli.runCli(process.argv));
  run.catch((err: unknown) => {
    // Only a bug gets here; the runtime still deserves an error object rather than silence.
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    if (command) process.stdout.write(JSON.stringify({ code: 999, msg: `internal error: ${(err as Error)?.message ?? String(err)}` }));
    process.exitCode = 1;
  });
}
