import { objectKeyFor } from "@hls-s2/core/domain";
import { buildCatalogue, completedUploads, loadSynthesizedWorkflow, runLocal } from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  incompleteUploads,
  reopen,
  SHORT_HORIZON_ENV,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { beforeAll, describe, expect, it } from "vitest";

const DAY = "2026-03-15";
const MIB = 1024 * 1024;
const cleanups = useCleanups();

beforeAll(async () => {
  await loadSynthesizedWorkflow();
});

describe("a local run against a hub that publishes product names twice", () => {
  it("stores one object per key and records each second id as a DUPLICATE of the first", async () => {
    const dataDir = await tempDataDir(cleanups);
    const params = {
      seed: "e2e-duplicate-names",
      granulesPerDay: 10,
      productSize: { min: MIB, max: 7 * MIB },
    };
    const duplicateNames = 0.5;
    const catalogue = buildCatalogue(params, [DAY], duplicateNames);
    const names = new Set(catalogue.products.map((product) => product.name));
    const twins = catalogue.products.length - names.size;
    expect(twins).toBeGreaterThanOrEqual(2);
    let mock: MockHub | undefined;

    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      lambdaEnv: SHORT_HORIZON_ENV,
      from: DAY,
      to: DAY,
      ...params,
      concurrency: 6,
      retryDelayMs: 10,
      allTiles: true,
      faults: { duplicateNames },
      onMockHub: (hub) => {
        mock = hub;
      },
    });

    // Counted as documented: recorded = downloaded + failed + pending + missing, and the duplicates beside.
    expect(summary.totals).toMatchObject({
      recorded: catalogue.products.length,
      downloaded: names.size,
      duplicates: twins,
      failed: 0,
      pending: 0,
    });
    const { stores, store } = await reopen(dataDir, cleanups);
    const completions = await completedUploads(stores.s3Directory, stores.bucketName);
    for (const name of names) expect(completions.get(objectKeyFor(name))).toBe(1);
    expect(await stores.listKeys()).toHaveLength(names.size);
    expect(await incompleteUploads(stores)).toEqual([]);
    const records = await granulesOf(store, DAY);
    const downloadedBy = new Map(
      records.filter((r) => r.status === "DOWNLOADED").map((r) => [r.name, r.granuleId] as const),
    );
    for (const duplicate of records.filter((r) => r.status === "DUPLICATE")) {
      expect(duplicate.duplicateOf).toBe(downloadedBy.get(duplicate.name));
      // Never downloaded: its `$value` was not asked for.
      expect(mock!.stats.granule(duplicate.granuleId).valueGets).toBe(0);
    }
    expect(summary.totals.duplicateIds).toHaveLength(twins);
  }, 180_000);
});
