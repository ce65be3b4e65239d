import { setYamlKeys } from '../../src/activities/restore/node-restore';
import { mapRestore, MappingHost } from '../../src/plan/restore-mapping';

const host = (fqdn: string, ...tokens: bigint[]): MappingHost => ({ fqdn, tokens });
const backup = [host('a', 100n, -50n), host('b', 200n), host('c', -9223372036854775808n)];

test('in place: every backup node onto itself, ordered by token; moved tokens are named', () => {
  const cluster = [host('c', -9223372036854775808n), host('a', -50n, 100n), host('b', 200n)];
  expect(mapRestore(backup, cluster)).toEqual([{ source: 'c', target: 'c' }, { source: 'a', target: 'a' }, { source: 'b', target: 'b' }]);
  expect(() => mapRestore(backup, [...cluster.slice(0, 2), host('b', 201n)])).toThrow(/^b owns 1 token\(s\) starting 201, the backup 1 starting 200$/);
});

test('onto other hosts of the same size: paired in token order, each target pinned to its source\'s exact tokens', () => {
  const other = [host('x', 5n), host('y', -7n), host('z', 9n)];
  expect(mapRestore(backup, other)).toEqual([
    { source: 'c', target: 'y', pinTokens: ['-9223372036854775808'] },
    { source: 'a', target: 'x', pinTokens: ['-50', '100'] },
    { source: 'b', target: 'z', pinTokens: ['200'] },
  ]);
  expect(() => mapRestore(backup, other.slice(0, 2))).toThrow(/the backup has 3 node\(s\), the cluster 2/);
});

test('with datacenters, pairs stay within their datacenter (same names and sizes required)', () => {
  const dc = (h: MappingHost, datacenter: string): MappingHost => ({ ...h, datacenter });
  const src = [dc(host('a1', 10n), 'east'), dc(host('a2', 30n), 'east'), dc(host('b1', 20n), 'west')];
  const dst = [dc(host('x1', 5n), 'west'), dc(host('y1', 1n), 'east'), dc(host('y2', 50n), 'east')];
  expect(mapRestore(src, dst)).toEqual([
    { source: 'a1', target: 'y1', pinTokens: ['10'] }, { source: 'b1', target: 'x1', pinTokens: ['20'] }, { source: 'a2', target: 'y2', pinTokens: ['30'] },
  ]);
  expect(() => mapRestore(src, dst.map((h) => ({ ...h, datacenter: 'east' })))).toThrow(/the backup has east: 2, west: 1 node\(s\) by datacenter, the cluster east: 3/);
});

test('a host list says which goes where; it must cover the other cluster and name known hosts once', () => {
  const other = [host('x', 5n), host('y', -7n)];
  const two = backup.slice(0, 2);
  expect(mapRestore(two, other, [{ seed: true, target: 'x', source: 'b' }, { seed: false, target: 'y', source: 'a' }])).toEqual([
    { source: 'a', target: 'y', pinTokens: ['-50', '100'] }, { source: 'b', target: 'x', pinTokens: ['200'] },
  ]);
  expect(() => mapRestore(two, other, [{ seed: true, target: 'x', source: 'b' }])).toThrow(/every node of the cluster must receive a backup node; y would not/);
  expect(() => mapRestore(two, other, [{ seed: true, target: 'x', source: 'b' }, { seed: true, target: 'x', source: 'a' }])).toThrow(/x is the target of more than one node/);
  expect(() => mapRestore(two, other, [{ seed: true, target: 'q', source: 'nope' }])).toThrow(/nope \(in the host list\) has no backup.*q \(in the host list\) is not in the cluster/);
});

test('half in place, half elsewhere is refused', () => {
  expect(() => mapRestore(backup, [host('a', -50n, 100n), host('y', 1n), host('z', 2n)])).toThrow(/b, c are not in the cluster/);
});

test('cassandra.yaml keys are replaced where they are, added when absent, and nothing else changes', () => {
  const yaml = "# comment\ncluster_name: 'x'\nnum_tokens: 16\ninitial_token:\nlisten_address: 10.0.0.1";
  expect(setYamlKeys(yaml, { initial_token: "'-5,7'", num_tokens: '2', auto_bootstrap: 'false' }))
    .toBe("# comment\ncluster_name: 'x'\nnum_tokens: 2\ninitial_token: '-5,7'\nlisten_address: 10.0.0.1\nauto_bootstrap: false\n");
});
