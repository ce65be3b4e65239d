import { entryMatches, knownKeyTypes, parseKnownHosts, verifyHostKey } from '../../src/nodes/ssh/known-hosts';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIAiEPQ5SVa1stSMBRfUvpicoGW8lz/5+30WQYxnaz/8T';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIKDL37jr79RzzbYJ2uJuOowwOU4D3tzbLu/VK3Ymneko';
const blob = (k: string) => Buffer.from(k, 'base64');

// The hashed line was written by `ssh-keygen -H` for "[10.0.0.7]:2222" with KEY_A.
const FILE = `
# comment
cass1.example.com,10.0.0.5 ssh-ed25519 ${KEY_A}
[10.0.0.6]:2222 ssh-ed25519 ${KEY_B}
|1|tJG3CnjaIkF+acWG7gxzcU0DnLE=|us3GvFC+GxdsPRGd3Z93k4EsfhA= ssh-ed25519 ${KEY_A}
*.dc2.example.com,!bad.dc2.example.com ssh-ed25519 ${KEY_B}
@revoked * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJldm9rZWRyZXZva2VkcmV2b2tlZHJldm9rZWQ=
@cert-authority *.example.com ssh-ed25519 ${KEY_B}
`;
const entries = parseKnownHosts(FILE);

test('parses entries, skipping comments and blank lines, keeping markers', () => {
  expect(entries).toHaveLength(6);
  expect(entries[0]).toEqual({ marker: undefined, hosts: 'cass1.example.com,10.0.0.5', keyType: 'ssh-ed25519', key: KEY_A });
  expect(entries[4].marker).toBe('@revoked');
});

test('plain names match on port 22 only; other ports need the [host]:port form', () => {
  expect(verifyHostKey(entries, '10.0.0.5', 22, blob(KEY_A))).toEqual({ ok: true });
  expect(verifyHostKey(entries, '10.0.0.5', 2222, blob(KEY_A))).toMatchObject({ ok: false, reason: 'unknown-host' });
  expect(verifyHostKey(entries, '10.0.0.6', 2222, blob(KEY_B))).toEqual({ ok: true });
  expect(verifyHostKey(entries, '10.0.0.6', 22, blob(KEY_B))).toMatchObject({ ok: false, reason: 'unknown-host' });
});

test('hashed entries written by ssh-keygen -H are matched', () => {
  expect(verifyHostKey(entries, '10.0.0.7', 2222, blob(KEY_A))).toEqual({ ok: true });
  expect(verifyHostKey(entries, '10.0.0.8', 2222, blob(KEY_A))).toMatchObject({ ok: false, reason: 'unknown-host' });
});

test('a known host presenting another key is a mismatch, and the message names the host', () => {
  const v = verifyHostKey(entries, 'cass1.example.com', 22, blob(KEY_B));
  expect(v).toMatchObject({ ok: false, reason: 'mismatch' });
  expect(!v.ok && v.message).toContain('cass1.example.com');
});

test('wildcards match and negations exclude', () => {
  expect(verifyHostKey(entries, 'n1.dc2.example.com', 22, blob(KEY_B))).toEqual({ ok: true });
  expect(entryMatches(entries[3], 'bad.dc2.example.com', 22)).toBe(false);
  expect(verifyHostKey(entries, 'bad.dc2.example.com', 22, blob(KEY_B))).toMatchObject({ ok: false, reason: 'unknown-host' });
});

test('a revoked key is refused even for a host that lists it', () => {
  const revoked = entries[4].key;
  const withRevoked = [...entries, { hosts: 'x.example.com', keyType: 'ssh-ed25519', key: revoked }];
  expect(verifyHostKey(withRevoked, 'x.example.com', 22, blob(revoked))).toMatchObject({ ok: false, reason: 'revoked' });
});

test('a @cert-authority line is not accepted as a host key', () => {
  expect(verifyHostKey(entries, 'other.example.com', 22, blob(KEY_B))).toMatchObject({ ok: false, reason: 'unknown-host' });
});

test('knownKeyTypes lists the key types on file for a host', () => {
  expect(knownKeyTypes(entries, '10.0.0.5', 22)).toEqual(['ssh-ed25519']);
  expect(knownKeyTypes(entries, 'nowhere', 22)).toEqual([]);
});
