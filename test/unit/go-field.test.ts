import { describe, it, expect } from 'vitest';
import { goField } from '../../src/cni/config-reader';

// How Go's encoding/json fills a struct field, which every configuration and result reader goes through.
describe('goField', () => {
  it('matches a key in any case, the last spelling in the document winning', () => {
    expect(goField(JSON.parse('{"cniVersion":"1.0.0"}'), 'cniVersion')).toBe('1.0.0');
    expect(goField(JSON.parse('{"CNIVERSION":"0.4.0"}'), 'cniVersion')).toBe('0.4.0');
    expect(goField(JSON.parse('{"cniVersion":"1.0.0","CNIVersion":"0.3.1"}'), 'cniVersion')).toBe('0.3.1');
    expect(goField(JSON.parse('{"CNIVersion":"0.3.1","cniVersion":"1.0.0"}'), 'cniVersion')).toBe('1.0.0');
    expect(goField(JSON.parse('{"name":"a","NAME":"b","Name":"c"}'), 'name')).toBe('c');
  });

  it('finds nothing for a missing key, a key of another length or another name', () => {
    expect(goField({ names: 'x', nam: 'y', mane: 'z' }, 'name')).toBeUndefined();
    expect(goField({}, 'name')).toBeUndefined();
    expect(goField({ name: null }, 'name')).toBeNull();
  });

  it('reads own keys only, as Object.keys does', () => {
    const proto = { name: 'inherited', Type: 'inherited' };
    const obj = Object.create(proto) as Record<string, unknown>;
    obj.type = 'own';
    expect(goField(obj, 'name')).toBeUndefined();
    expect(goField(obj, 'type')).toBe('own');
    expect(goField(JSON.parse('{"__proto__":{"name":"x"}}'), 'name')).toBeUndefined();
  });
});
