import { goField, Problems } from '../cni/config-reader';
import { checkNetConf } from '../cni/skel';
import { CURRENT_VERSION } from '../cni/version';
import { isDns1123Label, LABEL_RULE } from '../k8s/names';
import { LOG_LEVELS } from '../log/logger';
import { checkMultusConfig, MULTUS_KEYS } from '../multus/config';
import { lintCniConfig } from './cni-config';
import { Findings, isObject, jsonAt, Scope, shown } from './findings';
import { closestKey } from './suggest';

// The keys the plugin reads, plus the standard ones the runtime fills in.
const KNOWN_KEYS = [...MULTUS_KEYS, 'type', 'capabilities', 'args'];

const THICK_KEYS = [
  'chrootDir', 'socketDir', 'metricsPort', 'enablePprof', 'connectionLimit', 'perNodeCertificate', 'multusConfigFile',
  'multusAutoconfigDir', 'multusMasterCNI', 'cniConfigDir', 'forceCNIVersion', 'overrideNetworkName', 'daemonSocketDir',
];

// Keys found in the wild that nothing reads, and what to say about each.
const IGNORED_KEYS: Record<string, string> = {
  cniconf: 'is written by the Multus installer but read by nobody; the directory multus searches is "confDir"',
  defaultnetworkfile: 'is no longer read by Multus; it is ignored',
  defaultnetworkwaitseconds: 'is no longer read by Multus; it is ignored',
  masterplugin: 'was removed from Multus in 2018; the first element of "delegates" is the primary network',
  always_use_default: 'was removed from Multus in 2018; it is ignored',
};

// Misspellings that documentation itself spread.
const ALIASES: Record<string, string> = { allowtrydeleteonerr: 'retryDeleteOnError' };


function checkKeys(conf: Record<string, unknown>, s: Scope): void {
  const lower = (k: string): string => k.toLowerCase();
  for (const key of Object.keys(conf)) {
    const k = lower(key);
    if (KNOWN_KEYS.some((known) => lower(known) === k)) continue;
    const at = s.at(key);
    if (IGNORED_KEYS[k]) at.note(IGNORED_KEYS[k]);
    else if (THICK_KEYS.some((t) => lower(t) === k)) at.note('is a key of the thick plugin\'s daemon configuration; the thin plugin ignores it');
    else {
      const meant = ALIASES[k] ?? closestKey(key, KNOWN_KEYS);
      if (meant) at.problem('is not a multus configuration key and is ignored', `did you mean ${JSON.stringify(meant)}?`);
      else at.note('is not a multus configuration key and is ignored');
    }
  }
}

function checkValues(conf: Record<string, unknown>, s: Scope): void {
  const f = (key: string): unknown => goField(conf, key);
  const level = f('logLevel');
  if (typeof level === 'string' && level !== '' && !(LOG_LEVELS as readonly string[]).includes(level.toLowerCase())) {
    s.at('logLevel').problem(`${shown(level)} is not a log level (multus would keep logging at "panic")`,
      `use ${LOG_LEVELS.map((l) => `"${l}"`).join(', ')}`);
  }
  const multusNamespace = f('multusNamespace');
  if (typeof multusNamespace === 'string' && multusNamespace !== '' && !isDns1123Label(multusNamespace)) {
    s.at('multusNamespace').problem(`${shown(multusNamespace)} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}`);
  }
  const systemNamespaces = f('systemNamespaces');
  if (Array.isArray(systemNamespaces)) {
    systemNamespaces.forEach((ns, i) => {
      if (typeof ns === 'string' && !isDns1123Label(ns)) s.at('systemNamespaces').at(i).problem(`${shown(ns)} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}`);
    });
  }
  const globalNamespaces = f('globalNamespaces');
  if (typeof globalNamespaces === 'string') {
    for (const ns of globalNamespaces.split(',').map((n) => n.trim()).filter((n) => n !== '')) {
      if (!isDns1123Label(ns)) s.at('globalNamespaces').problem(`${shown(ns)} is not a valid namespace name`, `a namespace name has ${LABEL_RULE}; separate names with commas`);
    }
    if (f('namespaceIsolation') !== true) s.at('globalNamespaces').note('only matters with "namespaceIsolation": true');
  }
  const delegates = f('delegates');
  const clusterNetwork = f('clusterNetwork');
  if (typeof clusterNetwork === 'string' && clusterNetwork !== '' && Array.isArray(delegates) && delegates.length > 0) {
    s.at('delegates').note('is ignored because "clusterNetwork" is set');
  }
}

/** The multus plugin's own configuration, from a .conf or from the multus entry of a .conflist. */
function multusEntry(top: Record<string, unknown>, s: Scope): { conf: Record<string, unknown>; s: Scope } | undefined {
  const list = goField(top, 'plugins');
  if (list === undefined) return { conf: top, s };
  const plugins = Array.isArray(list) ? list : [];
  const i = plugins.findIndex((p) => isObject(p) && ['multus', 'multus-shim'].includes(goField(p, 'type') as string));
  if (i < 0) {
    s.at('plugins').problem('has no plugin of type "multus"', 'put the multus configuration in "plugins", e.g. [{"type": "multus", "kubeconfig": ..., "delegates": [...]}]');
    return undefined;
  }
  // libcni gives every plugin of a list the list's name and version.
  const plugin = Object.fromEntries(Object.entries(plugins[i] as Record<string, unknown>).filter(([k]) => !['name', 'cniversion'].includes(k.toLowerCase())));
  return { conf: { ...plugin, name: goField(top, 'name'), cniVersion: goField(top, 'cniVersion') }, s: s.at('plugins').at(i) };
}

/** A 00-multus.conf or 00-multus.conflist, every problem reported. */
export function checkMultusConf(text: string, label: string, findings: Findings): void {
  const top = new Scope(findings, label);
  const parsed = jsonAt(text, top);
  if (!parsed) return;
  const raw = parsed.value;
  if (!isObject(raw)) {
    top.problem(`${shown(raw)} is not a JSON object`, 'write the multus configuration as one JSON object');
    return;
  }
  const entry = multusEntry(raw, top);
  if (!entry) return;
  const { conf, s } = entry;
  // What every plugin requires of its stdin; name and cniVersion are the list's in a conflist.
  const netConf = new Problems();
  const version = checkNetConf(conf, netConf);
  for (const p of netConf.list) (p.where === 'name' || p.where === 'cniVersion' ? top : s).under(p.where).problem(p.problem, p.fix, p.error);
  const declared = goField(conf, 'cniVersion');
  if (declared === undefined || declared === null || declared === '') {
    top.at('cniVersion').note('is missing, which means 0.1.0 (the oldest result format); set it to the primary network\'s cniVersion');
  }
  // The runtime's own checker, every problem it finds (with an unusable version, as if it were the newest): the first
  // line printed is what multus would fail with.
  const problems = new Problems();
  checkMultusConfig(conf, version ?? CURRENT_VERSION, problems);
  s.addAll(problems);
  // Then what the runtime does not refuse, but is not what the author meant.
  const type = goField(conf, 'type');
  if (type === 'multus-shim') s.at('type').note('"multus-shim" is the thick plugin: the daemon\'s configuration overrides these keys');
  else if (type !== 'multus') s.at('type').problem(`${shown(type)} is not "multus"`, 'set "type": "multus" so the runtime runs multus');
  checkKeys(conf, s);
  checkValues(conf, s);
  const delegates = goField(conf, 'delegates');
  if (Array.isArray(delegates)) delegates.forEach((d, i) => lintCniConfig(d, s.at('delegates').at(i), {}));
}
