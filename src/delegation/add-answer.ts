import type { ExecOutcome, ExecRequest } from '../cni/runner';
import { decodeResult, pluginStdout } from './exec-plugin';

/** What a plugin printed: its text, or, from a built-in that ran in this process, its ADD's result object itself. */
export type PluginAnswer = string | Record<string, unknown>;

/**
 * pluginStdout (exec-plugin.ts), but a built-in's successful ADD in this process hands over the object it returned
 * (ExecOutcome.result), which is what decoding its text would give: the text is neither made nor parsed (two
 * results per attachment, the IPAM plugin's and the link plugin's, cost about 0.1 ms that way).
 */
export function pluginAnswer(req: ExecRequest, outcome: ExecOutcome): PluginAnswer {
  return outcome.result !== undefined && outcome.code === 0 && !outcome.timedOut ? outcome.result : pluginStdout(req, outcome);
}

/** An ADD's answer as libcni decodes it (decodeResult): a JSON object, in `cniVersion` when it names none. */
export function decodeAnswer(answer: PluginAnswer, cniVersion: string, who: string): Record<string, unknown> {
  if (typeof answer === 'string') return decodeResult(answer, cniVersion, who);
  // decodeResult's version fixup, on a copy: the object is the plugin's answer, whose text may still be read.
  return answer.cniVersion === undefined || answer.cniVersion === '' ? { ...answer, cniVersion } : answer;
}
