import type { DNS } from '../../cni/result';
import { goErrorText } from './go-error';
import { readRegularFile } from '../../util/bounded-read';

// Go's strings.Fields splits on Unicode white space.
const FIELD_SEPARATOR = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * The `dns` of the result from a resolv.conf, as the reference reads it: comment and blank lines skipped,
 * `nameserver` appends one server, `domain` sets (the last wins), `search` and `options` append every field.
 */
export function parseResolvConf(path: string): DNS {
  let text: string;
  try {
    text = readRegularFile(path, { follow: true }).toString('utf8');
  } catch (e) {
    throw new Error(goErrorText(e, 'open', path));
  }
  const dns: DNS = {};
  for (const line of text.split('\n')) {
    const fields = line.split(FIELD_SEPARATOR).filter((f) => f !== '');
    if (fields.length < 2 || fields[0]!.startsWith('#') || fields[0]!.startsWith(';')) continue;
    const [key, ...values] = fields;
    if (key === 'nameserver') (dns.nameservers ??= []).push(values[0]!);
    else if (key === 'domain') dns.domain = values[0]!;
    else if (key === 'search') (dns.search ??= []).push(...values);
    else if (key === 'options') (dns.options ??= []).push(...values);
  }
  return dns;
}
