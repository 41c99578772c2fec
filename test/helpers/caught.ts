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

/** The CniError that promise `p` rejects with; fails the test when it resolves or rejects with something else. */
export async function rejected(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CniError);
    return e as CniError;
  }
  throw new Error('expected a CniError, the promise resolved');
}
