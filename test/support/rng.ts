/** A small seeded PRNG (sfc32), so a random test names a case that can be replayed, and the picks made with it. */

export interface Rng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string;
  bytes(length: number): Buffer;
  /** A child generator: same sequence for the same parent state, independent afterwards. */
  fork(): Rng;
}

function mix(seed: number): number {
  // splitmix32: spreads a small seed over all the bits sfc32 starts from.
  let z = (seed + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export function createRng(seed: number): Rng {
  let a = mix(seed);
  let b = mix(a);
  let c = mix(b);
  let d = 1;
  function next32(): number {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }
  for (let i = 0; i < 12; i++) next32();
  const rng: Rng = {
    seed,
    next: () => next32() / 4294967296,
    int: (min, max) => min + Math.floor((next32() / 4294967296) * (max - min + 1)),
    chance: (p) => next32() / 4294967296 < p,
    pick: (items) => items[Math.floor((next32() / 4294967296) * items.length)] as (typeof items)[number],
    string(alphabet, length) {
      let out = '';
      for (let i = 0; i < length; i++) out += alphabet[Math.floor((next32() / 4294967296) * alphabet.length)];
      return out;
    },
    bytes(length) {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = next32() & 0xff;
      return out;
    },
    fork: () => createRng(next32()),
  };
  return rng;
}

/** The seed of a run: `FUZZ_SEED` when set (to replay a failure), else a fresh one. */
export function runSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed)) throw new TypeError(`FUZZ_SEED must be an integer, got ${given}`);
    return seed >>> 0;
  }
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

export const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.@~';
export const TOKEN_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._~-';
/** Characters that are close to valid and break parsers: separators, quotes, spaces, unicode. */
export const NASTY_CHARS = '/,:;"\' \t*%+?#&=<>[]{}()\\|!$^`\u00e9\u00a0\u2028\u{1f600}\u0000\u007f\u00ff';
