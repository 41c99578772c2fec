import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Invocation } from '../cni/skel';
import { CniError, ErrorCode } from '../cni/errors';
import { statusNetwork } from '../delegation/network-invoker';
import { prepareCall } from './call';
import { connect } from './kube-context';
import { primaryDelegate } from './pod-networks';

/** Ready when the primary network is: its readiness file exists and its own STATUS (1.1.0+) succeeds. */
export async function cmdStatus(inv: Invocation): Promise<void> {
  const call = prepareCall(inv);
  const file = call.conf.readinessIndicatorFile;
  if (file && !existsSync(resolve(file))) {
    throw new CniError(ErrorCode.PluginNotAvailable, `the default network is not ready: readinessindicatorfile @ ${resolve(file)} does not exist`);
  }
  const primary = await primaryDelegate(call, await connect(call));
  await statusNetwork(call.invoke, primary.net);
}
