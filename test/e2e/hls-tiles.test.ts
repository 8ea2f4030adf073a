import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GRANULE_STATUSES, type GranuleRecord, objectKeyFor } from "@hls-s2/core/domain";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import {
  buildCatalogue,
  type CatalogueParams,
  loadSynthesizedWorkflow,
  runLocal,
  startEmbeddedStores,
} from "@hls-s2/local";
import { NON_HLS_TILES, readTileList } from "@hls-s2/mock-hub";
import { SHORT_HORIZON_ENV } from "@hls-s2/testing/data-folder";
import { afterEach, beforeAll, describe, expect, it } from "vitest";

const DAY = "2026-03-14";
const HLS_TILES = new Set(readTileList());
const cleanups: (() => Promise<void>)[] = [];

// Synthesizing the stacks (importing sst and CDK) takes seconds: once per file, under the hook timeout.
beforeAll(async () => {
  await loadSynthesizedWorkflow();
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Runs a local day with default tile settings (plus `allTiles` when asked) and reads the table back. */
async function runDay(
  params: CatalogueParams,
  allTiles?: boolean,
): Promise<{ records: GranuleRecord[]; keys: string[] }> {
  const dataDir = await mkdtemp(join(tmpdir(), "hls-s2-tiles-"));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  await runLocal({
    dataDir,
    dynamo: "dynalite",
    lambdaEnv: SHORT_HORIZON_ENV,
    from: DAY,
    to: DAY,
    ...params,
    concurrency: 6,
    retryDelayMs: 10,
    ...(allTiles !== undefined && { allTiles }),
  });
  const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
  cleanups.push(() => stores.close());
  const store = new GranuleStore(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
  const lists = await Promise.all(GRANULE_STATUSES.map((status) => store.listByStatus(DAY, status)));
  return { records: lists.flat(), keys: await stores.listKeys() };
}

describe("the local run's tile allow-list", () => {
  // Twenty products: two on tiles outside HLS's grid (forty had four; each run downloads them all).
  const params: CatalogueParams = { seed: "hls-tiles", granulesPerDay: 20, productSize: 64 * 1024 };
  const products = buildCatalogue(params, [DAY]).products;
  const outside = products.filter((product) => !HLS_TILES.has(product.tileId));
  const inside = products.filter((product) => HLS_TILES.has(product.tileId));

  it("serves the mock catalogue from HLS's grid with a few tiles outside it", () => {
    expect(outside.length).toBeGreaterThan(0);
    expect(inside.length).toBeGreaterThan(outside.length);
    for (const product of outside) expect(NON_HLS_TILES).toContain(product.tileId);
  });

  it("records no tile outside HLS's grid by default, and downloads every HLS one", async () => {
    const { records, keys } = await runDay(params);

    expect(records.filter((record) => !HLS_TILES.has(record.tileId))).toEqual([]);
    expect(new Set(records.map((record) => record.granuleId))).toEqual(new Set(inside.map((p) => p.id)));
    expect(records.every((record) => record.status === "DOWNLOADED")).toBe(true);
    expect(keys.sort()).toEqual(inside.map((product) => objectKeyFor(product.name)).sort());
  });

  it("records every tile with allTiles (npm run local -- --all-tiles)", async () => {
    const { records } = await runDay(params, true);

    expect(new Set(records.map((record) => record.granuleId))).toEqual(new Set(products.map((p) => p.id)));
    expect(records.filter((record) => !HLS_TILES.has(record.tileId)).length).toBe(outside.length);
  });
});
