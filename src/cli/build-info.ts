import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from '../cni/version';

/*
 * `multus --version` (and Go Multus's `multus -version`/`-v`): which build this is. The commit is stamped into
 * dist/build-info.json by `npm run build` (scripts/stamp-build.mjs), so an installed copy without git knows it.
 */

export interface BuildInfo {
  version: string;
  commit: string;
  treeState: string;
  date: string;
}

const UNKNOWN: BuildInfo = { version: 'unknown', commit: 'unknown', treeState: 'unknown', date: 'unknown' };

/** dist/build-info.json next to the compiled code (dist/cli/ is one level down). */
export function readBuildInfo(distDir = join(__dirname, '..')): BuildInfo {
  try {
    return { ...UNKNOWN, ...(JSON.parse(readFileSync(join(distDir, 'build-info.json'), 'utf8')) as Partial<BuildInfo>) };
  } catch {
    return UNKNOWN;
  }
}

/** The arguments Go Multus's flag package reads as its version flag. */
export function isVersionFlag(args: readonly string[]): boolean {
  return args.length === 1 && ['--version', '-version', '-v', '--v', '-version=true', '--version=true'].includes(args[0]!);
}

/** Go Multus's first line (`multus: version:…, commit:…, date:…`), then the CNI versions. */
export function versionText(info: BuildInfo): string {
  return `multus: version:${info.version}(multus-ts,${info.treeState}), commit:${info.commit}, date:${info.date}\n`
    + `CNI spec ${CURRENT_VERSION}; supported versions: ${SUPPORTED_VERSIONS.join(', ')}\n`;
}
