import { mkdtempSync, rmSync, symlinkSync, mkdirSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { execPluginAsync, execPluginSync, MULTUS, ourPlugin, ROOT, type PluginCall, type RunOutcome } from './plugin-exec';

export { MULTUS, REFERENCE_PLUGINS, ROOT, type RunOutcome } from './plugin-exec';
export const SPY = join(ROOT, 'test/fixtures/spy-plugin');

/** Runs the real executable the way a container runtime does: CNI_* environment, configuration on stdin. */
export function runMultus(o: PluginCall): RunOutcome {
  return execPluginSync(MULTUS, o);
}

/** The same without blocking this process, for tests that serve the plugin from here (the fake API server). */
export function runMultusAsync(o: PluginCall): Promise<RunOutcome> {
  return execPluginAsync(MULTUS, o);
}

/** A private scratch directory: multus's cniDir, IPAM stores, spy logs and a plugin directory with the spy. */
export class Workdir {
  readonly dir = mkdtempSync(join(tmpdir(), 'multus-test-'));
  readonly cniDir = join(this.dir, 'cni');
  readonly ipamDir = join(this.dir, 'ipam');
  readonly binDir = join(this.dir, 'bin');
  readonly spyLog = join(this.dir, 'spy.log');
  /** A stand-in for CNI_NETNS where no real namespace is needed: it exists and is not ours. */
  readonly fakeNetns = join(this.dir, 'netns');

  constructor() {
    mkdirSync(this.binDir);
    symlinkSync(SPY, join(this.binDir, 'spy'));
    mkdirSync(this.fakeNetns);
  }

  /**
   * The delegate caches left in cniDir (neither the result caches nor the "already deleted" marks, which a
   * successful DEL leaves on purpose).
   */
  delegateCaches(): string[] {
    return existsSync(this.cniDir) ? readdirSync(this.cniDir).filter((x) => x !== 'results' && x !== '.deleted') : [];
  }

  /** Every call the spy plugins recorded, in order. */
  spyCalls(): Array<{ command: string; env: Record<string, string>; stdin: Record<string, unknown> }> {
    if (!existsSync(this.spyLog)) return [];
    return readFileSync(this.spyLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let counter = 0;
/** A name unique across parallel test processes and short enough for a link name (15 bytes). */
export function uniqueId(): string {
  counter += 1;
  return `${(process.pid % 0xffff).toString(36)}${counter.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`;
}

/**
 * A work directory for the calling describe block, with our executable as the plugin `name` in its bin directory
 * (`bin` is that plugin's path); removed after the block.
 */
export function ourPluginFixture(name: string): { readonly work: Workdir; readonly bin: string } {
  const f = {} as { work: Workdir; bin: string };
  beforeAll(() => {
    f.work = new Workdir();
    f.bin = ourPlugin(f.work.binDir, name);
  });
  afterAll(() => f.work.remove());
  return f;
}
