/**
 * `Promise.all(items.map(fn))` with at most `limit` calls in flight, which stops starting new calls at the first
 * failure and rejects with it once the calls already started have settled. A pod naming thousands of networks must
 * not fire thousands of API requests at once, nor keep fetching after one answer already decided the outcome.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        failure ??= { error: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
