import { crc32 } from "node:zlib";
import { DESCRIPTOR_SIGNATURE, readUint64 } from "./format";

/** The entry whose data is streaming, as a checkpoint keeps it. */
export interface Entry {
  name: string;
  offset: number;
  declaredCrc: number;
  /** Its data's length from the local header; undefined when only its data descriptor says (found by search). */
  declaredSize: number | undefined;
  descriptor: boolean;
  zip64: boolean;
  /** CRC-32 and length of the data bytes seen so far. */
  crc: number;
  length: number;
}

/** Where feeding data stopped: the next unread byte, the bytes held back, and whether the data ended. */
export interface DataFed {
  at: number;
  tail: Buffer;
  ended: boolean;
}

const EMPTY = Buffer.alloc(0);
/** Bytes at a chunk's end that may begin a descriptor signature the next chunk completes. */
const SIGNATURE_PREFIX = DESCRIPTOR_SIGNATURE.length - 1;

function commit(entry: Entry, bytes: Buffer, from: number, to: number): void {
  entry.crc = crc32(bytes.subarray(from, to), entry.crc);
  entry.length += to - from;
}

/** Feeds data of an entry whose size the local header gave. */
export function feedKnown(entry: Entry, bytes: Buffer, at: number): DataFed {
  const end = at + Math.min((entry.declaredSize ?? 0) - entry.length, bytes.length - at);
  commit(entry, bytes, at, end);
  return { at: end, tail: EMPTY, ended: entry.length === entry.declaredSize };
}

/** A data descriptor's length: signature, CRC-32 and two sizes (8 bytes each with Zip64). */
export function descriptorLength(entry: Entry): number {
  return 8 + (entry.zip64 ? 16 : 8);
}

/**
 * Feeds data of an entry of unknown size (`tail`: bytes held back from the last chunk): the data ends at
 * the first descriptor signature followed by the CRC-32 and size of the bytes before it. A false match
 * needs 4 signature bytes, a CRC-32 and a size to coincide; the bytes a descriptor may start in are held
 * back (under one descriptor's length) until the next chunk tells.
 */
export function searchDescriptor(entry: Entry, held: Buffer, bytes: Buffer, at: number): DataFed {
  const length = descriptorLength(entry);
  if (held.length > 0) {
    const joined = Buffer.concat([held, bytes.subarray(at, at + length)]);
    let committed = 0;
    for (
      let i = joined.indexOf(DESCRIPTOR_SIGNATURE);
      i !== -1 && i < held.length;
      i = joined.indexOf(DESCRIPTOR_SIGNATURE, i + 1)
    ) {
      commit(entry, joined, committed, i);
      committed = i;
      // The chunk was too short to tell: all of it is held back with the candidate.
      if (i + length > joined.length)
        return { at: bytes.length, tail: Buffer.from(joined.subarray(i)), ended: false };
      if (descriptorMatches(entry, joined, i))
        return { at: at + i + length - held.length, tail: EMPTY, ended: true };
    }
    // A signature may still start in the last bytes when the chunk was too short to complete it.
    const keep = Math.max(committed, joined.length - SIGNATURE_PREFIX);
    if (keep < held.length) {
      commit(entry, joined, committed, keep);
      return { at: bytes.length, tail: Buffer.from(joined.subarray(keep)), ended: false };
    }
    commit(entry, held, committed, held.length);
  }
  let start = at;
  for (let from = at; ; ) {
    const found = bytes.indexOf(DESCRIPTOR_SIGNATURE, from);
    if (found === -1 || found + length > bytes.length) {
      const hold = found === -1 ? Math.max(start, bytes.length - SIGNATURE_PREFIX) : found;
      commit(entry, bytes, start, hold);
      return { at: bytes.length, tail: Buffer.from(bytes.subarray(hold)), ended: false };
    }
    commit(entry, bytes, start, found);
    start = found;
    if (descriptorMatches(entry, bytes, found)) return { at: found + length, tail: EMPTY, ended: true };
    from = found + 1;
  }
}

/** The CRC-32 and sizes a data descriptor at `at` gives (`at` after its optional signature). */
export function readDescriptor(
  entry: Entry,
  bytes: Buffer,
  at: number,
): { crc: number; sizes: (number | undefined)[] } {
  return {
    crc: bytes.readUInt32LE(at),
    sizes: entry.zip64
      ? [readUint64(bytes, at + 4), readUint64(bytes, at + 12)]
      : [bytes.readUInt32LE(at + 4), bytes.readUInt32LE(at + 8)],
  };
}

/** Whether a descriptor for the data so far (its CRC-32 and length) starts at `at`. */
function descriptorMatches(entry: Entry, bytes: Buffer, at: number): boolean {
  const { crc, sizes } = readDescriptor(entry, bytes, at + 4);
  return crc === entry.crc && sizes[0] === entry.length && sizes[1] === entry.length;
}
