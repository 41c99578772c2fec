import { expect } from 'vitest';
import { CniError } from '../../src/cni/errors';

/** The CniError that `fn` throws; fails the test when it throws nothing or something else. */
export function caught(fn: () => unknown): CniError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('expected a CniError, nothing was thrown');
}
