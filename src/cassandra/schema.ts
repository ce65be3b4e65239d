/** The schema through server-side DESCRIBE (Cassandra 4.0+), one row per element. */
import { Client } from 'cassandra-driver';
import { forEachRow } from './paging';

export interface SchemaElement {
  keyspace: string;
  /** keyspace, type, function, aggregate, table, index, materialized_view */
  type: string;
  name: string;
  statement: string;
}

/** `DESCRIBE SCHEMA` (user keyspaces) or `DESCRIBE FULL SCHEMA` (system keyspaces too), all pages. */
export async function describeSchema(client: Client, opts: { full?: boolean } = {}): Promise<SchemaElement[]> {
  const elements: SchemaElement[] = [];
  await forEachRow(client, opts.full ? 'DESCRIBE FULL SCHEMA' : 'DESCRIBE SCHEMA', [], { prepare: false }, (row) => elements.push({
    keyspace: row.keyspace_name as string, type: row.type as string, name: row.name as string, statement: row.create_statement as string,
  }));
  return elements;
}
