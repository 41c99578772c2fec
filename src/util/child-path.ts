import { join } from 'node:path';

/**
 * `join(dir, name)` without its normalising walk when `dir` is already normal (what `join` or `resolve` returned)
 * and `name` is one plain component: then the two only need a slash between them. Node's normalisation runs
 * character by character in JavaScript, several times per attachment (result cache, host-local's files), enough to
 * make V8 compile it with TurboFan at 16 attachments. Anything else goes through `join`, so the result is the same.
 */
export function childPath(dir: string, name: string): string {
  if (dir === '' || dir === '.' || name === '' || name === '.' || name === '..' || name.includes('/')) return join(dir, name);
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}
