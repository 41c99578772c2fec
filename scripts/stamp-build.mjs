// Writes dist/build-info.json after the compiler: which source this build is, so that an installed copy (no git,
// no checkout) can say it. Run by `npm run build`. Without a git checkout (an image build that copies src/ only),
// MULTUS_TS_COMMIT names the commit. The commit's own date is used, not the build's, so rebuilding the same commit
// gives the same bytes (the installer names version directories after their content).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const commit = git('rev-parse', 'HEAD') ?? process.env.MULTUS_TS_COMMIT ?? 'unknown';
const status = git('status', '--porcelain', '--untracked-files=no');
const info = {
  version,
  commit,
  treeState: status === undefined ? 'unknown' : status === '' ? 'clean' : 'dirty',
  date: git('log', '-1', '--format=%cI') ?? 'unknown',
};
writeFileSync(join(root, 'dist', 'build-info.json'), `${JSON.stringify(info, null, 2)}\n`);
