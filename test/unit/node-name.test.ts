import { firstGetentAddress, HostNameLookups, isThisHost, medusaNodeName, parseGetentHosts, pickFqdn } from '../../src/plan/node-name';

test("pickFqdn is Python's getfqdn choice: the first name with a dot, else the canonical name, else the name asked", () => {
  expect(pickFqdn('node2', { name: 'node2.dc1.example', aliases: ['node2'] })).toBe('node2.dc1.example');
  // Debian's usual line `127.0.1.1 node2 node2.example` puts the short name first: Python still takes the dotted alias.
  expect(pickFqdn('node2', { name: 'node2', aliases: ['node2.example', 'n2.other'] })).toBe('node2.example');
  expect(pickFqdn('127.0.0.1', { name: 'localhost', aliases: [] })).toBe('localhost');
  expect(pickFqdn('10.1.2.3', undefined)).toBe('10.1.2.3');
});

test('getent output is read as gethostbyaddr and getaddrinfo answer', () => {
  expect(parseGetentHosts('127.0.0.3       node2.sandbox.test node2\n')).toEqual({ name: 'node2.sandbox.test', aliases: ['node2'] });
  expect(parseGetentHosts('')).toBeUndefined();
  expect(firstGetentAddress('127.0.0.9       STREAM node9.sandbox.test\n127.0.0.9       DGRAM\n')).toBe('127.0.0.9');
  expect(firstGetentAddress('')).toBeUndefined();
});

describe("medusaNodeName follows Medusa's config.py", () => {
  const lookups = (names: Record<string, string>, addresses: Record<string, string>): HostNameLookups => ({
    getfqdn: (name) => names[name ?? ''] ?? name ?? '',
    resolveName: (name) => addresses[name],
  });
  const l = lookups({ '': 'node2.example', '10.0.0.3': 'node2.example' }, { 'node2.example': '10.0.0.3' });

  test('resolve_ip_addresses = False: the address of getfqdn()', () => {
    expect(medusaNodeName(undefined, 'False', l)).toBe('10.0.0.3');
  });

  test('True (the default): getfqdn() of that address', () => {
    expect(medusaNodeName(undefined, 'True', l)).toBe('node2.example');
    // The address names another host in reverse DNS: Medusa takes that name.
    expect(medusaNodeName(undefined, 'True', lookups({ '': 'node2.example', '10.0.0.3': 'ip-10-0-0-3.internal' }, { 'node2.example': '10.0.0.3' })))
      .toBe('ip-10-0-0-3.internal');
  });

  test('only the exact text False keeps the address (Medusa compares strings there); empty takes it too', () => {
    expect(medusaNodeName(undefined, 'false', l)).toBe('node2.example');
    expect(medusaNodeName(undefined, '0', l)).toBe('node2.example');
    expect(medusaNodeName(undefined, '', l)).toBe('10.0.0.3');
  });

  test('a configured name is kept unless it is getfqdn() itself', () => {
    expect(medusaNodeName('cass-2.prod', 'False', l)).toBe('cass-2.prod');
    expect(medusaNodeName('node2.example', 'False', l)).toBe('10.0.0.3');
  });

  test("a host whose name does not resolve: one line saying what to set", () => {
    expect(() => medusaNodeName(undefined, 'True', lookups({ '': 'node2' }, {}))).toThrow(/node2 does not resolve.*set \[storage\] fqdn/);
    expect(medusaNodeName('cass-2', 'True', lookups({ '': 'node2' }, {}))).toBe('cass-2');
  });
});

test('isThisHost: a name of the host, or anything resolving to its own address; loopback addresses alone say nothing', () => {
  const self = { names: ['node2', 'node2.sandbox.test', '127.0.0.3'], addresses: ['127.0.0.3'] };
  const resolve = (n: string) => ({ 'node2.sandbox.test': '127.0.0.3', node3: '127.0.0.4', '127.0.0.2': '127.0.0.2', 'NODE2-ALIAS': '127.0.0.3' } as Record<string, string>)[n];
  expect(isThisHost('127.0.0.3', self, resolve)).toBe(true);
  expect(isThisHost('Node2.Sandbox.Test', self, resolve)).toBe(true);
  expect(isThisHost('NODE2-ALIAS', self, resolve)).toBe(true);
  expect(isThisHost('127.0.0.2', self, resolve)).toBe(false);
  expect(isThisHost('node3', self, resolve)).toBe(false);
  expect(isThisHost('unknown', self, resolve)).toBe(false);
});
