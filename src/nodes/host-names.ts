/**
 * Host-name lookups through the system's name service (NSS: /etc/hosts, DNS, …), as Python's
 * socket module makes them: `getent` asks the same C library functions (gethostbyaddr, getaddrinfo)
 * Python calls, so the answers are the ones Python Medusa gets on the same host. Node's own `dns`
 * module cannot give gethostbyaddr's aliases, which Python's getfqdn reads.
 */
import { execFile, execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { firstGetentAddress, HostEntry, HostIdentity, HostNameLookups, parseGetentHosts, pickFqdn } from '../plan/node-name';

const execFileAsync = promisify(execFile);

/** `getent <db> <key>`'s output; undefined when the key is not found (exit 2) or getent cannot run. */
function getent(db: string, key: string): string | undefined {
  try {
    return execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 });
  } catch {
    return undefined;
  }
}

async function getentAsync(db: string, key: string): Promise<string | undefined> {
  try {
    return (await execFileAsync('getent', [db, key], { encoding: 'utf8', timeout: 30_000 })).stdout;
  } catch {
    return undefined;
  }
}

/** Python's getfqdn: the name to look up, as Python takes it. */
function lookupName(name?: string): string {
  const n = (name ?? '').trim();
  return n === '' || n === '0.0.0.0' || n === '::' ? hostname() : n;
}

function entryOf(out: string | undefined): HostEntry | undefined {
  return out === undefined ? undefined : parseGetentHosts(out);
}

/**
 * This host's lookups. `getfqdn`: gethostbyaddr of the name's first getaddrinfo address (Python's
 * gethostbyaddr resolves a name that way), then Python's choice among the answer's names.
 */
export const systemHostNames: HostNameLookups = {
  getfqdn(name) {
    const n = lookupName(name);
    const address = isIP(n) ? n : firstGetentAddress(getent('ahosts', n) ?? '');
    return pickFqdn(n, address === undefined ? undefined : entryOf(getent('hosts', address)));
  },
  resolveName(name) {
    if (isIP(name) === 4) return name;
    return firstGetentAddress(getent('ahostsv4', name) ?? '') ?? firstGetentAddress(getent('ahosts', name) ?? '');
  },
};

/** Python's `socket.getfqdn(address)` for an address, without blocking the event loop (ring nodes, many at a time). */
export async function getfqdnOfAddress(address: string): Promise<string> {
  return pickFqdn(address, entryOf(await getentAsync('hosts', address)));
}

/** Medusa's name of a ring node from its address: the address, or getfqdn(address) with resolve_ip_addresses. */
export async function ringNodeNameOf(address: string, resolveIpAddresses: boolean): Promise<string> {
  return resolveIpAddresses ? getfqdnOfAddress(address) : address;
}

/**
 * This host's names and addresses: its hostname, getfqdn(), what that resolves to, `medusaName` (Medusa's
 * name for it, from medusa.ini), and the addresses of its non-loopback interfaces.
 */
export function thisHost(medusaName: string): HostIdentity {
  const own = systemHostNames.getfqdn();
  const ownAddress = systemHostNames.resolveName(own);
  const interfaces = Object.values(networkInterfaces()).flat().filter((i) => i && !i.internal).map((i) => i!.address);
  const addresses = [...new Set([...(ownAddress ? [ownAddress] : []), ...interfaces])];
  return { names: [...new Set([hostname(), own, medusaName, ...addresses])], addresses };
}
