/**
 * Deterministic pseudo-random numbers (mulberry32), so that a randomised test or benchmark can be replayed
 * from its seed.
 *
 * @example
 * const random = rng(20261122);
 * random(); // 0 ≤ x < 1, the same sequence for the same seed
 */
export function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
