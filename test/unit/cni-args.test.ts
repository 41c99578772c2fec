import { describe, it, expect } from 'vitest';
import { joinCniArgs, parseCniArgs, splitCniArgs } from '../../src/cni/cni-args';
import { caught } from '../helpers/caught';

// cni-contracts.md 1.12 (pkg/types/args.go LoadArgs).

const K8S = ['K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID', 'IP'] as const;


describe('splitCniArgs', () => {
  it('returns no pairs for an empty string', () => {
    expect(splitCniArgs('')).toEqual([]);
  });

  it('splits on ";" then "=" keeping the order and duplicates', () => {
    expect(splitCniArgs('IgnoreUnknown=1;K8S_POD_NAME=p1;K8S_POD_NAME=p2')).toEqual([
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAME', 'p1'],
      ['K8S_POD_NAME', 'p2'],
    ]);
  });

  it('keeps an empty value', () => {
    expect(splitCniArgs('K8S_POD_INFRA_CONTAINER_ID=')).toEqual([['K8S_POD_INFRA_CONTAINER_ID', '']]);
  });

  it('rejects a pair without "=" with the exact message', () => {
    const e = caught(() => splitCniArgs('IP'));
    expect(e.message).toBe('ARGS: invalid pair "IP"');
    expect(e.code).toBe(999);
    expect(caught(() => splitCniArgs('K8S_POD_NAME=p1;IP')).message).toBe('ARGS: invalid pair "IP"');
  });

  it('rejects a value that contains "="', () => {
    expect(caught(() => splitCniArgs('IP=a=b')).message).toBe('ARGS: invalid pair "IP=a=b"');
  });

  it('rejects an empty pair (trailing ";")', () => {
    expect(caught(() => splitCniArgs('IP=1;')).message).toBe('ARGS: invalid pair ""');
  });
});

describe('joinCniArgs', () => {
  it('is the inverse of splitCniArgs', () => {
    const raw = 'IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=u';
    expect(joinCniArgs(splitCniArgs(raw))).toBe(raw);
  });

  it('joins no pairs into an empty string', () => {
    expect(joinCniArgs([])).toBe('');
  });
});

describe('parseCniArgs', () => {
  it('returns nothing for an empty string', () => {
    expect(parseCniArgs('', K8S)).toEqual({});
  });

  it('picks the known keys', () => {
    expect(parseCniArgs('K8S_POD_NAMESPACE=default;K8S_POD_NAME=p1;IP=10.0.0.2', K8S)).toEqual({
      K8S_POD_NAMESPACE: 'default',
      K8S_POD_NAME: 'p1',
      IP: '10.0.0.2',
    });
  });

  it('lets the last value of a key win', () => {
    expect(parseCniArgs('K8S_POD_NAME=a;K8S_POD_NAME=b', K8S)).toEqual({ K8S_POD_NAME: 'b' });
  });

  it('matches keys case-sensitively: ip is an unknown key', () => {
    const e = caught(() => parseCniArgs('ip=10.0.0.2', K8S));
    expect(e.message).toBe('ARGS: unknown args ["ip=10.0.0.2"]');
    expect(e.code).toBe(999);
  });

  it('lists the unknown keys in order of appearance, as a Go %q list', () => {
    const e = caught(() => parseCniArgs('B=2;IP=10.0.0.2;A=1;FOO=', K8S));
    expect(e.message).toBe('ARGS: unknown args ["B=2" "A=1" "FOO="]');
  });

  it('accepts IgnoreUnknown=1, true, TRUE, True', () => {
    for (const v of ['1', 'true', 'TRUE', 'True']) {
      expect(parseCniArgs(`IgnoreUnknown=${v};FOO=bar;K8S_POD_NAME=p1`, K8S)).toEqual({ K8S_POD_NAME: 'p1' });
    }
  });

  it('applies IgnoreUnknown wherever it sits in the string', () => {
    expect(parseCniArgs('FOO=bar;K8S_POD_NAME=p1;IgnoreUnknown=1', K8S)).toEqual({ K8S_POD_NAME: 'p1' });
    expect(parseCniArgs('FOO=bar;IgnoreUnknown=true;BAR=baz', K8S)).toEqual({});
  });

  it('does not ignore unknown keys when IgnoreUnknown is 0 or false', () => {
    for (const v of ['0', 'false', 'FALSE']) {
      expect(caught(() => parseCniArgs(`IgnoreUnknown=${v};FOO=bar`, K8S)).message).toBe('ARGS: unknown args ["FOO=bar"]');
    }
  });

  it('treats ignoreunknown=true (wrong case) as itself unknown', () => {
    expect(caught(() => parseCniArgs('ignoreunknown=true;FOO=bar', K8S)).message).toBe(
      'ARGS: unknown args ["ignoreunknown=true" "FOO=bar"]',
    );
    expect(caught(() => parseCniArgs('ignoreunknown=true', K8S)).message).toBe('ARGS: unknown args ["ignoreunknown=true"]');
  });

  it('does not report IgnoreUnknown itself as a value', () => {
    expect(parseCniArgs('IgnoreUnknown=1', K8S)).toEqual({});
  });

  it('propagates invalid pairs', () => {
    expect(caught(() => parseCniArgs('IgnoreUnknown=1;IP', K8S)).message).toBe('ARGS: invalid pair "IP"');
    expect(caught(() => parseCniArgs('IgnoreUnknown=1;IP=a=b', K8S)).message).toBe('ARGS: invalid pair "IP=a=b"');
  });

  // Go's LoadArgs sets the IgnoreUnknown field once per pair, so the last occurrence decides.
  it('lets the last IgnoreUnknown win, as Go does', () => {
    expect(() => parseCniArgs('IgnoreUnknown=1;FOO=bar;IgnoreUnknown=0', K8S)).toThrow(/unknown args/);
  });

  // Go's UnmarshallableBool only accepts 1/0/true/false (any case); anything else fails LoadArgs:
  // `ARGS: error parsing value of pair "IgnoreUnknown=yes": boolean unmarshal error: invalid input yes)`.
  it('rejects an IgnoreUnknown value that is not a boolean, as Go does', () => {
    expect(() => parseCniArgs('IgnoreUnknown=yes', K8S)).toThrow(/IgnoreUnknown=yes/);
  });
});
