/**
 * A small seeded PRNG (SplitMix32 seeding a xoshiro128**), so that the same seed gives the same
 * initial weights and the same shuffles on every backend and platform. State is four u32 words,
 * which checkpoints save and restore.
 */
export class Random {
  private s: Uint32Array;

  /** A generator seeded from a 32-bit integer seed. */
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // SplitMix32 spreads one seed word over the whole state (xoshiro must not start at zero).
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** The next uniformly distributed u32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller; one of the pair is discarded so the stream stays simple). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]: log stays finite
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle of `order` in place. */
  shuffle(order: Uint32Array): void {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }

  /** The generator's state, to save in a checkpoint. */
  getState(): number[] {
    return Array.from(this.s);
  }

  /** Restores a state from `getState`. */
  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.every((w) => w === 0)) throw new RangeError('Random.setState: need four u32 words, not all zero');
    this.s.set(state.map((w) => w >>> 0));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Throws unless `seed` is a whole number in [0, 2^32), the generator's seed range; returns it. */
export function checkSeed(seed: number, where: string): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`${where}: seed must be an integer in [0, 2^32), got ${seed}`);
  return seed;
}

/**
 * A well-mixed u32 from a key and a counter (a counter-based generator): value i does not depend
 * on values before it, so masks come out the same whatever computes them and whatever ran before,
 * which a resumed run needs. The mixing is Wellons' "lowbias32" integer hash.
 */
export function hash32(key: number, counter: number): number {
  return hashAt(streamSalt(key), counter);
}

/** The mixed key of a stream of hashes: `hashAt(streamSalt(key), i)` is `hash32(key, i)`, with the key mixed once. */
export function streamSalt(key: number): number {
  return mix(key);
}

/** Value `counter` of the stream of `salt` (see `streamSalt`). */
export function hashAt(salt: number, counter: number): number {
  return mix(Math.imul(counter, 0x9e3779b9) + salt);
}

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}
