import { CniError, ErrorCode } from '../../cni/errors';
import type { DNS } from '../../cni/result';
import { goField } from '../../util/go-json';

/*
 * The configuration keys macvlan and ipvlan share, read the way the reference plugins' Go decoder reads them:
 * keys match ignoring case, null is the zero value, and a value of the wrong type is refused.
 */

export function invalidConf(msg: string, details = ''): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg, details);
}

/** Typed access to one JSON object of the configuration; `where` prefixes key names in messages (e.g. `ipam.`). */
export class ConfReader {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly where = '',
  ) {}

  raw(key: string): unknown {
    const v = goField(this.obj, key);
    return v === null ? undefined : v;
  }

  private wrongType(key: string, expected: string, got: unknown): CniError {
    return invalidConf(`failed to load netconf: "${this.where}${key}" must be ${expected}, got ${JSON.stringify(got)}`);
  }

  string(key: string): string {
    const v = this.raw(key);
    if (v === undefined) return '';
    if (typeof v !== 'string') throw this.wrongType(key, 'a string', v);
    return v;
  }

  int(key: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return 0;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw this.wrongType(key, min === 0 ? `an integer from 0 to ${max}` : 'an integer', v);
    }
    return v as number;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw this.wrongType(key, 'true or false', v);
    return v;
  }

  object(key: string): ConfReader {
    const v = this.raw(key);
    if (v === undefined) return new ConfReader({}, `${this.where}${key}.`);
    if (typeof v !== 'object' || Array.isArray(v)) throw this.wrongType(key, 'a JSON object', v);
    return new ConfReader(v as Record<string, unknown>, `${this.where}${key}.`);
  }

  strings(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw this.wrongType(key, 'a list of strings', v);
    return v as string[];
  }
}

/** What every link plugin configuration has. */
export interface LinkConf {
  /** '' when omitted: the plugin then picks one (the default-route interface, or a chained interface). */
  master: string;
  /** 0 for the kernel's default. */
  mtu: number;
  /** The master lives in the pod's namespace, and the link is created from there. */
  linkInContainer: boolean;
  /** '' when there is no IPAM (L2 only, or addresses from a previous plugin). */
  ipamType: string;
  /** Copied into the result as is, like the reference plugins do. */
  dns: DNS;
}

function parseDns(r: ConfReader): DNS {
  const dns: DNS = {};
  const nameservers = r.strings('nameservers');
  const domain = r.string('domain');
  const search = r.strings('search');
  const options = r.strings('options');
  if (nameservers) dns.nameservers = nameservers;
  if (domain) dns.domain = domain;
  if (search) dns.search = search;
  if (options) dns.options = options;
  return dns;
}

export function parseLinkConf(r: ConfReader): LinkConf {
  return {
    master: r.string('master'),
    mtu: r.int('mtu'),
    linkInContainer: r.bool('linkInContainer'),
    ipamType: r.object('ipam').string('type'),
    dns: parseDns(r.object('dns')),
  };
}

/**
 * The IPAM type alone, for DEL, STATUS and GC: they must work whatever else the configuration says (DEL runs after
 * failed ADDs too, and must still release the address), but an unreadable IPAM section would leak it silently.
 */
export function ipamTypeOf(conf: Record<string, unknown>): string {
  return new ConfReader(conf).object('ipam').string('type');
}
