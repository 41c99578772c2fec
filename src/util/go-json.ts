/**
 * A field of a decoded JSON object the way Go's encoding/json fills a struct field: keys match ignoring case, and
 * when several spellings are present the last one in the document wins. Go Multus and libcni read every
 * configuration this way, so a drop-in replacement must accept `Name`, `CNIVersion` or `BinDir` too.
 */
export function goField(obj: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  let found: unknown;
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) found = obj[k];
  return found;
}
