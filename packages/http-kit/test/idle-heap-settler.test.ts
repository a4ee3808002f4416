import { describe, expect, it } from 'vitest';
import { IdleHeapSettler } from '../src/idle-heap-settler.js';

describe('idle heap settler', () => {
  const settler = (minRequests = 3) => {
    let now = 0;
    let collections = 0;
    const s = new IdleHeapSettler({
      idleMs: 5_000,
      checkMs: 0,
      minRequests,
      collect: () => collections++,
      now: () => now,
    });
    return {
      s,
      at: (ms: number) => (now = ms),
      collections: () => collections,
      requests: (n: number) => {
        for (let i = 0; i < n; i++) s.activity();
      },
    };
  };

  it('when start-up is over and the service stays quiet, then it collects once', () => {
    const t = settler(100);
    t.at(4_000);
    expect(t.s.check()).toBe(false);
    t.at(5_000);
    expect(t.s.check()).toBe(true);
    t.at(30_000);
    expect(t.s.check()).toBe(false);
    expect(t.collections()).toBe(1);
  });

  it('when a burst ends and the service stays quiet, then it collects once, not again while quiet', () => {
    const t = settler();
    t.at(5_000);
    expect(t.s.check()).toBe(true); // start-up's collection
    t.requests(10);
    t.at(6_000);
    expect(t.s.check()).toBe(false); // the burst is seen
    t.at(9_000);
    expect(t.s.check()).toBe(false); // quiet 3 s only
    t.at(11_500);
    expect(t.s.check()).toBe(true);
    t.at(30_000);
    expect(t.s.check()).toBe(false);
    expect(t.collections()).toBe(2);
  });

  it('when requests keep coming, then it never collects during them', () => {
    const t = settler();
    for (let ms = 0; ms <= 60_000; ms += 1_000) {
      t.requests(5);
      t.at(ms);
      expect(t.s.check()).toBe(false);
    }
    expect(t.collections()).toBe(0);
  });

  it('when only a few probes came since the last collection, then quiet does not trigger another', () => {
    const t = settler(100);
    t.at(5_000);
    expect(t.s.check()).toBe(true); // start-up's collection
    t.requests(150);
    t.at(6_000);
    t.s.check();
    t.at(12_000);
    expect(t.s.check()).toBe(true);
    t.requests(2); // health probes
    t.at(13_000);
    t.s.check();
    t.at(30_000);
    expect(t.s.check()).toBe(false);
    expect(t.collections()).toBe(2);
  });

  it('when the runtime exposes no gc, then it does nothing', () => {
    const s = new IdleHeapSettler({ idleMs: 0, checkMs: 0, minRequests: 0, collect: undefined });
    s.activity();
    s.check();
    expect(s.check()).toBe(false);
  });
});
