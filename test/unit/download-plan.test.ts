/** The pure part of `medusa download`: Medusa's table selection, and refusing any manifest path or destination that could escape. */
import { checkDestination, checkNoSymlinks, destinationRel, selectDownload, tableSelected, usableMd5 } from '../../src/plan/download';
import { ManifestSection } from '../../src/plan/manifest';

const P = 'pfx/127.0.0.2/data';
const section = (keyspace: string, columnfamily: string, files: string[], md5: string | null = null): ManifestSection => ({
  keyspace, columnfamily, objects: files.map((f, i) => ({ path: `${P}/${keyspace}/${columnfamily}/${f}`, MD5: md5, size: 10 + i })),
});
const MANIFEST = [
  section('system', 'local-7ad54392bcdd35a684174e047860b377', ['nb-1-big-Data.db']),
  section('system_schema', 'tables-afddfb9dbc1e30688056eed6c302ba09', ['nb-1-big-Data.db']),
  section('shop', 'orders-872ded20e99c11f18bfa53140cb874ae', ['nb-1-big-Data.db', 'nb-1-big-TOC.txt'], 'd41d8cd98f00b204e9800998ecf8427e'),
  section('shop', 'customers-11', ['nb-1-big-Data.db', '.customers_by_country/nb-1-big-Data.db']),
  section('metrics', 'readings-22', []),
];

test('no filter: every table; filters keep the named keyspaces and tables (named without id) and the system keyspaces', () => {
  const all = selectDownload(MANIFEST, {});
  expect(all.tables).toHaveLength(5);
  expect(all.items.map((i) => i.rel)).toContain('shop/customers-11/.customers_by_country/nb-1-big-Data.db');
  const orders = selectDownload(MANIFEST, { tables: ['shop.orders'] });
  expect(orders.tables).toEqual(['system.local-7ad54392bcdd35a684174e047860b377', 'system_schema.tables-afddfb9dbc1e30688056eed6c302ba09', 'shop.orders-872ded20e99c11f18bfa53140cb874ae']);
  expect(selectDownload(MANIFEST, { tables: ['shop.orders'], ignoreSystemKeyspaces: true }).tables).toEqual(['shop.orders-872ded20e99c11f18bfa53140cb874ae']);
  expect(selectDownload(MANIFEST, { keyspaces: ['shop'], ignoreSystemKeyspaces: true }).tables).toEqual(['shop.orders-872ded20e99c11f18bfa53140cb874ae', 'shop.customers-11']);
  // Unlike Medusa, ignoring system keyspaces applies without filters too.
  expect(selectDownload(MANIFEST, { ignoreSystemKeyspaces: true }).tables).toHaveLength(3);
  expect(tableSelected('shop', 'orders-1', { keyspaces: ['metrics'] })).toBe(false);
  expect(tableSelected('system_auth', 'roles-1', { keyspaces: ['metrics'] })).toBe(true);
});

test('items carry the key verbatim, the size, and an MD5 only where the manifest has a whole-content one', () => {
  const { items } = selectDownload(MANIFEST, { tables: ['shop.orders'], ignoreSystemKeyspaces: true });
  expect(items).toEqual([
    { key: `${P}/shop/orders-872ded20e99c11f18bfa53140cb874ae/nb-1-big-Data.db`, rel: 'shop/orders-872ded20e99c11f18bfa53140cb874ae/nb-1-big-Data.db', size: 10, md5: 'd41d8cd98f00b204e9800998ecf8427e' },
    { key: `${P}/shop/orders-872ded20e99c11f18bfa53140cb874ae/nb-1-big-TOC.txt`, rel: 'shop/orders-872ded20e99c11f18bfa53140cb874ae/nb-1-big-TOC.txt', size: 11, md5: 'd41d8cd98f00b204e9800998ecf8427e' },
  ]);
  expect(selectDownload(MANIFEST, { tables: ['shop.orders'], ignoreSystemKeyspaces: true }, false).items[0].md5).toBeNull();
  expect(usableMd5('D41D8CD98F00B204E9800998ECF8427E')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  expect(usableMd5('1B2M2Y8AsgTpgAmY7PhCfg==')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  expect(usableMd5('d41d8cd98f00b204e9800998ecf8427e-3')).toBeNull();
  expect(usableMd5(null)).toBeNull();
  expect(usableMd5('no-md5-hash')).toBeNull();
});

test('manifest paths that could escape the destination are refused', () => {
  const ks = 'shop';
  const cf = 'orders-1';
  expect(destinationRel(ks, cf, `${P}/shop/orders-1/nb-1-big-Data.db`)).toBe('shop/orders-1/nb-1-big-Data.db');
  expect(destinationRel(ks, cf, 'shop/orders-1/.idx/nb-1-big-Data.db')).toBe('shop/orders-1/.idx/nb-1-big-Data.db');
  for (const bad of [
    `${P}/shop/orders-1/../../../../etc/cron.d/x`, `${P}/shop/orders-1/../x`, `${P}/shop/orders-1/..`, `/shop/orders-1/x`, `${P}//shop/orders-1/x`,
    `${P}/shop/orders-1/./x`, `${P}/shop/other-2/x`, `${P}/other/orders-1/x`, 'orders-1/x', `${P}/shop/orders-1/.idx/`, `${P}/shop/orders-1/-x`,
    `${P}/shop/orders-1/.../x`,
  ]) {
    expect(() => destinationRel(ks, cf, bad)).toThrow(expect.objectContaining({ name: 'UnsafePath' }));
  }
  expect(() => destinationRel('..', cf, `${P}/../orders-1/x`)).toThrow(/keyspace/);
  expect(() => destinationRel(ks, '../x', `${P}/shop/../x/y`)).toThrow(/table/);
  const escaping: ManifestSection[] = [{ keyspace: 'shop', columnfamily: 'orders-1', objects: [{ path: `${P}/shop/orders-1/../../../escape.txt`, MD5: null, size: 1 }] }];
  expect(() => selectDownload(escaping, {})).toThrow(/\.\..*refused/);
  // A filtered-out table is not downloaded, so its paths do not matter.
  expect(selectDownload(escaping, { keyspaces: ['metrics'] }).items).toEqual([]);
  const twice: ManifestSection[] = [{ keyspace: 'shop', columnfamily: 'orders-1', objects: [{ path: 'a/shop/orders-1/x', MD5: null, size: 1 }, { path: 'b/shop/orders-1/x', MD5: null, size: 1 }] }];
  expect(() => selectDownload(twice, {})).toThrow(/would both be written to shop\/orders-1\/x/);
});

test('destinations: absolute, no "..", not /; symbolic links inside the destination on the way of a file are refused', () => {
  expect(checkDestination('/var/lib/dl/')).toBe('/var/lib/dl');
  expect(checkDestination('/var//lib/./dl')).toBe('/var/lib/dl');
  for (const bad of ['dl', './dl', '/var/../etc', '/', '//']) expect(() => checkDestination(bad)).toThrow(expect.objectContaining({ name: 'UnsafePath' }));
  const rels = ['shop/orders-1/x', 'shop/customers-1/.idx/y', 'manifest.json'];
  expect(() => checkNoSymlinks(rels, [])).not.toThrow();
  expect(() => checkNoSymlinks(rels, ['other', 'shop/orders-10'])).not.toThrow();
  expect(() => checkNoSymlinks(rels, ['shop'])).toThrow(/^shop in the download destination is a symbolic link/);
  expect(() => checkNoSymlinks(rels, ['shop/customers-1/.idx'])).toThrow(/symbolic link/);
  expect(() => checkNoSymlinks(rels, ['manifest.json'])).toThrow(/symbolic link/);
});
