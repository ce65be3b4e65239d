/**
 * Medusa's bucket layout (reference/medusa.md §1): where each object of a node backup goes.
 *
 *   P<fqdn>/<name>/meta/{schema.cql,tokenmap.json,server_version.json,differential,manifest.json}
 *   P<fqdn>/<name>/data/<ks>/<table_dir>[/.<index>]/<file>      full mode
 *   P<fqdn>/data/<ks>/<table_dir>[/.<index>]/<file>             differential mode (the node's pool)
 *   Pindex/backup_index/<name>/{tokenmap_,schema_,manifest_,differential_,started_,finished_}<fqdn>…
 *   Pindex/latest_backup/<fqdn>/{tokenmap.json,backup_name.txt}
 *
 * P is "<prefix>/" or "". Pure code.
 */
export type BackupMode = 'full' | 'differential';

export class Layout {
  readonly p: string;

  constructor(prefix: string, readonly fqdn: string) {
    this.p = prefix ? `${prefix}/` : '';
  }

  nodeBase(): string {
    return `${this.p}${this.fqdn}`;
  }

  meta(name: string, file: 'schema.cql' | 'tokenmap.json' | 'server_version.json' | 'differential' | 'manifest.json'): string {
    return `${this.nodeBase()}/${name}/meta/${file}`;
  }

  /** Prefix under which data objects of this backup live (the pool in differential mode). */
  dataRoot(mode: BackupMode, name: string): string {
    return mode === 'full' ? `${this.nodeBase()}/${name}/data/` : `${this.nodeBase()}/data/`;
  }

  /** Key of one SSTable component; `rel` is `<ks>/<table_dir>[/.<index>]/<file>`. */
  dataKey(mode: BackupMode, name: string, rel: string): string {
    return this.dataRoot(mode, name) + rel;
  }

  indexDir(name: string): string {
    return `${this.p}index/backup_index/${name}/`;
  }

  index(name: string, kind: 'tokenmap' | 'schema' | 'manifest' | 'differential'): string {
    const ext = { tokenmap: '.json', schema: '.cql', manifest: '.json', differential: '' }[kind];
    return `${this.indexDir(name)}${kind}_${this.fqdn}${ext}`;
  }

  indexTimestamp(name: string, kind: 'started' | 'finished', epochSeconds: number): string {
    return `${this.indexDir(name)}${kind}_${this.fqdn}_${epochSeconds}.timestamp`;
  }

  latest(file: 'tokenmap.json' | 'backup_name.txt'): string {
    return `${this.p}index/latest_backup/${this.fqdn}/${file}`;
  }
}
