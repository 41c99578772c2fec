import { CniError, ErrorCode } from './errors';
import { goField } from './config-reader';

/** Every spec version this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = '1.1.0';

/** What `CNI_COMMAND=VERSION` prints: like libcni, our own version rather than the caller's. */
export function versionInfoJson(): string {
  return `${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Numeric comparison of dotted versions; a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  // Both are nearly always versions of the list, which is in order: no splitting and number parsing per call.
  const iv = (SUPPORTED_VERSIONS as readonly string[]).indexOf(v);
  const im = (SUPPORTED_VERSIONS as readonly string[]).indexOf(min);
  if (iv >= 0 && im >= 0) return iv >= im;
  return compareVersions(v, min) >= 0;
}

/**
 * Reads `cniVersion` from a parsed configuration. Missing or empty means 0.1.0, as in the spec;
 * a non-string is a decoding error and an unknown version is refused with the supported list.
 */
export function configVersion(conf: Record<string, unknown>): CniVersion {
  const raw = goField(conf, 'cniVersion');
  if (raw === undefined || raw === null || raw === '') return '0.1.0';
  if (typeof raw !== 'string') {
    throw new CniError(ErrorCode.DecodingFailure, `"cniVersion" must be a string, got ${JSON.stringify(raw)}`);
  }
  if (!isSupportedVersion(raw)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      `config is "${raw}", plugin supports [${SUPPORTED_VERSIONS.map((s) => `"${s}"`).join(' ')}]`,
    );
  }
  return raw;
}
