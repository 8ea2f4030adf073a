import {
  FIXED,
  MAX_VARIABLE_BYTES,
  METHOD_STORED,
  readUint64,
  SIGNATURE,
  ZIP64_16,
  ZIP64_32,
  zip64Values,
} from "./format";

// Readers of whole records into plain values; a string is the detail of why the record is unusable.

/**
 * Bytes the record in `pending` needs to be whole, as far as its fixed part tells (`descriptor`: a data
 * descriptor is expected, with 8-byte sizes when `zip64`), or why no record starts there.
 */
export function recordLength(pending: Buffer, descriptor: boolean, zip64: boolean): number | string {
  if (pending.length < 4) return 4;
  const signature = pending.readUInt32LE(0);
  if (descriptor) return (signature === SIGNATURE.descriptor ? 8 : 4) + (zip64 ? 16 : 8);
  const shapes: Record<number, [number, (record: Buffer) => number]> = {
    [SIGNATURE.local]: [FIXED.local, (r) => r.readUInt16LE(26) + r.readUInt16LE(28)],
    [SIGNATURE.central]: [FIXED.central, (r) => r.readUInt16LE(28) + r.readUInt16LE(30) + r.readUInt16LE(32)],
    [SIGNATURE.zip64End]: [12, (r) => readUint64(r, 4) ?? Number.MAX_SAFE_INTEGER],
    [SIGNATURE.zip64Locator]: [FIXED.zip64Locator, () => 0],
    [SIGNATURE.end]: [FIXED.end, (r) => r.readUInt16LE(20)],
  };
  const shape = shapes[signature];
  if (shape === undefined)
    return `no zip record starts here (signature 0x${signature.toString(16).padStart(8, "0")})`;
  const [fixed, variable] = shape;
  if (pending.length < fixed) return fixed;
  const extra = variable(pending);
  if (extra > MAX_VARIABLE_BYTES) {
    return `a record claims ${extra} bytes of names and extra fields (at most ${MAX_VARIABLE_BYTES})`;
  }
  return fixed + extra;
}

/** A local header's fields, its sizes resolved through its Zip64 extra field when it has one. */
export interface LocalHeader {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressed: number | undefined;
  uncompressed: number | undefined;
  /** It has a Zip64 extra field: its data descriptor's sizes are 8 bytes (APPNOTE 4.3.9.1). */
  zip64: boolean;
}

export function readLocalHeader(record: Buffer): LocalHeader | string {
  const nameLength = record.readUInt16LE(26);
  const extra = record.subarray(FIXED.local + nameLength);
  let compressed: number | undefined = record.readUInt32LE(18);
  let uncompressed: number | undefined = record.readUInt32LE(22);
  const zip64 = zip64Values(extra, 2);
  if (compressed === ZIP64_32 || uncompressed === ZIP64_32) {
    if (zip64 === undefined || zip64.length < 2) return "sizes of 0xFFFFFFFF without a Zip64 extra field";
    [uncompressed, compressed] = zip64;
  }
  return {
    name: record.toString("utf8", FIXED.local, FIXED.local + nameLength),
    flags: record.readUInt16LE(6),
    method: record.readUInt16LE(8),
    crc: record.readUInt32LE(14),
    compressed,
    uncompressed,
    zip64: zip64 !== undefined,
  };
}

/** What the local headers and the central directory must agree on, entry by entry. */
export interface EntryRecord {
  name: string;
  offset: number;
  crc: number;
  size: number;
}

/** The bytes an entry's record adds to the running digest that compares the two lists. */
export function recordBytes({ name, offset, crc, size }: EntryRecord): Buffer {
  return Buffer.from(`${JSON.stringify(name)} ${offset} ${crc} ${size}\n`);
}

/** A central directory header as the record it must match, or why it cannot match a STORED entry. */
export function readCentralHeader(
  record: Buffer,
): { listed: EntryRecord } | { name: string; detail: string } {
  const nameLength = record.readUInt16LE(28);
  const extraLength = record.readUInt16LE(30);
  const name = record.toString("utf8", FIXED.central, FIXED.central + nameLength);
  const extra = record.subarray(FIXED.central + nameLength, FIXED.central + nameLength + extraLength);
  let compressed: number | undefined = record.readUInt32LE(20);
  let uncompressed: number | undefined = record.readUInt32LE(24);
  let offset: number | undefined = record.readUInt32LE(42);
  const wide = [uncompressed, compressed, offset].filter((value) => value === ZIP64_32).length;
  if (wide > 0) {
    // Only the fields that overflowed are in the extra field, in this order (APPNOTE 4.5.3).
    const values = zip64Values(extra, wide) ?? [];
    if (values.length < wide) return { name, detail: "0xFFFFFFFF fields without their Zip64 values" };
    if (uncompressed === ZIP64_32) uncompressed = values.shift();
    if (compressed === ZIP64_32) compressed = values.shift();
    if (offset === ZIP64_32) offset = values.shift();
  }
  const method = record.readUInt16LE(10);
  if (
    method !== METHOD_STORED ||
    compressed !== uncompressed ||
    compressed === undefined ||
    offset === undefined
  ) {
    return {
      name,
      detail: `the central directory lists method ${method}, ${compressed}/${uncompressed} bytes`,
    };
  }
  return { listed: { name, offset, crc: record.readUInt32LE(16), size: compressed } };
}

/** The Zip64 end of central directory record's counts, and where it starts. */
export interface Zip64End {
  at: number;
  entries: number;
  size: number;
  offset: number;
}

export function readZip64End(record: Buffer, at: number): Zip64End {
  return {
    at,
    entries: readUint64(record, 32) ?? -1,
    size: readUint64(record, 40) ?? -1,
    offset: readUint64(record, 48) ?? -1,
  };
}

/** The end record's counts, each taken from the Zip64 end record when it holds the 16/32-bit "see Zip64" value. */
export function readEndRecord(record: Buffer, zip64: Zip64End | undefined) {
  const wide = (value: number, max: number, big: number | undefined) =>
    value === max && big !== undefined ? big : value;
  return {
    disks: record.readUInt16LE(4) + record.readUInt16LE(6),
    onDisk: wide(record.readUInt16LE(8), ZIP64_16, zip64?.entries),
    entries: wide(record.readUInt16LE(10), ZIP64_16, zip64?.entries),
    size: wide(record.readUInt32LE(12), ZIP64_32, zip64?.size),
    offset: wide(record.readUInt32LE(16), ZIP64_32, zip64?.offset),
  };
}

/** Where the Zip64 locator says the Zip64 end record starts. */
export function readLocator(record: Buffer): number | undefined {
  return readUint64(record, 8);
}
