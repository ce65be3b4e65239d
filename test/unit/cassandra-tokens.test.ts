import { balancedTokens, jmxPort } from '../../sandbox/parts/cassandra';

test('balanced Murmur3 tokens are exact and match ccm for 3 nodes', () => {
  expect(balancedTokens(3)).toEqual([-9223372036854775808n, -3074457345618258603n, 3074457345618258602n]);
  expect(balancedTokens(1)).toEqual([-(2n ** 63n)]);
});

test('tokens stay inside the Murmur3 range and strictly increase', () => {
  for (const n of [2, 5, 8]) {
    const t = balancedTokens(n);
    expect(t).toHaveLength(n);
    t.forEach((v, i) => {
      expect(v >= -(2n ** 63n) && v < 2n ** 63n).toBe(true);
      if (i > 0) expect(v > t[i - 1]).toBe(true);
    });
  }
});

test('every node gets its own JMX port', () => {
  expect([0, 1, 2].map(jmxPort)).toEqual([7200, 7300, 7400]);
});
