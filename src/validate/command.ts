import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';

import type { ValidateKind } from './validate';

const VALIDATE_KINDS: readonly ValidateKind[] = ['auto', 'nad', 'annotation', 'multus-conf', 'cni', 'result'];

/**
 * `multus validate <file|->`: checks a NetworkAttachmentDefinition, a networks annotation or a 00-multus.conf
 * without a cluster, printing one line per problem with its fix. The checks load only when the command runs.
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .summary('check a NetworkAttachmentDefinition, a networks annotation, a 00-multus.conf, a CNI configuration or a plugin result offline')
    .description('Check a NetworkAttachmentDefinition (YAML or JSON, several documents allowed), a pod network annotation '
      + '(the value, or a Pod/workload manifest carrying it), a multus configuration or a plain CNI configuration or conflist '
      + '(--kind cni) or a plugin\'s result (--kind result), and print every problem with its fix, each naming its field; '
      + 'multus checks these with the same code when it runs. A file with several documents has each checked as what it is.\n'
      + 'Exit status 1 when there is a problem; "ok" when there is none. Lines with "note:" are information only.')
    .argument('<file>', 'the file to check, or - for standard input')
    .addOption(new Option('--kind <kind>', 'what the file holds').choices(VALIDATE_KINDS).default('auto'))
    .action(async (file: string, o: { kind: ValidateKind }) => {
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (e) {
        process.stdout.write(`${file}: cannot be read: ${(e as Error).message} — fix: give the path of an existing file, or - for standard input\n`);
        process.exitCode = 1;
        return;
      }
      const { validateText } = await import('./validate');
      const findings = await validateText(text, o.kind, file === '-' ? 'stdin' : file);
      process.stdout.write(`${findings.lines().join('\n')}\n`);
      if (findings.problemCount > 0) process.exitCode = 1;
    });
}
