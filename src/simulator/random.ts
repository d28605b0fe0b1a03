import type { LatencyOptions } from './options.js';

/** A seeded generator of numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: a tiny, fast, seeded PRNG, so every decision of a run can be replayed from its seed. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** z-score of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

/** A standard normal draw (Box-Muller), using two draws of `random`. */
function standardNormal(random: Random): number {
  const u = 1 - random(); // (0, 1]: log(0) must not happen
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Returns a sampler of latencies in ms following `latency`, drawing from `random`. Never negative. */
export function latencySampler(latency: LatencyOptions, random: Random): () => number {
  switch (latency.type) {
    case 'none':
      return () => 0;
    case 'fixed':
      return () => latency.ms;
    case 'uniform':
      return () => latency.min + (latency.max - latency.min) * random();
    case 'normal': {
      const sigma = (latency.p99 - latency.mean) / Z99;
      return () => Math.max(0, latency.mean + sigma * standardNormal(random));
    }
    case 'lognormal': {
      // Solve mean = e^(mu + s^2/2) and p99 = e^(mu + Z99 s) for s (smaller root) and mu.
      const gap = Math.log(latency.p99) - Math.log(latency.mean);
      const disc = Z99 * Z99 - 2 * gap;
      const s = disc > 0 ? Z99 - Math.sqrt(disc) : Z99;
      const mu = Math.log(latency.mean) - (s * s) / 2;
      return () => Math.exp(mu + s * standardNormal(random));
    }
  }
}

/** FNV-1a hash of a string, for deterministic content derived from a prompt. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
