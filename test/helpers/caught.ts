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

/**
 * The error that promise `p` rejects with, a CniError unless another class is given; fails the test when it
 * resolves or rejects with something else.
 */
export async function rejected<T extends Error = CniError>(p: Promise<unknown>, type: abstract new (...args: never[]) => T = CniError as never): Promise<T> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as T;
  }
  throw new Error(`expected a ${type.name}, the promise resolved`);
}
