import { REQUESTS, requestGiven, type Delegate } from './delegate';

/**
 * The capability arguments (libcni's `runtimeConfig` input) for one delegate, with Multus's semantics: the runtime's
 * runtimeConfig, and for a secondary the pod's requests on top. buildPluginStdin then passes each plugin only the
 * capabilities it declares. The primary never gets selection-element requests. portMappings and bandwidth
 * requests are not cached (as in Multus), so DEL from the cache sees only ips, mac, infinibandGUID and deviceID.
 */
export function capabilityArgs(runtimeConfig: Record<string, unknown>, d: Delegate, primary: boolean,
  deviceInfoFile: string | undefined): Record<string, unknown> {
  const args: Record<string, unknown> = { ...runtimeConfig };
  if (primary) return args;
  for (const r of REQUESTS) {
    const v = d[r.field];
    if (r.capability !== undefined && requestGiven(r, v)) args[r.capability] = v;
  }
  if (deviceInfoFile) args.CNIDeviceInfoFile = deviceInfoFile;
  return args;
}
