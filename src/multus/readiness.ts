import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CniError, ErrorCode } from '../cni/errors';
import { logError } from '../log/logger';

const POLL_MS = 250;

/**
 * ADD waits (bounded) for the primary network to declare itself ready: attaching secondaries to a pod whose
 * eth0 cannot come up only produces a half-configured pod.
 */
export async function waitForReadiness(file: string, timeoutMs: number): Promise<void> {
  const path = resolve(file);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() >= deadline) {
      throw new CniError(ErrorCode.TryAgainLater,
        `have you checked that your default network is ready? still waiting for readinessindicatorfile @ ${path} after ${timeoutMs / 1000}s`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** DEL must clean up even when the primary network is down, so it only notes the missing file. */
export function warnIfNotReady(file: string): void {
  if (!existsSync(resolve(file))) logError(`readinessindicatorfile @ ${resolve(file)} does not exist; deleting anyway`);
}
