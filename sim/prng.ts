/**
 * Seeded pseudo-random numbers, one independent stream per named operation, so adding a
 * jittered latency in one place never shifts the numbers another place draws.
 */

/** FNV-1a over the UTF-16 code units; stable across runs and platforms. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: tiny, fast, good enough for latency jitter (not for cryptography). */
export class PrngStream {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
}

export class Prng {
  private readonly streams = new Map<string, PrngStream>();
  constructor(readonly seed: number) {}
  stream(name: string): PrngStream {
    let s = this.streams.get(name);
    if (!s) {
      s = new PrngStream(hashName(name) ^ Math.imul(this.seed >>> 0, 0x9e3779b1));
      this.streams.set(name, s);
    }
    return s;
  }
}
