/** The pure rules of purge and delete-backup: which node backups go, which are protected, which pool objects stay. */
import { NodeBackupFacts, poolVerdict, selectByName, selectForPurge } from '../../src/catalogue/purge-plan';

const DAY = 86_400;
const NOW = 1_800_000_000;
const b = (name: string, fqdn: string, ageDays: number, finished = true): NodeBackupFacts => ({
  name, fqdn, started: NOW - ageDays * DAY, finished: finished ? NOW - ageDays * DAY + 60 : null,
});
const names = (bs: NodeBackupFacts[]) => bs.map((x) => `${x.fqdn}:${x.name}`).sort();

describe('selectForPurge', () => {
  const cat = ['n1', 'n2'].flatMap((n) => [b('d1', n, 30), b('d2', n, 20), b('d3', n, 10), b('d4', n, 1)]);

  test('count: keeps the newest N on every node', () => {
    expect(names(selectForPurge(cat, { maxBackupAge: 0, maxBackupCount: 2, graceDays: 10 }, NOW, []).deletions))
      .toEqual(['n1:d1', 'n1:d2', 'n2:d1', 'n2:d2']);
  });

  test('age: started before now - max_backup_age days; united with count', () => {
    expect(names(selectForPurge(cat, { maxBackupAge: 15, maxBackupCount: 0, graceDays: 10 }, NOW, []).deletions)).toEqual(['n1:d1', 'n1:d2', 'n2:d1', 'n2:d2']);
    expect(names(selectForPurge(cat, { maxBackupAge: 25, maxBackupCount: 1, graceDays: 10 }, NOW, []).deletions))
      .toEqual(['n1:d1', 'n1:d2', 'n1:d3', 'n2:d1', 'n2:d2', 'n2:d3']);
  });

  test('0 disables both limits', () => {
    expect(selectForPurge(cat, { maxBackupAge: 0, maxBackupCount: 0, graceDays: 10 }, NOW, []).deletions).toEqual([]);
  });

  test('nodes are counted separately, even with fewer backups on one', () => {
    const uneven = [b('a', 'n1', 3), b('b', 'n1', 2), b('c', 'n1', 1), b('c', 'n2', 1)];
    expect(names(selectForPurge(uneven, { maxBackupAge: 0, maxBackupCount: 1, graceDays: 10 }, NOW, []).deletions)).toEqual(['n1:a', 'n1:b']);
  });

  test('incomplete backups older than the grace period are purged (Medusa #607); younger ones may be running and are kept, uncounted', () => {
    const bs = [b('old', 'n1', 30, false), b('x', 'n1', 5), b('y', 'n1', 4), b('running', 'n1', 0, false)];
    const s = selectForPurge(bs, { maxBackupAge: 0, maxBackupCount: 1, graceDays: 2 }, NOW, []);
    expect(names(s.deletions)).toEqual(['n1:old', 'n1:x']);
    expect(s.protectedBackups.map((p) => p.backup.name)).toEqual(['running']);
    expect(s.protectedBackups[0].reason).toMatch(/started within the grace period of 2 days/);
  });

  test('a backup a running workflow writes is never deleted, even when old; a cluster backup protects its name on every node', () => {
    const bs = [b('r', 'n1', 40, false), b('r', 'n2', 40, false), b('z', 'n1', 1)];
    const s = selectForPurge(bs, { maxBackupAge: 30, maxBackupCount: 0, graceDays: 0 }, NOW, [{ name: 'r', fqdn: '*', workflowId: 'wf' }]);
    expect(s.deletions).toEqual([]);
    expect(s.protectedBackups.map((p) => `${p.backup.fqdn}:${p.reason}`)).toEqual(['n1:running (workflow wf)', 'n2:running (workflow wf)']);
  });

  test('leftovers of an interrupted deletion are always finished', () => {
    const bs = [{ name: 'gone', fqdn: 'n1', finished: null, leftover: true }, b('new', 'n1', 0)];
    expect(names(selectForPurge(bs, { maxBackupAge: 0, maxBackupCount: 5, graceDays: 10 }, NOW, []).deletions)).toEqual(['n1:gone']);
    // ...unless a running workflow writes it.
    expect(selectForPurge(bs, { maxBackupAge: 0, maxBackupCount: 5, graceDays: 10 }, NOW, [{ name: 'gone', fqdn: 'n1', workflowId: 'w' }]).deletions).toEqual([]);
  });
});

describe('selectByName', () => {
  const cat = [b('b1', 'n1', 2), b('b1', 'n2', 2), b('b10', 'n1', 1)];

  test('exact name, one node or all nodes', () => {
    expect(names(selectByName(cat, 'b1', 'n1', [], 10, NOW))).toEqual(['n1:b1']);
    expect(names(selectByName(cat, 'b1', undefined, [], 10, NOW))).toEqual(['n1:b1', 'n2:b1']);
  });

  test('unknown name, a node without it, or a running backup: one line', () => {
    expect(() => selectByName(cat, 'b', 'n1', [], 10, NOW)).toThrow(/^no backup named b$/);
    expect(() => selectByName(cat, 'b10', 'n2', [], 10, NOW)).toThrow('backup b10 has no node backup of n2 (it has n1; --all-nodes deletes all of them)');
    expect(() => selectByName(cat, 'b1', 'n1', [{ name: 'b1', fqdn: 'n1', workflowId: 'w' }], 10, NOW)).toThrow('backup b1 of n1 is not deleted: running (workflow w)');
  });
});

test('poolVerdict: referenced objects stay; unreferenced ones go only past the grace period', () => {
  const now = NOW * 1000;
  const ref = new Set(['p/a']);
  const at = (days: number) => new Date(now - days * DAY * 1000);
  expect(poolVerdict({ key: 'p/a', lastModified: at(100) }, ref, 10, now)).toBe('referenced');
  expect(poolVerdict({ key: 'p/b', lastModified: at(9) }, ref, 10, now)).toBe('withinGrace');
  expect(poolVerdict({ key: 'p/b', lastModified: at(11) }, ref, 10, now)).toBe('delete');
  expect(poolVerdict({ key: 'p/b', lastModified: new Date(now - 1000) }, ref, 0, now)).toBe('delete');
});
