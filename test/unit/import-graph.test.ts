import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
// @ts-expect-error: a plain ES module script (scripts/ has no type declarations); its exports are used as below.
import { circles, importGraph, upwardImports } from '../../scripts/import-graph.mjs';

type Graph = Map<string, string[]>;
interface Upward { from: string; to: string; allowed: boolean }
const graphOf = importGraph as (dir: string) => Graph;
const circlesOf = circles as (g: Graph) => string[][];
const upwardOf = upwardImports as (g: Graph) => Upward[];

const SRC = join(__dirname, '..', '..', 'src');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'import-graph-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

// The layers of src/ (scripts/import-graph.mjs): cni → delegation → plugins, k8s → multus → cli, install, validate → main.
describe('the import graph of src/', () => {
  const graph = graphOf(SRC);

  it('has no circle, not even through `import type`', () => {
    expect(circlesOf(graph)).toEqual([]);
  });

  it('imports only downward, but for the one allowed exception', () => {
    expect(upwardOf(graph).filter((u) => !u.allowed)).toEqual([]);
    expect(upwardOf(graph).length).toBeLessThanOrEqual(1);
  });

  it('sees type-only, dynamic and require() imports, and finds circles and upward imports', () => {
    const g = graphOf(tree({
      'cni/a.ts': "import type { B } from '../delegation/b';\n",
      'delegation/b.ts': "export type B = 1;\nexport async function f() { return import('../cni/a'); }\n",
      'multus/m.ts': "// import { x } from '../main';\nconst n = require('../netlink/n');\n",
      'netlink/n.ts': '',
      'main.ts': "import './multus/m';\n",
    }));
    expect(g.get('multus/m.ts')).toEqual(['netlink/n.ts']);
    expect(circlesOf(g)).toEqual([['cni/a.ts', 'delegation/b.ts', 'cni/a.ts']]);
    expect(upwardOf(g)).toEqual([{ from: 'cni/a.ts', to: 'delegation/b.ts', allowed: false }]);
  });
});
