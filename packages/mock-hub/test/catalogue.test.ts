import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BLOCK_SIZE, createCatalogue, NON_HLS_TILES, readTileList } from "../src/index";
import { DAY, md5, smallCatalogue } from "./helpers/hub";

const NAME_PATTERN = /^S2[ABC]_MSIL1C_\d{8}T\d{6}_N0510_R\d{3}_T\d{2}[C-X][A-Z]{2}_\d{8}T\d{6}$/;

describe("createCatalogue", () => {
  it("builds the same products and bytes from the same seed", () => {
    const first = smallCatalogue({ seed: 7 });
    const second = smallCatalogue({ seed: 7 });
    expect(second.products).toEqual(first.products);
    const id = first.products[0]!.id;
    expect(md5(second.bytes(id))).toBe(md5(first.bytes(id)));
  });

  it("builds different products from another seed", () => {
    const ids = smallCatalogue({ seed: 1 }).products.map((p) => p.id);
    const others = smallCatalogue({ seed: 2 }).products.map((p) => p.id);
    expect(others.some((id) => ids.includes(id))).toBe(false);
  });

  it("keeps a day's products when another day is added", () => {
    const one = smallCatalogue({ days: [DAY] });
    const two = smallCatalogue({ days: [DAY, "2026-11-25"] });
    expect(two.products.filter((p) => p.day === DAY)).toEqual(one.products);
  });

  it("names products like Sentinel-2 L1C products published within their day", () => {
    const catalogue = smallCatalogue({ granulesPerDay: 40, platforms: ["S2A", "S2B", "S2C"] });
    expect(catalogue.products).toHaveLength(40);
    for (const p of catalogue.products) {
      expect(p.name).toMatch(NAME_PATTERN);
      expect(p.name.startsWith(`${p.platform}_`)).toBe(true);
      expect(p.name).toContain(`_T${p.tileId}_`);
      expect(p.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(p.publishedAt.slice(0, 10)).toBe(DAY);
      const lag = Date.parse(p.publishedAt) - Date.parse(p.sensingStart);
      expect(lag).toBeGreaterThan(0);
      expect(lag).toBeLessThanOrEqual(3 * 86_400_000);
      expect(p.sizeBytes).toBeGreaterThanOrEqual(100_000);
      expect(p.sizeBytes).toBeLessThanOrEqual(300_000);
    }
    expect(new Set(catalogue.products.map((p) => p.name)).size).toBe(40);
  });

  it("draws tiles and platforms from the given lists", () => {
    const catalogue = smallCatalogue({ tiles: ["32TQM", "18SUJ"], platforms: ["S2C"], granulesPerDay: 10 });
    expect(new Set(catalogue.products.map((p) => p.tileId))).toEqual(new Set(["32TQM", "18SUJ"]));
    expect(catalogue.products.every((p) => p.platform === "S2C")).toBe(true);
  });

  it("draws from HLS's tile grid by default, with one product in ten on a tile outside it", () => {
    const hls = new Set(readTileList());
    const catalogue = smallCatalogue({ granulesPerDay: 400 });
    const outside = catalogue.products.filter((p) => !hls.has(p.tileId));
    expect(outside.length).toBeGreaterThan(20);
    expect(outside.length).toBeLessThan(70);
    expect(new Set(outside.map((p) => p.tileId))).toEqual(new Set(NON_HLS_TILES));
    // Spread over the grid, not a handful of tiles.
    expect(new Set(catalogue.products.map((p) => p.tileId)).size).toBeGreaterThan(300);
  });

  it("orders products by publication time", () => {
    const times = smallCatalogue({ granulesPerDay: 20 }).products.map((p) => p.publishedAt);
    expect(times).toEqual([...times].sort());
  });

  it("gives each product the MD5 of exactly its bytes", async () => {
    const catalogue = smallCatalogue({ sizeBytes: { min: BLOCK_SIZE * 3 + 17, max: BLOCK_SIZE * 5 } });
    for (const p of catalogue.products) {
      const bytes = catalogue.bytes(p.id);
      expect(bytes.length).toBe(p.sizeBytes);
      expect(catalogue.expectedMd5(p.id)).toBe(md5(bytes));
      await expect(catalogue.expectedMd5Async(p.id)).resolves.toBe(md5(bytes));
    }
  });

  it("serves any byte range as the same bytes as the whole product", () => {
    const catalogue = smallCatalogue({ sizeBytes: BLOCK_SIZE * 2 + 1000 });
    const id = catalogue.products[0]!.id;
    const whole = catalogue.bytes(id);
    for (const [start, end] of [
      [0, 10],
      [BLOCK_SIZE - 3, BLOCK_SIZE + 5],
      [12_345, 2 * BLOCK_SIZE + 1000],
    ] as const) {
      expect(catalogue.bytes(id, start, end).equals(whole.subarray(start, end))).toBe(true);
    }
  });

  it("gives products of the same seed different bytes", () => {
    const catalogue = smallCatalogue({ sizeBytes: 4096 });
    const [a, b] = catalogue.products;
    expect(catalogue.bytes(a!.id).equals(catalogue.bytes(b!.id))).toBe(false);
  });

  it("rejects a malformed day, an empty platform list and a bad size", () => {
    const base = { seed: 1, days: [DAY], granulesPerDay: 1 };
    expect(() => createCatalogue({ ...base, days: ["24/11/2026"] })).toThrow(/days/);
    expect(() => createCatalogue({ ...base, platforms: [] })).toThrow(/platforms/);
    expect(() => createCatalogue({ ...base, sizeBytes: { min: 10, max: 5 } })).toThrow(/sizeBytes/);
    expect(() => createCatalogue({ ...base, tiles: ["T32TQM"] })).toThrow(/tiles/);
    expect(() => createCatalogue({ ...base, granulesPerDay: -1 })).toThrow(/granulesPerDay/);
  });

  it("throws for an id it does not hold", () => {
    expect(() => smallCatalogue().expectedMd5("nope")).toThrow(/no product nope/);
  });
});

describe("readTileList", () => {
  it("reads HLS's 18,952 tiles past the file's two header lines, none of NON_HLS_TILES among them", () => {
    const tiles = readTileList();
    expect(tiles).toHaveLength(18_952);
    expect(tiles.slice(0, 2)).toEqual(["01FBE", "01FBF"]);
    for (const tile of NON_HLS_TILES) expect(tiles).not.toContain(tile);
  });

  it("accepts a leading T and comments, and names the first line that is no tile", () => {
    const dir = mkdtempSync(join(tmpdir(), "mock-hub-tiles-"));
    try {
      const good = join(dir, "good.txt");
      writeFileSync(good, "# header\nT32TQM\n33uup   # a comment\n\n");
      expect(readTileList(good)).toEqual(["32TQM", "33UUP"]);
      const bad = join(dir, "bad.txt");
      writeFileSync(bad, "32TQM\n99ZZZ\n");
      expect(() => readTileList(bad)).toThrow(/line 2: 99ZZZ/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
