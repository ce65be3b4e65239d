import { createAdjustableLimiter, createBandwidthLimiter, LimiterClock } from '../../src/storage/bandwidth-limiter';

/** A clock that only moves when someone sleeps, recording every sleep. */
function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  const clock: LimiterClock = {
    now: () => t,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      t += ms;
    },
  };
  return { clock, sleeps, advance: (ms: number) => { t += ms; } };
}

test('0 or undefined means unlimited: never sleeps', async () => {
  for (const rate of [0, undefined]) {
    const { clock, sleeps } = fakeClock();
    const l = createBandwidthLimiter(rate, clock);
    await l.take(1e12);
    expect(sleeps).toEqual([]);
  }
});

test('the first second is a burst; after it, bytes go at the configured rate', async () => {
  const { clock, sleeps } = fakeClock();
  const l = createBandwidthLimiter(1000, clock); // 1000 B/s, burst 1000 B
  await l.take(1000);
  expect(sleeps).toEqual([]);
  await l.take(500);
  expect(sleeps).toEqual([500]);
  await l.take(2000);
  expect(sleeps).toEqual([500, 2000]);
});

test('tokens refill with time, up to the burst size only', async () => {
  const { clock, sleeps, advance } = fakeClock();
  const l = createBandwidthLimiter(1000, clock, 1000);
  await l.take(1000);
  advance(10_000); // ten idle seconds refill one second's worth, not ten
  await l.take(1000);
  expect(sleeps).toEqual([]);
  await l.take(100);
  expect(sleeps).toEqual([100]);
});

test('concurrent takers share the rate: the second waits for the first one\'s deficit too', async () => {
  // Sleeps that do not move the clock, as when both callers ask at the same instant.
  const sleeps: number[] = [];
  const clock: LimiterClock = { now: () => 0, sleep: async (ms) => { sleeps.push(ms); } };
  const l = createBandwidthLimiter(1000, clock, 0);
  await Promise.all([l.take(1000), l.take(1000)]);
  expect(sleeps).toEqual([1000, 2000]);
});

test('an aborted wait rejects and gives its bytes back', async () => {
  const { clock, sleeps } = fakeClock();
  const l = createBandwidthLimiter(1000, clock, 0);
  const ac = new AbortController();
  ac.abort();
  await expect(l.take(5000, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  await l.take(1000);
  expect(sleeps).toEqual([1000]);
});

test('with the real clock, small numbers: 2 KiB at 20 KiB/s after the burst takes about 100 ms', async () => {
  const l = createBandwidthLimiter(20 * 1024, undefined, 1);
  const start = performance.now();
  await l.take(1);
  await l.take(2048);
  expect(performance.now() - start).toBeGreaterThanOrEqual(90);
});

test('a changed rate applies to what is taken next; from unlimited to a limit there is no burst to spend', async () => {
  const { clock, sleeps } = fakeClock();
  const l = createAdjustableLimiter(1000, clock); // 1000 B/s, burst 1000 B
  await l.take(1000);
  await l.take(1000);
  expect(sleeps).toEqual([1000]);
  l.setRate(4000); // faster: the bucket refills at 4 B/ms from now on
  await l.take(2000);
  expect(sleeps).toEqual([1000, 500]);
  l.setRate(0); // unlimited
  expect(l.rate).toBe(0);
  await l.take(1e9);
  expect(sleeps).toEqual([1000, 500]);
  l.setRate(1000);
  await l.take(500);
  expect(sleeps).toEqual([1000, 500, 500]);
});

test('a large charge is waited for in slices, so a rate changed meanwhile applies to the rest', async () => {
  const { clock, sleeps } = fakeClock();
  const slice = 64 * 1024;
  const l = createAdjustableLimiter(slice, clock, 0); // one slice a second, no burst
  let slept = 0;
  const origSleep = clock.sleep;
  clock.sleep = async (ms, signal) => {
    await origSleep(ms, signal);
    if (++slept === 2) l.setRate(2 * slice); // after two slices, twice as fast
  };
  await l.take(4 * slice);
  expect(sleeps).toEqual([1000, 1000, 500, 500]);
});

test('a throttled stream whose source fails after its reader let go does not crash the process, and a reader still sees the error', async () => {
  const { Readable } = await import('node:stream');
  const { throttle } = await import('../../src/storage/bandwidth-limiter');
  const limiter = createAdjustableLimiter(1e9);
  const abandoned = new Readable({ read() {} });
  const out = throttle(abandoned, limiter);
  out.resume(); // read by someone who goes away: no 'error' listener of theirs
  const crashed = jest.fn();
  process.once('uncaughtException', crashed);
  abandoned.destroy(new Error('aborted'));
  await new Promise((r) => setTimeout(r, 20));
  process.off('uncaughtException', crashed);
  expect(crashed).not.toHaveBeenCalled();
  expect(out.destroyed).toBe(true);

  const failing = new Readable({ read() {} });
  const read = (async () => { for await (const chunk of throttle(failing, limiter)) void chunk; })();
  failing.destroy(new Error('disk gone'));
  await expect(read).rejects.toThrow('disk gone');
});
