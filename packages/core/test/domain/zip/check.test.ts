import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ZipCheck, type ZipFailure } from "../../../src/domain/zip/check";

// Archives written by real tools (Info-ZIP 3.0 `zip -0`, to a file, to a pipe, with -fz; Python's
// zipfile streaming to an unseekable file, which leaves CRC and sizes to data descriptors).
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const FOLDER = "S2A_X.SAFE";
const GOOD = ["info-zip.zip", "info-zip-piped.zip", "info-zip-zip64.zip", "python-stream.zip"];

/** Feeds `bytes` in chunks of `size`; with `persist`, each chunk goes to a fresh check restored from the last one's state. */
async function check(
  bytes: Buffer,
  size = bytes.length,
  persist = false,
  expectedLength?: number,
): Promise<ZipFailure | undefined> {
  let zip = await ZipCheck.create(FOLDER);
  for (let at = 0; at < bytes.length; at += size) {
    if (persist && at > 0) {
      const saved = zip.save();
      zip = await ZipCheck.create(FOLDER);
      expect(zip.restore(saved)).toBe(true);
    }
    zip.update(bytes.subarray(at, at + size));
  }
  return zip.finish(expectedLength);
}

function flip(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

describe("ZipCheck", () => {
  it.each(GOOD)("passes %s whole, byte by byte and in odd chunks", async (name) => {
    const bytes = fixture(name);
    expect(await check(bytes, bytes.length, false, bytes.length)).toBeUndefined();
    expect(await check(bytes, 1)).toBeUndefined();
    expect(await check(bytes, 7)).toBeUndefined();
    expect(await check(bytes, 4093)).toBeUndefined();
  });

  it.each(GOOD)("passes %s when restored from its saved state before every chunk", async (name) => {
    const bytes = fixture(name);
    expect(await check(bytes, 3, true)).toBeUndefined();
    expect(await check(bytes, 13, true)).toBeUndefined();
  });

  it("keeps its saved state small (under 1 KiB here: no per-entry list)", async () => {
    const bytes = fixture("python-stream.zip");
    const zip = await ZipCheck.create(FOLDER);
    let largest = 0;
    for (let at = 0; at < bytes.length; at += 11) {
      zip.update(bytes.subarray(at, at + 11));
      largest = Math.max(largest, zip.save().length);
    }
    expect(largest).toBeLessThan(1024);
  });

  it("names the entry whose CRC-32 fails when one byte of its data flips", async () => {
    const bytes = fixture("info-zip.zip");
    const at = bytes.indexOf("B01.jp2") + 2000;
    for (const name of ["info-zip.zip", "python-stream.zip", "info-zip-piped.zip"]) {
      const source = fixture(name);
      const failure = await check(flip(source, source.indexOf("B01.jp2") + 2000), 512);
      expect(failure, name).toMatchObject({ entry: `${FOLDER}/GRANULE/L1C/B01.jp2` });
      // A descriptor found by search cannot match flipped data: the entry then runs into the next record.
      expect(["crc", "truncated"], name).toContain(failure?.check);
    }
    expect(at).toBeGreaterThan(0);
  });

  it("fails a truncated archive at every cut", async () => {
    const bytes = fixture("info-zip.zip");
    for (const cut of [10, 31, 100, 3000, bytes.length - 100, bytes.length - 23, bytes.length - 1]) {
      const failure = await check(bytes.subarray(0, cut), 100);
      expect(failure?.check, `cut at ${cut}`).toBe(cut > bytes.length - 200 ? "truncated" : "truncated");
    }
  });

  it("fails a central directory that disagrees with the local headers, naming the entry", async () => {
    const bytes = fixture("info-zip.zip");
    const central = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    // The last central entry's CRC field (offset 16) no longer matches what streamed.
    const failure = await check(flip(bytes, central + 16), 64);
    expect(failure).toMatchObject({ check: "directory" });
    expect(failure?.detail).toMatch(/says crc/);
    // Restored between every chunk the entries are no longer listed in memory: the digest still catches it.
    expect(await check(flip(bytes, central + 16), 64, true)).toMatchObject({ check: "directory" });
  });

  it("fails an end record that disagrees with the directory", async () => {
    const bytes = fixture("info-zip.zip");
    const end = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    expect(await check(flip(bytes, end + 10), 64)).toMatchObject({ check: "end" });
  });

  it("fails bytes after the end record, and a length other than the hub's", async () => {
    const bytes = fixture("info-zip.zip");
    expect(await check(Buffer.concat([bytes, Buffer.from("x")]))).toMatchObject({ check: "end" });
    expect(await check(bytes, 100, false, bytes.length + 1)).toMatchObject({ check: "length" });
  });

  it("fails a DEFLATED entry, naming it and its method", async () => {
    const failure = await check(fixture("deflated.zip"), 100);
    expect(failure).toMatchObject({ check: "method", entry: expect.stringContaining(FOLDER) });
    expect(failure?.detail).toMatch(/DEFLATED/);
  });

  it("fails a top-level folder other than the product's", async () => {
    const zip = await ZipCheck.create("S2B_OTHER.SAFE");
    zip.update(fixture("info-zip.zip"));
    expect(zip.finish()).toMatchObject({ check: "safe", entry: `${FOLDER}/` });
  });

  it("fails data that is no zip at all", async () => {
    expect(await check(Buffer.alloc(100, 7))).toMatchObject({ check: "structure", offset: 0 });
  });

  it("refuses a saved state it cannot read, and starts from byte 0", async () => {
    const zip = await ZipCheck.create(FOLDER);
    expect(zip.restore("{")).toBe(false);
    expect(zip.position).toBe(0);
  });
});
