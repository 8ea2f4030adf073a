import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ARCHIVE_VARIANTS, type ArchiveVariant } from "../src/index";
import { md5, smallCatalogue } from "./helpers/hub";

interface Listed {
  name: string;
  crc: number;
  size: number;
  offset: number;
  flags: number;
  method: number;
}

/** Reads a whole zip the way unzip does: end record → central directory → each local header. */
function readZip(bytes: Buffer): { entries: Listed[]; dataCrcs: number[] } {
  const end = bytes.length - 22;
  expect(bytes.readUInt32LE(end)).toBe(0x06054b50);
  const count = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  expect(at + bytes.readUInt32LE(end + 12)).toBe(end);
  const entries: Listed[] = [];
  const dataCrcs: number[] = [];
  for (let i = 0; i < count; i += 1) {
    expect(bytes.readUInt32LE(at)).toBe(0x02014b50);
    const nameLength = bytes.readUInt16LE(at + 28);
    const entry = {
      name: bytes.toString("utf8", at + 46, at + 46 + nameLength),
      flags: bytes.readUInt16LE(at + 8),
      method: bytes.readUInt16LE(at + 10),
      crc: bytes.readUInt32LE(at + 16),
      size: bytes.readUInt32LE(at + 20),
      offset: bytes.readUInt32LE(at + 42),
    };
    entries.push(entry);
    const local = entry.offset;
    expect(bytes.readUInt32LE(local)).toBe(0x04034b50);
    expect(bytes.toString("utf8", local + 30, local + 30 + bytes.readUInt16LE(local + 26))).toBe(entry.name);
    const data = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    dataCrcs.push(crc32(bytes.subarray(data, data + entry.size)));
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return { entries, dataCrcs };
}

describe("product archives", () => {
  const catalogue = smallCatalogue({ granulesPerDay: 3, sizeBytes: { min: 200_000, max: 900_000 } });

  it("serves each product as a STORED zip of its SAFE folder, every CRC right, exactly its size", () => {
    for (const product of catalogue.products) {
      const bytes = catalogue.bytes(product.id);
      expect(bytes.length).toBe(product.sizeBytes);
      const { entries, dataCrcs } = readZip(bytes);
      expect(entries.map((e) => e.crc)).toEqual(dataCrcs);
      expect(entries.every((e) => e.method === 0 && e.name.startsWith(`${product.name}.SAFE/`))).toBe(true);
      expect(entries.map((e) => e.name)).toContain(`${product.name}.SAFE/manifest.safe`);
      expect(entries.filter((e) => e.name.endsWith(".jp2"))).toHaveLength(14);
    }
  });

  it("publishes the MD5 of each variant's own bytes, at the same size", () => {
    const product = catalogue.products[0]!;
    for (const variant of ARCHIVE_VARIANTS) {
      const bytes = catalogue.bytes(product.id, undefined, undefined, variant);
      expect(bytes.length, variant).toBe(product.sizeBytes);
      expect(catalogue.expectedMd5(product.id, variant), variant).toBe(md5(bytes));
      expect(md5(bytes), variant).not.toBe(catalogue.expectedMd5(product.id));
    }
  });

  it("serves any range of a variant as the same bytes as the whole", () => {
    const product = catalogue.products[1]!;
    for (const variant of [undefined, ...ARCHIVE_VARIANTS] as (ArchiveVariant | undefined)[]) {
      const whole = catalogue.bytes(product.id, undefined, undefined, variant);
      for (const [start, end] of [
        [0, 31],
        [1000, 70_000],
        [product.sizeBytes - 5000, product.sizeBytes],
      ] as const) {
        expect(
          catalogue.bytes(product.id, start, end, variant).equals(whole.subarray(start, end)),
          variant,
        ).toBe(true);
      }
    }
  });

  it("breaks each broken variant the way it says, and writes descriptors soundly", () => {
    const product = catalogue.products[2]!;
    const good = catalogue.bytes(product.id);
    const variant = (name: ArchiveVariant) => catalogue.bytes(product.id, undefined, undefined, name);
    // Truncated: no end record where the size ends.
    expect(variant("truncated").readUInt32LE(product.sizeBytes - 22)).not.toBe(0x06054b50);
    // Flipped: one byte differs, inside an entry's data, so that entry's CRC no longer matches.
    const flipped = variant("entryFlipped");
    expect([...flipped].filter((byte, i) => byte !== good[i])).toHaveLength(1);
    const { entries, dataCrcs } = readZip(flipped);
    expect(entries.filter((e, i) => e.crc !== dataCrcs[i])).toHaveLength(1);
    // The directory lies about the last entry's CRC.
    const lies = readZip(variant("directoryLies"));
    expect(lies.entries.filter((e, i) => e.crc !== lies.dataCrcs[i]).map((e) => e.name)).toEqual([
      lies.entries.at(-1)!.name,
    ]);
    // A second top-level folder.
    expect(readZip(variant("twoFolders")).entries.at(-1)!.name).toMatch(/^__MACOSX\//);
    // Descriptors: bit 3, CRC and sizes zero in the local header, sound in the directory.
    const described = variant("descriptors");
    const listed = readZip(described).entries;
    expect(listed.every((e) => (e.flags & 0x08) !== 0)).toBe(true);
    expect(described.readUInt32LE(listed[1]!.offset + 14)).toBe(0);
  });

  it("serves raw bytes for a product too small to hold its SAFE folder's zip", () => {
    const tiny = smallCatalogue({ sizeBytes: 200 });
    const bytes = tiny.bytes(tiny.products[0]!.id);
    expect(bytes.length).toBe(200);
    expect(bytes.readUInt32LE(0)).not.toBe(0x04034b50);
  });
});
