import { formatBytes, parseIndexKey } from '../../src/catalogue/index-names';

test('index keys parse as Medusa parses them, with and without a prefix; fqdns may hold _ and .', () => {
  expect(parseIndexKey('index/backup_index/b1/tokenmap_node_1.example.com.json', '')).toEqual({
    key: 'index/backup_index/b1/tokenmap_node_1.example.com.json', backupName: 'b1', kind: 'tokenmap', fqdn: 'node_1.example.com',
  });
  expect(parseIndexKey('pfx/index/backup_index/b1/started_10.0.0.1_1700000000.timestamp', 'pfx')).toMatchObject({ kind: 'started', fqdn: '10.0.0.1', epoch: 1700000000 });
  expect(parseIndexKey('pfx/index/backup_index/b1/finished_n_2_17.timestamp', 'pfx')).toMatchObject({ kind: 'finished', fqdn: 'n_2', epoch: 17 });
  expect(parseIndexKey('index/backup_index/b1/differential_10.0.0.1', '')).toMatchObject({ kind: 'differential', fqdn: '10.0.0.1' });
  expect(parseIndexKey('index/backup_index/b1/schema_10.0.0.1.cql', '')).toMatchObject({ kind: 'schema', fqdn: '10.0.0.1' });
  expect(parseIndexKey('index/backup_index/b1/manifest_10.0.0.1.json', '')).toMatchObject({ kind: 'manifest', fqdn: '10.0.0.1' });
});

test('keys that are not properly named index entries are ignored', () => {
  expect(parseIndexKey('index/backup_index/b1/extra/tokenmap_a.json', '')).toBeUndefined();
  expect(parseIndexKey('pfx/index/backup_index/b1/tokenmap_a.json', '')).toBeUndefined();
  expect(parseIndexKey('other/index/backup_index/b1/tokenmap_a.json', 'pfx')).toBeUndefined();
  expect(parseIndexKey('index/backup_index/b1/notes.txt', '')).toBeUndefined();
  expect(parseIndexKey('index/latest_backup/a/backup_name.txt', '')).toBeUndefined();
});

test("sizes print like Medusa's format_bytes_str", () => {
  expect(formatBytes(0)).toBe('0.00 B');
  expect(formatBytes(1023)).toBe('1023.00 B');
  expect(formatBytes(1024)).toBe('1.00 KB');
  expect(formatBytes(1536)).toBe('1.50 KB');
  expect(formatBytes(5 * 1024 * 1024 + 1)).toBe('5.00 MB');
  expect(formatBytes(3 * 1024 ** 4)).toBe('3.00 TB');
});
