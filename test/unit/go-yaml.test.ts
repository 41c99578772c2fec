import { describe, expect, it } from 'vitest';
import { parseGoYaml, parseGoYamlDocuments } from '../../src/util/go-yaml';

// Expected values are what sigs.k8s.io/yaml v1.4 (go-yaml v2, kubectl's and client-go's parser) produces.
describe('YAML as Go reads it', () => {
  it('a single-quoted config whose continuation lines are at the key\'s column (Multus\'s SR-IOV example)', async () => {
    const text = `apiVersion: "k8s.cni.cncf.io/v1"
kind: NetworkAttachmentDefinition
metadata:
  name: vf-net
spec:
  config: '{
  "type": "sriov",
  "vlan": 100,
  "ipam": {
    "type": "host-local",
    "subnet": "10.56.0.0/24"
  }
}'
`;
    const doc = (await parseGoYaml(text)) as { spec: { config: string } };
    expect(JSON.parse(doc.spec.config)).toEqual({ type: 'sriov', vlan: 100, ipam: { type: 'host-local', subnet: '10.56.0.0/24' } });
    expect(doc.spec.config).toBe('{ "type": "sriov", "vlan": 100, "ipam": { "type": "host-local", "subnet": "10.56.0.0/24" } }');
  });

  it('a double-quoted scalar closed at the start of the next line folds the newline to a space', async () => {
    expect(await parseGoYaml('users:\n- name: multus\n  user:\n    token: "abc.def\n"\nx: 1\n')).toEqual({
      users: [{ name: 'multus', user: { token: 'abc.def ' } }],
      x: 1,
    });
    expect(await parseGoYaml("- a: 'x\n  y'\n- b: \"p\n\"\n")).toEqual([{ a: 'x y' }, { b: 'p ' }]);
  });

  it('keeps escapes, doubled quotes and empty lines as they were', async () => {
    expect(await parseGoYaml("a: \"x\\\"\ny\"\nb: 'it''s\nz'\nc: 'p\n\nq'\n")).toEqual({ a: 'x" y', b: "it's z", c: 'p\nq' });
  });

  it('YAML 1.1 scalars as go-yaml v2 resolves them; times and dates stay strings; the last repeated key wins', async () => {
    expect(await parseGoYaml('a: yes\nb: off\nc: 0777\nd: 1_000\ne: 0x1F\nf: ~\ng: 1:20\nh: 2001-12-14\ni: y\ni: n\n')).toEqual({
      a: true, b: false, c: 511, d: 1000, e: 31, f: null, g: '1:20', h: '2001-12-14', i: false,
    });
  });

  it('still refuses what Go refuses: an unclosed quote, a document marker inside a quoted scalar', async () => {
    await expect(parseGoYaml("a: 'x\nb: y\n")).rejects.toThrow(/Missing closing 'quote/);
    await expect(parseGoYaml("a:\n  b: 'x\n---\n  y'\n")).rejects.toThrow(/Missing closing 'quote/);
  });

  it('several documents, empty ones left out', async () => {
    const r = await parseGoYamlDocuments("---\na: '1\n'\n---\n---\nb: 2\n");
    expect(r).toEqual({ docs: [{ a: '1 ' }, { b: 2 }] });
    expect((await parseGoYamlDocuments('a: [\n')).error).toMatch(/at line/);
  });
});
