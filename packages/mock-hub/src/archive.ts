import { crc32 } from "node:zlib";
import type { ByteSource } from "./bytes";

/**
 * How a product's zip departs from a sound one. `descriptors` is sound (CRC and sizes in data
 * descriptors, as a streaming zipper writes them); the others are "broken upstream": the hub's MD5 is
 * that of the broken bytes.
 */
export const ARCHIVE_VARIANTS = [
  "descriptors",
  "truncated",
  "entryFlipped",
  "directoryLies",
  "twoFolders",
] as const;
export type ArchiveVariant = (typeof ARCHIVE_VARIANTS)[number];

/**
 * The fault kinds that serve a product as an archive variant, on every route and request (the
 * published MD5 is that of the bytes served): `zipTruncated` cuts the zip of a larger product at the
 * stated size, `zipEntryFlipped` flips one byte inside the largest entry, `zipDirectoryLies` gives the
 * last entry another CRC in the central directory, `zipTwoFolders` adds `__MACOSX/<name>.SAFE/…`; and
 * `zipDescriptors` is sound, written as a streaming zipper writes it (CRC and sizes only in data
 * descriptors): not a fault of the product, it must verify.
 */
export const ARCHIVE_FAULT_VARIANTS = {
  zipTruncated: "truncated",
  zipEntryFlipped: "entryFlipped",
  zipDirectoryLies: "directoryLies",
  zipTwoFolders: "twoFolders",
  zipDescriptors: "descriptors",
} as const satisfies Record<string, ArchiveVariant>;
export const ARCHIVE_FAULT_KINDS = [
  "zipTruncated",
  "zipEntryFlipped",
  "zipDirectoryLies",
  "zipTwoFolders",
  "zipDescriptors",
] as const satisfies readonly (keyof typeof ARCHIVE_FAULT_VARIANTS)[];
export type ArchiveFaultKind = (typeof ARCHIVE_FAULT_KINDS)[number];

export function isArchiveFaultKind(kind: string): kind is ArchiveFaultKind {
  return (ARCHIVE_FAULT_KINDS as readonly string[]).includes(kind);
}

/** What a product's zip is made of. */
export interface ArchiveProduct {
  /** Product name without `.SAFE`. */
  name: string;
  tileId: string;
  sensingStart: string;
  key: number;
  sizeBytes: number;
}

/** A run of the archive: header bytes, or entry data taken from the product's byte stream at `source`. */
type Segment = { start: number; end: number } & ({ bytes: Buffer } | { source: number });

/** A product's zip, as segments covering [0, sizeBytes): generated on demand, never held whole. */
export interface ArchiveLayout {
  segments: Segment[];
  /** A byte flipped after the CRCs were taken (entryFlipped). */
  flipAt?: number;
}

interface PlannedEntry {
  name: string;
  size: number;
}

const ZIP64_LIMIT = 0xffffffff;
const DESCRIPTOR_BYTES = 16;
/** The bands of an L1C granule and their relative sizes (10 m bands are 36× a 60 m band's pixels). */
const BANDS: [string, number][] = [
  ["B01", 1],
  ["B02", 36],
  ["B03", 36],
  ["B04", 36],
  ["B05", 9],
  ["B06", 9],
  ["B07", 9],
  ["B08", 36],
  ["B8A", 9],
  ["B09", 1],
  ["B10", 1],
  ["B11", 9],
  ["B12", 9],
  ["TCI", 30],
];

/**
 * The SAFE layout of a product: `<name>.SAFE/` with its manifest first (the entries HLS needs most),
 * then metadata and the granule's band images. Directories have weight 0.
 */
function safeEntries(product: ArchiveProduct): [string, number][] {
  const safe = `${product.name}.SAFE`;
  const date = product.sensingStart.slice(0, 19).replace(/[-:]/g, "");
  const granule = `${safe}/GRANULE/L1C_T${product.tileId}_A${String(product.key % 100_000).padStart(6, "0")}_${date}`;
  return [
    [`${safe}/`, 0],
    [`${safe}/manifest.safe`, 0.2],
    [`${safe}/MTD_MSIL1C.xml`, 0.5],
    [`${safe}/GRANULE/`, 0],
    [`${granule}/`, 0],
    [`${granule}/MTD_TL.xml`, 0.5],
    [`${granule}/IMG_DATA/`, 0],
    ...BANDS.map(([band, weight]): [string, number] => [
      `${granule}/IMG_DATA/T${product.tileId}_${date}_${band}.jp2`,
      weight,
    ]),
    [`${safe}/INSPIRE.xml`, 0.1],
  ];
}

/**
 * Plans a product's zip of exactly `sizeBytes` bytes (STORED entries, CRCs taken from the bytes), or
 * undefined when not even `<name>.SAFE/manifest.safe` fits: such a product is served as raw bytes.
 */
export function planArchive(
  product: ArchiveProduct,
  source: ByteSource,
  variant?: ArchiveVariant,
): ArchiveLayout | undefined {
  // "Broken upstream": the zip of a larger product, cut at the size the hub states.
  const planned = variant === "truncated" ? product.sizeBytes * 2 + 4096 : product.sizeBytes;
  const stray: [string, number][] =
    variant === "twoFolders" ? [[`__MACOSX/${product.name}.SAFE/._manifest.safe`, 0.01]] : [];
  // Too small for every entry: keep the first ones (the folder and its manifest come first).
  for (let entries = safeEntries(product); entries.length >= 2; entries = entries.slice(0, -1)) {
    const layout = layOut(product, source, [...entries, ...stray], planned, variant);
    if (layout !== undefined) return cut(layout, product.sizeBytes);
  }
  return undefined;
}

function layOut(
  product: ArchiveProduct,
  source: ByteSource,
  weighted: [string, number][],
  total: number,
  variant: ArchiveVariant | undefined,
): ArchiveLayout | undefined {
  const descriptor = variant === "descriptors" ? DESCRIPTOR_BYTES : 0;
  const zip64 = total > ZIP64_LIMIT;
  // Past 4 GiB every central header carries its offset in a Zip64 extra field, and Zip64 end records follow.
  const perEntry = 30 + descriptor + 46 + (zip64 ? 12 : 0);
  const names = weighted.reduce((sum, [name]) => sum + 2 * Buffer.byteLength(name), 0);
  const budget = total - (weighted.length * perEntry + names + 22 + (zip64 ? 76 : 0));
  const weights = weighted.reduce((sum, [, weight]) => sum + weight, 0);
  if (budget < weighted.length) return undefined;
  let lastFile = 0;
  for (const [index, [, weight]] of weighted.entries()) if (weight > 0) lastFile = index;
  const entries: PlannedEntry[] = [];
  let left = budget;
  for (const [index, [name, weight]] of weighted.entries()) {
    const size = weight === 0 ? 0 : index === lastFile ? left : Math.floor((budget * weight) / weights);
    entries.push({ name, size });
    left -= size;
  }
  return writeSegments(product, source, entries, total, variant);
}

function writeSegments(
  product: ArchiveProduct,
  source: ByteSource,
  entries: PlannedEntry[],
  total: number,
  variant: ArchiveVariant | undefined,
): ArchiveLayout {
  const stamp = dosTime(product.sensingStart);
  const segments: Segment[] = [];
  const central: Buffer[] = [];
  let position = 0;
  let content = 0;
  let flipAt: number | undefined;
  let largest = 0;
  const push = (bytes: Buffer) => {
    segments.push({ start: position, end: position + bytes.length, bytes });
    position += bytes.length;
  };
  const zip64Needed = total > ZIP64_LIMIT;
  for (const [index, entry] of entries.entries()) {
    const name = Buffer.from(entry.name);
    const crc = crcOf(source, product.key, content, entry.size);
    const offset = position;
    const descriptor = variant === "descriptors";
    const header = localHeader(name, stamp, descriptor ? 0 : crc, descriptor ? 0 : entry.size, descriptor);
    push(header);
    if (entry.size > 0) {
      segments.push({ start: position, end: position + entry.size, source: content });
      if (entry.size > largest) {
        largest = entry.size;
        flipAt = position + Math.floor(entry.size / 2);
      }
      position += entry.size;
      content += entry.size;
    }
    if (descriptor) push(descriptorRecord(crc, entry.size));
    const listedCrc = variant === "directoryLies" && index === entries.length - 1 ? (crc ^ 1) >>> 0 : crc;
    central.push(centralHeader(name, stamp, listedCrc, entry.size, offset, descriptor, zip64Needed));
  }
  const centralStart = position;
  for (const record of central) push(record);
  const centralSize = position - centralStart;
  if (zip64Needed) {
    const zip64End = position;
    push(zip64EndRecord(central.length, centralSize, centralStart));
    push(zip64Locator(zip64End));
  }
  push(endRecord(central.length, centralSize, centralStart, zip64Needed));
  return variant === "entryFlipped" && flipAt !== undefined ? { segments, flipAt } : { segments };
}

/** The layout's first `size` bytes (a truncated archive), or the layout itself when it has exactly that many. */
function cut(layout: ArchiveLayout, size: number): ArchiveLayout {
  const segments: Segment[] = [];
  for (const segment of layout.segments) {
    if (segment.start >= size) break;
    if (segment.end <= size) segments.push(segment);
    else if ("bytes" in segment)
      segments.push({ ...segment, end: size, bytes: segment.bytes.subarray(0, size - segment.start) });
    else segments.push({ ...segment, end: size });
  }
  return { ...layout, segments };
}

/** Bytes [start, end) of a planned archive, a block or a header at a time. */
export function* archiveChunks(
  layout: ArchiveLayout,
  source: ByteSource,
  key: number,
  start: number,
  end: number,
): Generator<Buffer> {
  for (const segment of layout.segments) {
    if (segment.end <= start || segment.start >= end) continue;
    const from = Math.max(start, segment.start);
    const to = Math.min(end, segment.end);
    const pieces =
      "bytes" in segment
        ? [Buffer.from(segment.bytes.subarray(from - segment.start, to - segment.start))]
        : source.chunks(key, segment.source + from - segment.start, segment.source + to - segment.start);
    let at = from;
    for (const piece of pieces) {
      const { flipAt } = layout;
      // Chunks are fresh buffers (ByteSource copies each block), so flipping in place is safe.
      if (flipAt !== undefined && flipAt >= at && flipAt < at + piece.length) piece[flipAt - at]! ^= 0x01;
      at += piece.length;
      yield piece;
    }
  }
}

function crcOf(source: ByteSource, key: number, start: number, length: number): number {
  let crc = 0;
  for (const chunk of source.chunks(key, start, start + length)) crc = crc32(chunk, crc);
  return crc;
}

function localHeader(name: Buffer, stamp: number, crc: number, size: number, descriptor: boolean): Buffer {
  const header = Buffer.alloc(30 + name.length);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(descriptor ? 20 : 10, 4);
  header.writeUInt16LE(descriptor ? 0x08 : 0, 6);
  header.writeUInt16LE(0, 8);
  header.writeUInt32LE(stamp, 10);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(size, 18);
  header.writeUInt32LE(size, 22);
  header.writeUInt16LE(name.length, 26);
  name.copy(header, 30);
  return header;
}

function descriptorRecord(crc: number, size: number): Buffer {
  const record = Buffer.alloc(DESCRIPTOR_BYTES);
  record.writeUInt32LE(0x08074b50, 0);
  record.writeUInt32LE(crc, 4);
  record.writeUInt32LE(size, 8);
  record.writeUInt32LE(size, 12);
  return record;
}

function centralHeader(
  name: Buffer,
  stamp: number,
  crc: number,
  size: number,
  offset: number,
  descriptor: boolean,
  wide: boolean,
): Buffer {
  const header = Buffer.alloc(46 + name.length + (wide ? 12 : 0));
  header.writeUInt32LE(0x02014b50, 0);
  header.writeUInt16LE(0x031e, 4);
  header.writeUInt16LE(wide ? 45 : descriptor ? 20 : 10, 6);
  header.writeUInt16LE(descriptor ? 0x08 : 0, 8);
  header.writeUInt16LE(0, 10);
  header.writeUInt32LE(stamp, 12);
  header.writeUInt32LE(crc, 16);
  header.writeUInt32LE(size, 20);
  header.writeUInt32LE(size, 24);
  header.writeUInt16LE(name.length, 28);
  header.writeUInt16LE(wide ? 12 : 0, 30);
  const directory = name.at(-1) === 0x2f;
  // Unix mode in the high 16 bits (drwxr-xr-x / -rw-r--r--), plus MS-DOS's directory bit.
  header.writeUInt32LE(directory ? 0x41ed0010 : 0x81a40000, 38);
  header.writeUInt32LE(wide ? ZIP64_LIMIT : offset, 42);
  name.copy(header, 46);
  if (wide) {
    header.writeUInt16LE(0x0001, 46 + name.length);
    header.writeUInt16LE(8, 48 + name.length);
    header.writeBigUInt64LE(BigInt(offset), 50 + name.length);
  }
  return header;
}

function zip64EndRecord(entries: number, size: number, offset: number): Buffer {
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(0x031e, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries), 24);
  record.writeBigUInt64LE(BigInt(entries), 32);
  record.writeBigUInt64LE(BigInt(size), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  return record;
}

function zip64Locator(at: number): Buffer {
  const record = Buffer.alloc(20);
  record.writeUInt32LE(0x07064b50, 0);
  record.writeBigUInt64LE(BigInt(at), 8);
  record.writeUInt32LE(1, 16);
  return record;
}

function endRecord(entries: number, size: number, offset: number, zip64: boolean): Buffer {
  const record = Buffer.alloc(22);
  record.writeUInt32LE(0x06054b50, 0);
  record.writeUInt16LE(entries, 8);
  record.writeUInt16LE(entries, 10);
  record.writeUInt32LE(size, 12);
  record.writeUInt32LE(zip64 ? ZIP64_LIMIT : offset, 16);
  return record;
}

/** MS-DOS date and time (local header field order: time, then date). */
function dosTime(iso: string): number {
  const date = new Date(iso);
  const time = (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | (date.getUTCSeconds() >> 1);
  const day = ((date.getUTCFullYear() - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate();
  return ((day << 16) | time) >>> 0;
}
