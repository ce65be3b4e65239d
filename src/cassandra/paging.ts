import { Client, QueryOptions, types } from 'cassandra-driver';

/**
 * Reads every row of a query, one page at a time, with `execute` and the paging state.
 *
 * Not `eachRow`/`stream`: those parse rows while a frame is still arriving and detect "need more
 * bytes" with `instanceof RangeError`, which fails where the Buffer's RangeError comes from another
 * realm (jest's sandbox), so a page split across TCP reads is then misparsed. Whole pages avoid it.
 */
export async function forEachRow(
  client: Client, query: string, params: unknown[], options: QueryOptions, onRow: (row: types.Row) => void,
): Promise<number> {
  let pageState: string | undefined;
  let count = 0;
  do {
    const rs = await client.execute(query, params, { ...options, pageState, autoPage: false });
    for (const row of rs.rows) {
      onRow(row);
      count++;
    }
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return count;
}
