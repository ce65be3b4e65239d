/**
 * The name of a node, as Python Medusa computes it: the folder of the node's backups in the bucket
 * and its key in token maps. A switching user's history is found only under the same name, so the
 * rules below are Medusa's own (medusa/config.py `_handle_hostname_resolution`,
 * medusa/network/hostname_resolver.py, Python's `socket.getfqdn`), the lookups done by the caller.
 * Pure.
 */

/** What `gethostbyaddr` answers for an address: the canonical name and its aliases. */
export interface HostEntry {
  name: string;
  aliases: string[];
}

/**
 * Python's `socket.getfqdn(name)` once `gethostbyaddr(name)` has answered: the first of the
 * canonical name and the aliases that contains a dot, else the canonical name; `name` itself when
 * the lookup failed.
 */
export function pickFqdn(name: string, entry: HostEntry | undefined): string {
  if (!entry) return name;
  return [entry.name, ...entry.aliases].find((n) => n.includes('.')) ?? entry.name;
}

/** The name-service lookups Medusa's naming makes (done through the system resolver: /etc/hosts, DNS, …). */
export interface HostNameLookups {
  /** Python's `socket.getfqdn(name)`; no name: this host (`gethostname()`). */
  getfqdn(name?: string): string;
  /** Medusa's `resolve_name`: `gethostbyname(name)` (IPv4), else the first `getaddrinfo` address; undefined when neither answers. */
  resolveName(name: string): string | undefined;
}

/** The node's name could not be computed (Python Medusa dies on the same host with socket.gaierror). */
export class NodeNameError extends Error {
  override name = 'NodeNameError';
}

/**
 * Medusa's `[storage] fqdn`: `configured` is `--fqdn`, else `[storage] fqdn`, else nothing. A
 * configured name other than this host's `getfqdn()` is used as it is. This host's own name (the
 * default) is resolved to its address, which is the name when `resolve_ip_addresses` is exactly
 * `False`; otherwise the address is named again by `getfqdn`. `resolveIpAddresses` is the setting
 * as written (after MEDUSA_RESOLVE_IP_ADDRESSES): Medusa compares the text with "False" here, so
 * `false` or `no` still resolve the node's own name (while its token maps use addresses); an empty
 * value takes the address at once.
 */
export function medusaNodeName(configured: string | undefined, resolveIpAddresses: string, l: HostNameLookups): string {
  const own = l.getfqdn();
  if (configured !== undefined && configured !== own) return configured;
  const address = l.resolveName(own);
  if (address === undefined) {
    throw new NodeNameError(`this host's name ${own} does not resolve to an address (Medusa would fail the same way): set [storage] fqdn in medusa.ini, or --fqdn`);
  }
  if (resolveIpAddresses === '' || resolveIpAddresses === 'False') return address;
  return l.getfqdn(address);
}

/** One line of `getent hosts` (an address, its canonical name, its aliases), or undefined for anything else. */
export function parseGetentHosts(output: string): HostEntry | undefined {
  const fields = output.split('\n')[0]?.trim().split(/\s+/) ?? [];
  if (fields.length < 2) return undefined;
  return { name: fields[1], aliases: fields.slice(2) };
}

/** The first address of `getent ahosts`/`ahostsv4` output (`<address> STREAM <name>` lines). */
export function firstGetentAddress(output: string): string | undefined {
  const first = output.split('\n')[0]?.trim().split(/\s+/)[0];
  return first ? first : undefined;
}

/** What this host is called and where it is: its names (hostname, getfqdn, Medusa's name) and its non-loopback addresses. */
export interface HostIdentity {
  names: string[];
  addresses: string[];
}

/**
 * Whether `name` (a `--fqdn`) is this host: one of its names, or a name or address that resolves to one of
 * its addresses. Loopback addresses say nothing (every host has them), so `127.0.0.5` is this host only
 * when this host's own name resolves to it.
 */
export function isThisHost(name: string, self: HostIdentity, resolve: (name: string) => string | undefined): boolean {
  const n = name.trim().toLowerCase();
  if (self.names.some((m) => m.toLowerCase() === n)) return true;
  const address = resolve(name);
  return address !== undefined && self.addresses.includes(address);
}
