import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearDeletedMark, isMarkedDeleted, markDeleted, MAX_AGE_MS, pruneDeletedMarks } from '../../src/multus/deleted-marks';

describe('"already deleted" marks', () => {
  let cniDir: string;
  beforeEach(() => {
    cniDir = mkdtempSync(join(tmpdir(), 'multus-marks-'));
  });
  afterEach(() => rmSync(cniDir, { recursive: true, force: true }));
  const age = (name: string, ms: number) => {
    const t = (Date.now() - ms) / 1000;
    utimesSync(join(cniDir, '.deleted', name), t, t);
  };

  it('are set by DEL, cleared by ADD, and never collide with a delegate cache', () => {
    expect(isMarkedDeleted(cniDir, 'c1')).toBe(false);
    markDeleted(cniDir, 'c1');
    expect(isMarkedDeleted(cniDir, 'c1')).toBe(true);
    expect(existsSync(join(cniDir, 'c1'))).toBe(false);
    clearDeletedMark(cniDir, 'c1');
    expect(isMarkedDeleted(cniDir, 'c1')).toBe(false);
    clearDeletedMark(cniDir, 'never-marked');
  });

  it('expire by age, pruned by a later DEL at most once an hour', () => {
    markDeleted(cniDir, 'old');
    age('old', MAX_AGE_MS + 60_000);
    // The first mark pruned just now: the next DEL within the hour leaves the old mark alone.
    markDeleted(cniDir, 'new1');
    expect(isMarkedDeleted(cniDir, 'old')).toBe(true);
    age('.pruned', 2 * 3600_000);
    markDeleted(cniDir, 'new2');
    expect(isMarkedDeleted(cniDir, 'old')).toBe(false);
    expect(isMarkedDeleted(cniDir, 'new1')).toBe(true);
  });

  it('go when GC no longer lists their container', () => {
    markDeleted(cniDir, 'kept');
    markDeleted(cniDir, 'gone');
    pruneDeletedMarks(cniDir, new Set(['kept']));
    expect(isMarkedDeleted(cniDir, 'kept')).toBe(true);
    expect(isMarkedDeleted(cniDir, 'gone')).toBe(false);
  });
});
