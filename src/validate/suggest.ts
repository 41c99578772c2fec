/** Edit distance between two strings (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The known key an unknown one was probably meant to be: within two edits (one for short keys), ignoring case and
 * the "-"/"_" people mix up. Undefined when nothing is that close.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const k = norm(key);
  let best: { key: string; d: number } | undefined;
  for (const candidate of known) {
    const d = distance(k, norm(candidate));
    if (d <= (k.length <= 4 ? 1 : 2) && (!best || d < best.d)) best = { key: candidate, d };
  }
  return best?.key;
}
