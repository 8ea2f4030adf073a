import { createHash } from "node:crypto";
import { hash32, mix32 } from "./random";

/** Products are served in blocks of this size; every block is a pure function of (seed, product key, index). */
export const BLOCK_SIZE = 64 * 1024;
const POOL_SIZE = 1024 * 1024;

/**
 * Generates product bytes on the fly: one seeded 1 MiB random pool, and each 64 KiB block of a
 * product is a copy of the pool at an offset keyed by (product, block) with the block index and
 * product key stamped in its first 8 bytes. A block costs one memcpy, so GiB products serve at
 * memory speed and are never held in memory or written to disk.
 */
export class ByteSource {
  private readonly pool: Buffer;

  constructor(seed: string | number) {
    // The pool is one block longer than POOL_SIZE so any offset below POOL_SIZE has a whole block after it.
    const words = new Uint32Array((POOL_SIZE + BLOCK_SIZE) / 4);
    let x = hash32(`pool:${seed}`) || 1;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.pool = Buffer.from(words.buffer);
  }

  /** Block `index` of the product keyed `key` (see `productKey`). */
  block(key: number, index: number): Buffer {
    const offset = mix32(key ^ Math.imul(index + 1, 0x9e3779b1)) & (POOL_SIZE - 1);
    const out = Buffer.allocUnsafe(BLOCK_SIZE);
    this.pool.copy(out, 0, offset, offset + BLOCK_SIZE);
    out.writeUInt32LE(index >>> 0, 0);
    out.writeUInt32LE(key, 4);
    return out;
  }

  /** Bytes [start, end) of a product, in chunks of at most one block, aligned to blocks after the first. */
  *chunks(key: number, start: number, end: number): Generator<Buffer> {
    let position = start;
    while (position < end) {
      const index = Math.floor(position / BLOCK_SIZE);
      const blockStart = index * BLOCK_SIZE;
      const from = position - blockStart;
      const to = Math.min(BLOCK_SIZE, end - blockStart);
      const block = this.block(key, index);
      yield from === 0 && to === BLOCK_SIZE ? block : block.subarray(from, to);
      position = blockStart + to;
    }
  }

  /** The bytes [start, end) in one buffer: for small ranges and tests only. */
  slice(key: number, start: number, end: number): Buffer {
    return Buffer.concat([...this.chunks(key, start, end)]);
  }

  /** MD5 (lowercase hex) of a whole product, synchronously. */
  md5(key: number, size: number): string {
    const hash = createHash("md5");
    for (const chunk of this.chunks(key, 0, size)) hash.update(chunk);
    return hash.digest("hex");
  }

  /** MD5 (lowercase hex) of a whole product, yielding to the event loop every 64 MiB so a server stays responsive. */
  async md5Async(key: number, size: number): Promise<string> {
    const hash = createHash("md5");
    const step = 1024 * BLOCK_SIZE;
    for (let start = 0; start < size; start += step) {
      for (const chunk of this.chunks(key, start, Math.min(size, start + step))) hash.update(chunk);
      if (start + step < size) await new Promise((resolve) => setImmediate(resolve));
    }
    return hash.digest("hex");
  }
}

/** The 32-bit key that selects a product's bytes: derived from its id, so bytes follow the id. */
export function productKey(id: string): number {
  return hash32(`product:${id}`);
}
