import { describe, expect, it } from 'vitest';
import { CircuitBreakers } from './breaker.js';

describe('CircuitBreakers', () => {
  const settings = { errorRatio: 0.5, minRequests: 4, windowMs: 10_000, openMs: 5_000 };

  it('opens on the error ratio, lets one half-open probe through, and closes on its success', () => {
    const b = new CircuitBreakers(settings);
    for (const ok of [true, false, true]) b.record('p/m', ok, 1000);
    expect(b.status('p/m', 1000)).toBe('closed');
    b.record('p/m', false, 1000);
    expect(b.status('p/m', 1000)).toBe('open');
    expect(b.allow('p/m', 2000)).toBe(false);
    expect(b.allow('p/m', 6001)).toBe(true);
    expect(b.allow('p/m', 6001)).toBe(false);
    b.record('p/m', true, 6002);
    expect(b.status('p/m', 6002)).toBe('closed');
    expect(b.allow('p/m', 6003)).toBe(true);
  });

  it('re-opens when the probe fails and forgets attempts older than the window', () => {
    const b = new CircuitBreakers(settings);
    for (let i = 0; i < 4; i++) b.record('p/m', false, 0);
    expect(b.allow('p/m', 5001)).toBe(true);
    b.record('p/m', false, 5001);
    expect(b.status('p/m', 5002)).toBe('open');
    const c = new CircuitBreakers(settings);
    for (let i = 0; i < 3; i++) c.record('x/y', false, 0);
    c.record('x/y', false, 20_000);
    expect(c.status('x/y', 20_000)).toBe('closed');
  });

  it('counts every outcome of a busy target, whatever the rate, and moves its window slice by slice', () => {
    const b = new CircuitBreakers({ errorRatio: 0.6, minRequests: 10, windowMs: 10_000, openMs: 5_000 });
    for (let t = 0; t < 100_000; t++) b.record('p/m', t % 2 === 0, t);
    expect(b.status('p/m', 100_000)).toBe('closed');
    for (let t = 100_000; t < 101_500; t++) b.record('p/m', false, t);
    // the last 10 s: 1,500 failures, then half of about 8,500 alternating outcomes: 57.5%, under the ratio
    expect(b.status('p/m', 101_500)).toBe('closed');
    for (let t = 101_500; t < 102_500; t++) b.record('p/m', false, t);
    expect(b.status('p/m', 102_500)).toBe('open');
  });
});
