/** The pure part of `medusa restore-node` / `restore-cluster`: Medusa's --host-list file, `-pr`, and the summary lines. */
import { parseHostList, restoreSummary } from '../../src/commands/restore';
import { expandShortFlags } from '../../src/commands/short-flags';
import { ExitError } from '../../src/errors';

function failure(fn: () => unknown): ExitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ExitError);
    return err as ExitError;
  }
  throw new Error('expected an ExitError');
}

test('a host list: one node a line, seed True/False in any case, blank lines, comments and spaces ignored', () => {
  const text = [
    'True,127.0.0.1,127.0.0.1',
    '',
    '  # a comment',
    'false , 127.0.0.2 , 127.0.0.2  ',
    'TRUE,node3.example.com,node3.example.com\r',
    'False,127.0.0.4,127.0.0.4',
    '   ',
  ].join('\n');
  expect(parseHostList(text, 'hosts.txt')).toEqual([
    { seed: true, target: '127.0.0.1', source: '127.0.0.1' },
    { seed: false, target: '127.0.0.2', source: '127.0.0.2' },
    { seed: true, target: 'node3.example.com', source: 'node3.example.com' },
    { seed: false, target: '127.0.0.4', source: '127.0.0.4' },
  ]);
  // Another host as source is parsed (the workflow refuses it, naming the hosts).
  expect(parseHostList('True,a,b\n', 'h')).toEqual([{ seed: true, target: 'a', source: 'b' }]);
});

test('a bad line ends the command with one line naming the file and the line', () => {
  const cases: [string, RegExp][] = [
    ['True,127.0.0.1,127.0.0.1\n\nTrue,127.0.0.2\n', /^hosts\.txt:3: expected seed,target,source/],
    ['True,127.0.0.1,127.0.0.1\nyes,127.0.0.2,127.0.0.2\n', /^hosts\.txt:2: the seed field must be True or False, not "yes"$/],
    ['True,,127.0.0.1\n', /^hosts\.txt:1: the target host must be a host name/],
    ['True,127.0.0.1,127.0.0.1,extra\n', /^hosts\.txt:1: expected seed,target,source/],
    ['True,127.0.0.1,127.0.0.1\nFalse,127.0.0.1,127.0.0.1\n', /^hosts\.txt:2: target 127\.0\.0\.1 is already listed on line 1$/],
    ['\n# nothing\n', /^hosts\.txt: no hosts listed/],
  ];
  for (const [text, message] of cases) {
    const e = failure(() => parseHostList(text, 'hosts.txt'));
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
    expect(e.exitCode).toBe(2);
  }
});

test('-pr after restore-cluster becomes --parallel-restores; elsewhere, and after --, it is left alone', () => {
  expect(expandShortFlags(['node', 'medusa', 'restore-cluster', '-pr', '4', '-pr=5', '--', '-pr']))
    .toEqual(['node', 'medusa', 'restore-cluster', '--parallel-restores', '4', '--parallel-restores=5', '--', '-pr']);
  expect(expandShortFlags(['node', 'medusa', 'restore-node', '-pr', '4'])).toEqual(['node', 'medusa', 'restore-node', '-pr', '4']);
});

test('the summary: a line per node, then the outcome with the skipped nodes and the verification', () => {
  const node = { tables: 3, files: 12, bytes: 2048, downloadedBytes: 1024 };
  expect(restoreSummary({ backupName: 'b1', mode: 'offline', nodes: [{ fqdn: 'n1', ...node }], skipped: [] })).toEqual([
    'restored b1 on n1: 3 tables, 12 files, 2.0 KiB (1.0 KiB downloaded)',
    'restore of b1 done (offline): 1 node',
  ]);
  const r = restoreSummary({
    backupName: 'b1', mode: 'online', nodes: [{ fqdn: 'n1', ...node }, { fqdn: 'n2', ...node }], skipped: ['n3'],
    verified: { query: 'SELECT * FROM ks.t', rows: 7 },
  });
  expect(r[2]).toBe('restore of b1 done (online): 2 nodes; skipped: n3; verified: 7 rows from SELECT * FROM ks.t');
});
