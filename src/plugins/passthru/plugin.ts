import { convertResult } from '../../cni/result';
import type { CniPlugin, Invocation } from '../../cni/skel';
import { CURRENT_VERSION } from '../../cni/version';

/*
 * Go Multus's `passthru` plugin, the head of an `auxiliaryCNIChainName` chain: ADD answers an empty result (the
 * chained plugins after it get that as prevResult), every other verb does nothing. Built in so that the chain works
 * on a node that has only multus-ts.
 */

async function add(inv: Invocation): Promise<Record<string, unknown>> {
  return convertResult({ cniVersion: CURRENT_VERSION, interfaces: [], ips: [], routes: [], dns: {} }, inv.cniVersion);
}

const nothing = async (): Promise<void> => undefined;

export const passthruPlugin: CniPlugin = {
  about: 'Passthrough CNI Plugin (multus-ts): the head of an auxiliary CNI chain',
  add,
  del: nothing,
  check: nothing,
  status: nothing,
  gc: nothing,
};
