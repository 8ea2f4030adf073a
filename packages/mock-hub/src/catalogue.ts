import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type ArchiveLayout, type ArchiveVariant, archiveChunks, planArchive } from "./archive";
import { ByteSource, productKey } from "./bytes";
import { createRandom, type Random } from "./random";

export const MOCK_PLATFORMS = ["S2A", "S2B", "S2C"] as const;
export type MockPlatform = (typeof MOCK_PLATFORMS)[number];

/** One synthetic Sentinel-2 L1C product. */
export interface MockProduct {
  /** UUID, the hub's product id. */
  id: string;
  /** Product name without `.SAFE`. */
  name: string;
  tileId: string;
  platform: MockPlatform;
  /** ISO-8601 UTC with milliseconds. */
  sensingStart: string;
  sensingEnd: string;
  publishedAt: string;
  /** Publication day, YYYY-MM-DD. */
  day: string;
  sizeBytes: number;
  relativeOrbit: number;
  absoluteOrbit: number;
  cloudCover: number;
  /** WKT polygon, lon/lat. */
  footprint: string;
  /** Selects the product's bytes (derived from the id). */
  key: number;
}

export interface CatalogueOptions {
  seed: string | number;
  /** Publication days, YYYY-MM-DD. */
  days: string[];
  platforms?: MockPlatform[];
  granulesPerDay: number;
  /** A fixed size, or a uniform range; default 512 KiB – 4 MiB. */
  sizeBytes?: { min: number; max: number } | number;
  /**
   * MGRS tiles to draw from, uniformly. Default: HLS's grid (`readTileList()`), with one product in
   * ten on a tile outside it (NON_HLS_TILES), so a downloader's tile filter always has work.
   */
  tiles?: string[];
  /**
   * The duplicate-name fault: the fraction of products (0–1, drawn from the seed) the hub publishes a
   * second time under a new id, with the same name and bytes, up to an hour later the same day — as
   * SciHub did ("the first release is faulty … and the second is a fixed version"). Default 0.
   */
  duplicateNames?: number;
}

export interface Catalogue {
  readonly seed: string | number;
  /** Every product, ordered by publication time (oldest first). */
  readonly products: readonly MockProduct[];
  get(id: string): MockProduct | undefined;
  /**
   * MD5 (lowercase hex) of exactly the bytes `$value` serves; computed once, then cached. `variant`: the
   * archive as a broken upstream serves it (see ArchiveVariant), whose MD5 the hub publishes.
   */
  expectedMd5(id: string, variant?: ArchiveVariant): string;
  /** Same as expectedMd5 without blocking the event loop for long on large products. */
  expectedMd5Async(id: string, variant?: ArchiveVariant): Promise<string>;
  /**
   * The product's bytes [start, end) in chunks of at most 64 KiB: a STORED zip in the SAFE layout
   * (`<name>.SAFE/manifest.safe`, metadata, band images), generated on demand; a product too small
   * for one (under ~300 bytes) is raw bytes.
   */
  chunks(id: string, start?: number, end?: number, variant?: ArchiveVariant): Generator<Buffer>;
  /** The product's bytes [start, end) in one buffer (small products and tests). */
  bytes(id: string, start?: number, end?: number, variant?: ArchiveVariant): Buffer;
}

/** Archive layouts kept (each a few KiB of headers); older ones are planned again when asked. */
const LAYOUT_CACHE_SIZE = 256;

const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;
const TILE_PATTERN = /^\d{2}[C-X][A-Z]{2}$/;
const LATITUDE_BANDS = "CDEFGHJKLMNPQRSTUVWX";
const DAY_MS = 86_400_000;

/**
 * Real MGRS tiles HLS does not process (Antarctica, open ocean): none is in config/hls-tiles.txt,
 * which has no latitude band C at all.
 */
export const NON_HLS_TILES = ["51CWM", "01CCV", "40CEE", "25MHT"] as const;
/** Share of the default catalogue's products on a NON_HLS_TILES tile. */
const NON_HLS_SHARE = 0.1;

/**
 * The repository's copy of HLS's tile grid (18,952 tiles), read by path rather than through core:
 * the mock hub imitates the world and shares no code with the downloader. Bundled next to the
 * mock hub's Lambda at the same relative place (stacks/MockHub.ts copies it).
 */
export const HLS_TILES_FILE = fileURLToPath(new URL("../../../config/hls-tiles.txt", import.meta.url));

const tileLists = new Map<string, string[]>();

/**
 * Reads a tile-list file: one MGRS tile id per line, an optional leading "T", "#" starts a comment.
 * @throws RangeError naming the first line that is not a tile id, or when it lists none.
 */
export function readTileList(file: string = HLS_TILES_FILE): string[] {
  let tiles = tileLists.get(file);
  if (tiles === undefined) {
    tiles = [];
    for (const [index, line] of readFileSync(file, "utf8").split(/\r?\n/).entries()) {
      const content = line.replace(/#.*$/, "").trim().replace(/^T/i, "").toUpperCase();
      if (content === "") continue;
      if (!TILE_PATTERN.test(content))
        throw new RangeError(`${file} line ${index + 1}: ${content} is not a tile id`);
      tiles.push(content);
    }
    if (tiles.length === 0) throw new RangeError(`${file} lists no tile ids`);
    tileLists.set(file, tiles);
  }
  return tiles;
}

/** Builds a deterministic catalogue: the same options always give the same ids, names, sizes and bytes. */
export function createCatalogue(options: CatalogueOptions): Catalogue {
  const { seed, days, granulesPerDay } = options;
  const platforms = options.platforms ?? ["S2A", "S2B"];
  const sizeRange = normaliseSize(options.sizeBytes ?? { min: 512 * 1024, max: 4 * 1024 * 1024 });
  if (!Number.isInteger(granulesPerDay) || granulesPerDay < 0) {
    throw new RangeError(`granulesPerDay must be a non-negative integer, got ${granulesPerDay}`);
  }
  for (const day of days) {
    if (!DAY_PATTERN.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) {
      throw new RangeError(`days: ${day} is not YYYY-MM-DD`);
    }
  }
  if (platforms.length === 0 || platforms.some((p) => !MOCK_PLATFORMS.includes(p))) {
    throw new RangeError(`platforms must be a non-empty subset of ${MOCK_PLATFORMS.join(", ")}`);
  }
  const badTile = options.tiles?.find((tile) => !TILE_PATTERN.test(tile));
  if (badTile !== undefined || options.tiles?.length === 0) {
    throw new RangeError(`tiles: ${badTile ?? "(empty list)"} is not an MGRS tile like 32TQM`);
  }

  const explicitTiles = options.tiles;
  const hlsTiles = explicitTiles === undefined ? readTileList() : [];
  const drawTile = (random: Random): string =>
    explicitTiles !== undefined
      ? random.pick(explicitTiles)
      : random.next() < NON_HLS_SHARE
        ? random.pick(NON_HLS_TILES)
        : random.pick(hlsTiles);

  const products: MockProduct[] = [];
  const names = new Set<string>();
  for (const day of days) {
    for (let i = 0; i < granulesPerDay; i++) {
      // One generator per (day, index): adding a day or a granule never changes the others.
      const random = createRandom(`${seed}:${day}:${i}`);
      const product = makeProduct(random, day, platforms, sizeRange, drawTile);
      while (names.has(product.name)) product.name = `${product.name.slice(0, -1)}${random.int(0, 9)}`;
      names.add(product.name);
      products.push(product);
    }
  }
  products.push(...republished(products, seed, options.duplicateNames ?? 0));
  products.sort((a, b) => a.publishedAt.localeCompare(b.publishedAt) || a.id.localeCompare(b.id));

  const byId = new Map(products.map((product) => [product.id, product]));
  const source = new ByteSource(seed);
  const md5s = new Map<string, string>();
  const require = (id: string): MockProduct => {
    const product = byId.get(id);
    if (product === undefined) throw new RangeError(`no product ${id} in the catalogue`);
    return product;
  };
  const range = (id: string, start = 0, end?: number): [MockProduct, number, number] => {
    const product = require(id);
    return [product, Math.max(0, start), Math.min(product.sizeBytes, end ?? product.sizeBytes)];
  };

  const layouts = new Map<string, ArchiveLayout | null>();
  const layoutOf = (product: MockProduct, variant: ArchiveVariant | undefined): ArchiveLayout | null => {
    const cacheKey = `${product.id}|${variant ?? ""}`;
    let layout = layouts.get(cacheKey);
    if (layout === undefined) {
      layout = planArchive(product, source, variant) ?? null;
      if (layouts.size >= LAYOUT_CACHE_SIZE) layouts.delete(layouts.keys().next().value as string);
      layouts.set(cacheKey, layout);
    }
    return layout;
  };
  function* chunks(id: string, start?: number, end?: number, variant?: ArchiveVariant): Generator<Buffer> {
    const [product, from, to] = range(id, start, end);
    const layout = layoutOf(product, variant);
    if (layout === null) yield* source.chunks(product.key, from, to);
    else yield* archiveChunks(layout, source, product.key, from, to);
  }
  const md5Key = (id: string, variant?: ArchiveVariant) => `${id}|${variant ?? ""}`;

  return {
    seed,
    products,
    get: (id) => byId.get(id),
    expectedMd5(id, variant) {
      const product = require(id);
      let md5 = md5s.get(md5Key(id, variant));
      if (md5 === undefined) {
        const hash = createHash("md5");
        for (const chunk of chunks(id, 0, product.sizeBytes, variant)) hash.update(chunk);
        md5 = hash.digest("hex");
        md5s.set(md5Key(id, variant), md5);
      }
      return md5;
    },
    async expectedMd5Async(id, variant) {
      const product = require(id);
      const cached = md5s.get(md5Key(id, variant));
      if (cached !== undefined) return cached;
      const hash = createHash("md5");
      // Yield every 64 MiB so a server stays responsive while it hashes a large product.
      const step = 1024 * 64 * 1024;
      for (let start = 0; start < product.sizeBytes; start += step) {
        for (const chunk of chunks(id, start, Math.min(product.sizeBytes, start + step), variant))
          hash.update(chunk);
        if (start + step < product.sizeBytes) await new Promise((resolve) => setImmediate(resolve));
      }
      const md5 = hash.digest("hex");
      md5s.set(md5Key(id, variant), md5);
      return md5;
    },
    chunks,
    bytes(id, start, end, variant) {
      return Buffer.concat([...chunks(id, start, end, variant)]);
    },
  };
}

/** The second releases of the duplicate-name fault: a new id, the same name and bytes, published later that day. */
function republished(
  products: readonly MockProduct[],
  seed: string | number,
  fraction: number,
): MockProduct[] {
  if (!(fraction >= 0 && fraction <= 1))
    throw new RangeError(`duplicateNames must be in [0, 1], got ${fraction}`);
  const twins: MockProduct[] = [];
  for (const product of products) {
    const random = createRandom(`${seed}:republished:${product.id}`);
    if (random.next() >= fraction) continue;
    const dayEnd = Date.parse(`${product.day}T23:59:59.999Z`);
    const published = Math.min(Date.parse(product.publishedAt) + random.int(60_000, 3_600_000), dayEnd);
    twins.push({ ...product, id: uuid(random), publishedAt: new Date(published).toISOString() });
  }
  return twins;
}

function normaliseSize(size: { min: number; max: number } | number): { min: number; max: number } {
  const range = typeof size === "number" ? { min: size, max: size } : size;
  if (
    !Number.isSafeInteger(range.min) ||
    !Number.isSafeInteger(range.max) ||
    range.min < 1 ||
    range.max < range.min
  ) {
    throw new RangeError(`sizeBytes must be positive integers with min ≤ max, got ${JSON.stringify(size)}`);
  }
  return range;
}

function makeProduct(
  random: Random,
  day: string,
  platforms: readonly MockPlatform[],
  size: { min: number; max: number },
  drawTile: (random: Random) => string,
): MockProduct {
  const id = uuid(random);
  const platform = random.pick(platforms);
  const tileId = drawTile(random);
  const published = Date.parse(`${day}T00:00:00.000Z`) + random.int(0, DAY_MS - 1);
  // Sensing 30 min to 3 days before publication; processing (the name's discriminator) in between.
  const sensing =
    Math.floor((published - random.int(30 * 60_000, 3 * DAY_MS)) / 1000) * 1000 + random.int(0, 999);
  const processed =
    Math.floor(sensing / 1000) * 1000 +
    random.int(10 * 60, Math.max(10 * 60, (published - sensing) / 1000 - 1)) * 1000;
  const relativeOrbit = random.int(1, 143);
  const sizeBytes = random.int(size.min, size.max);
  const name = `${platform}_MSIL1C_${compact(sensing)}_N0510_R${String(relativeOrbit).padStart(3, "0")}_T${tileId}_${compact(Math.min(processed, published))}`;
  return {
    id,
    name,
    tileId,
    platform,
    sensingStart: new Date(sensing).toISOString(),
    sensingEnd: new Date(sensing).toISOString(),
    publishedAt: new Date(published).toISOString(),
    day,
    sizeBytes,
    relativeOrbit,
    absoluteOrbit: random.int(30_000, 50_000),
    cloudCover: Math.round(random.next() * 10_000) / 100,
    footprint: footprintOf(tileId),
    key: productKey(id),
  };
}

function uuid(random: Random): string {
  const hex = Array.from({ length: 4 }, () => random.uint32().toString(16).padStart(8, "0")).join("");
  // Version 4, RFC 4122 variant, like the hubs' UUIDs.
  const variant = ((Number.parseInt(hex[16] ?? "0", 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** YYYYMMDDTHHMMSS, the product-name timestamp form. */
function compact(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace(/[-:]/g, "");
}

function footprintOf(tileId: string): string {
  const zone = Number(tileId.slice(0, 2));
  const band = LATITUDE_BANDS.indexOf(tileId[2] ?? "N");
  const lon = zone * 6 - 183;
  const lat = band * 8 - 76;
  const ring = [
    [lon, lat],
    [lon + 1, lat],
    [lon + 1, lat + 1],
    [lon, lat + 1],
    [lon, lat],
  ];
  return `POLYGON ((${ring.map(([x, y]) => `${x} ${y}`).join(", ")}))`;
}
