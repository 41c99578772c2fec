import { parseCniArgs, splitCniArgs, type ArgPairs } from '../cni/cni-args';
import { CniError, ErrorCode } from '../cni/errors';
import type { Invocation } from '../cni/skel';
import type { InvokeContext, RuntimeConf } from '../delegation/network-invoker';
import { isDns1123Label, isDns1123Subdomain, LABEL_RULE, SUBDOMAIN_RULE } from '../k8s/names';
import { configureLogging } from '../log/logger';
import { parseMultusConfig, type MultusConfig } from './config';
import { capabilityArgs } from './capability-args';
import { AUX_CHAIN_HEAD } from './aux-chain';
import type { PluginRunner } from '../cni/runner';
import { cniDeviceInfoPath } from '../k8s/device-info';
import { delegateLabel, interfaceName, type Delegate } from './delegate';

const K8S_KEYS = ['IP', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'] as const;
const STANDARD_KEYS = ['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID'];

export interface PodRef {
  namespace: string;
  name: string;
  infraContainerId: string;
  uid: string;
}

/** Everything one multus command needs, derived once from the invocation. */
export interface MultusCall {
  inv: Invocation;
  conf: MultusConfig;
  pod: PodRef;
  invoke: InvokeContext;
  /** CNI_ARGS for every delegate. */
  delegateArgs: ArgPairs;
}

/**
 * The delegates' CNI_ARGS: the Kubernetes keys first, in Multus's order, then every other key the runtime passed.
 * Unlike Multus, a key is never repeated, so no plugin has to guess which copy wins.
 */
function buildDelegateArgs(pod: PodRef, runtimeArgs: ArgPairs): ArgPairs {
  const head: ArgPairs = [
    ['IgnoreUnknown', 'true'],
    ['K8S_POD_NAMESPACE', pod.namespace],
    ['K8S_POD_NAME', pod.name],
    ['K8S_POD_INFRA_CONTAINER_ID', pod.infraContainerId],
    ['K8S_POD_UID', pod.uid],
  ];
  return [...head, ...runtimeArgs.filter(([k]) => !STANDARD_KEYS.includes(k))];
}

function dedupe(dirs: string[]): string[] {
  return [...new Set(dirs.filter((d) => d !== ''))];
}

/**
 * The pod's identity becomes part of API paths and of messages, so it is checked as Kubernetes checks names before
 * anything is sent: a namespace is a DNS-1123 label, a pod name a DNS-1123 subdomain, and a name needs its namespace.
 */
function checkPodRef(pod: PodRef): void {
  const bad = (key: string, what: string, rule: string): CniError =>
    new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS ${key} ${JSON.stringify(key === 'K8S_POD_NAMESPACE' ? pod.namespace : pod.name)} ${what}`, rule);
  if (pod.namespace === '' && pod.name !== '') {
    throw bad('K8S_POD_NAMESPACE', 'is empty while K8S_POD_NAME is set', 'pass the pod\'s namespace with its name');
  }
  if (pod.namespace !== '' && !isDns1123Label(pod.namespace)) {
    throw bad('K8S_POD_NAMESPACE', 'is not a Kubernetes namespace name', `a namespace name has ${LABEL_RULE}`);
  }
  if (pod.name !== '' && !isDns1123Subdomain(pod.name)) throw bad('K8S_POD_NAME', 'is not a Kubernetes pod name', `a pod name has ${SUBDOMAIN_RULE}`);
}

export function prepareCall(inv: Invocation): MultusCall {
  let conf: MultusConfig;
  try {
    conf = parseMultusConfig(inv.config, inv.cniVersion);
  } catch (e) {
    throw e instanceof CniError ? e.withContext('Multus: error loading netconf') : e;
  }
  configureLogging({ logFile: conf.logFile, logLevel: conf.logLevel, logToStderr: conf.logToStderr, logOptions: conf.logOptions });
  let k8s: Partial<Record<(typeof K8S_KEYS)[number], string>>;
  try {
    k8s = parseCniArgs(inv.cmd.args, K8S_KEYS);
  } catch (e) {
    throw e instanceof CniError ? e.withContext('error getting k8s args') : e;
  }
  const pod: PodRef = {
    namespace: k8s.K8S_POD_NAMESPACE ?? '',
    name: k8s.K8S_POD_NAME ?? '',
    infraContainerId: k8s.K8S_POD_INFRA_CONTAINER_ID ?? '',
    uid: k8s.K8S_POD_UID ?? '',
  };
  checkPodRef(pod);
  return {
    inv,
    conf,
    pod,
    invoke: {
      cacheDir: conf.cniDir,
      pluginDirs: dedupe([conf.binDir, ...inv.cmd.path]),
      timeoutMs: conf.delegateTimeoutMs,
      baseEnv: inv.env,
      runner: delegateRunner(inv, conf),
    },
    delegateArgs: buildDelegateArgs(pod, splitCniArgs(inv.cmd.args)),
  };
}

/**
 * The runner for the delegates: `builtinPlugins` run in-process whatever binDir holds, and so does the auxiliary
 * chain's passthru (Go Multus's installer copies its own; a node with only multus-ts has ours).
 */
function delegateRunner(inv: Invocation, conf: MultusConfig): PluginRunner {
  const pinned: string[] = [...conf.builtinPlugins, ...(conf.auxiliaryCNIChainName ? [AUX_CHAIN_HEAD] : [])];
  return pinned.length > 0 ? (inv.runner.pinning?.(pinned) ?? inv.runner) : inv.runner;
}

/** `[namespace/name/uid:network]`, the prefix Multus puts on a delegate's error so the pod can be found from it. */
export function podPrefix(call: MultusCall, network: string): string {
  return `[${call.pod.namespace}/${call.pod.name}/${call.pod.uid}:${network}]`;
}

/**
 * Where delegate `index`'s device-info file is, named as Multus names it (network, container, interface); the
 * primary never has one. `forDevice` (the default) asks only about a delegate that has a device ID: that is when
 * the delegate is told about the file. DEL asks about any resource network, whose ID a DEL without its cache may
 * not know.
 */
export function attachmentDeviceInfoFile(call: MultusCall, d: Delegate, index: number, forDevice = true): string | undefined {
  if (index === 0 || !(d.deviceID || (!forDevice && d.resourceName))) return undefined;
  const { containerId, ifName } = call.inv.cmd;
  return cniDeviceInfoPath(call.conf.deviceInfoDir, delegateLabel(d), containerId, interfaceName(d, index, ifName));
}

/** The runtime configuration of delegate `index`: its interface name, and the capabilities the pod asked of it. */
export function runtimeConfFor(call: MultusCall, d: Delegate, index: number): RuntimeConf {
  const { containerId, netns } = call.inv.cmd;
  const ifName = interfaceName(d, index, call.inv.cmd.ifName);
  return {
    containerId,
    netns,
    ifName,
    args: call.delegateArgs,
    capabilityArgs: capabilityArgs(call.conf.runtimeConfig, d, index === 0, attachmentDeviceInfoFile(call, d, index)),
  };
}
