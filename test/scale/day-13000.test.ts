import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { objectKeyFor } from "@hls-s2/core/domain";
import { createDocumentClient, GranuleStore } from "@hls-s2/core/store";
import { buildCatalogue, dynamoDbLocalAvailable, runLocal, startEmbeddedStores } from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";
import { afterAll, describe, expect, it } from "vitest";

// A full CDSE day at the top of the design's range (13,000 granules), with 1–4 KiB products so the
// test measures bookkeeping, not bytes. It is the check that nothing is lost at scale: dynalite
// silently lost index entries at 12,000 items under one index key.
const DAY = "2025-03-10";
const GRANULES = 13_000;
const params = { seed: "e2e-13000", granulesPerDay: GRANULES, productSize: { min: 1024, max: 4096 } };

let dataDir: string | undefined;
afterAll(async () => {
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe("a 13,000-granule CDSE day in local mode", () => {
  it("finds, records, lists and downloads every granule exactly once", { timeout: 3_600_000 }, async () => {
    // On tmpfs where there is one: DynamoDB Local commits every write to SQLite, and on this shared
    // VM's disk each commit waits ~20 ms for fsync (25 granules/s measured, 150/s on tmpfs). The
    // test is about bookkeeping at scale, not about the disk.
    dataDir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "hls-s2-13000-"));
    const catalogue = buildCatalogue(params, [DAY]);
    expect(catalogue.products).toHaveLength(GRANULES);
    let mock: MockHub | undefined;
    const started = Date.now();

    const summary = await runLocal({
      dataDir,
      from: DAY,
      to: DAY,
      mockKind: "cdse",
      ...params,
      // Every catalogue product counts here; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
      allTiles: true,
      concurrency: 15,
      retryDelayMs: 10,
      onMockHub: (hub) => {
        mock = hub;
      },
    });
    const seconds = (Date.now() - started) / 1000;

    expect(summary.store.backend).toBe(dynamoDbLocalAvailable() ? "dynamodb-local" : "dynalite");
    // found = recorded (nothing filtered), and everything recorded was listed and downloaded.
    expect(summary.totals).toMatchObject({
      found: GRANULES,
      recorded: GRANULES,
      downloaded: GRANULES,
      failed: 0,
      pending: 0,
      missing: 0,
    });
    expect(summary.totals.filtered).toBe(0);
    expect(summary.run).toMatchObject({
      manifest: GRANULES,
      downloaded: GRANULES,
      failed: 0,
      alreadyDownloaded: 0,
    });
    // Once each: one download per product at the hub, one object per product in the bucket.
    const gets = catalogue.products.map((product) => mock!.stats.granule(product.id).valueGets);
    expect(gets.filter((n) => n !== 1)).toEqual([]);

    const stores = await startEmbeddedStores({ dataDir });
    try {
      const store = new GranuleStore(createDocumentClient(stores.dynamo), {
        tableName: stores.tableName,
      });
      expect(await store.countByStatus(DAY)).toEqual({
        DISCOVERED: 0,
        DOWNLOADING: 0,
        DOWNLOADED: GRANULES,
        FAILED: 0,
      });
      const keys = new Set(await stores.listKeys());
      expect(keys.size).toBe(GRANULES);
      for (const product of catalogue.products) expect(keys.has(objectKeyFor(product.name))).toBe(true);
    } finally {
      await stores.close();
    }
    console.info(`13,000-granule day: ${seconds.toFixed(1)} s for the run on ${summary.store.backend}`);
  });
});
