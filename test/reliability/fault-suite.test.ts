import { objectKeyFor } from "@hls-s2/core/domain";
import { MISMATCH_MAX_ATTEMPTS, TERMINAL_ERROR_NAMES } from "@hls-s2/core/errors";
import { buildCatalogue, type CatalogueParams, type LocalRunSummary, runLocal } from "@hls-s2/local";
import type { Catalogue, FaultPlan, MockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  incompleteUploads,
  type OpenedData,
  objectMd5,
  reopen,
  SHORT_HORIZON_ENV,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { faultMixPlan, KIB, MIB, shareSynthesis, sumStats, useSharedSynthesis } from "./helpers";

const cleanups = useCleanups();

async function runDay(
  dataDir: string,
  day: string,
  params: CatalogueParams,
  faults: FaultPlan,
): Promise<{ summary: LocalRunSummary; hub: MockHub }> {
  let hub: MockHub | undefined;
  await useSharedSynthesis(dataDir);
  const summary = await runLocal({
    dataDir,
    dynamo: "dynalite",
    lambdaEnv: SHORT_HORIZON_ENV,
    from: day,
    to: day,
    ...params,
    concurrency: 15,
    retryDelayMs: 5,
    // The handlers' hub retries (5xx, 429, resets) back off from 5 ms, not the deployed 500 ms.
    hubRetryDelayMs: 5,
    faults,
    // Every catalogue product is accounted for here; the HLS tile filter is test/e2e/hls-tiles.test.ts's.
    allTiles: true,
    onMockHub: (mock) => {
      hub = mock;
    },
  });
  await shareSynthesis(dataDir);
  return { summary, hub: hub! };
}

/** Every granule of the day: DOWNLOADED with the catalogue's MD5, or FAILED with the name its fault explains. */
async function expectEveryGranuleAccountedFor(
  opened: OpenedData,
  day: string,
  catalogue: Catalogue,
  hub: MockHub,
): Promise<{ downloaded: string[]; failed: string[] }> {
  const { stores, store } = opened;
  const records = new Map((await granulesOf(store, day)).map((record) => [record.granuleId, record]));
  expect(records.size).toBe(catalogue.products.length);
  const downloaded: string[] = [];
  const failed: string[] = [];
  for (const product of catalogue.products) {
    const record = records.get(product.id)!;
    const injected = hub.stats.faultsInjected(product.id);
    const stats = hub.stats.granule(product.id);
    const key = objectKeyFor(product.name);
    if ((injected.gone ?? 0) > 0) {
      expect(record, product.id).toMatchObject({ status: "FAILED", lastError: { name: "GranuleGoneError" } });
      expect(await objectMd5(stores, key)).toBeUndefined();
      failed.push(product.id);
    } else if ((injected.corruptAlways ?? 0) > 0) {
      expect(record, product.id).toMatchObject({
        status: "FAILED",
        lastError: { name: "ChecksumMismatchError" },
      });
      expect(await objectMd5(stores, key)).toBeUndefined();
      // The first download and MISMATCH_MAX_ATTEMPTS retries, each served whole and refused.
      expect(injected.corruptAlways).toBe(1 + MISMATCH_MAX_ATTEMPTS);
      failed.push(product.id);
    } else {
      expect(record, product.id).toMatchObject({
        status: "DOWNLOADED",
        s3Key: key,
        bytesWritten: product.sizeBytes,
      });
      expect(await objectMd5(stores, key), product.id).toBe(catalogue.expectedMd5(product.id));
      // One GET, plus one per fault that breaks a body; status faults may add a refused GET each.
      const explained = 1 + (injected.resetAfterBytes ?? 0) + (injected.corruptOnce ?? 0);
      expect(stats.valueGets, product.id).toBeGreaterThanOrEqual(explained);
      expect(stats.valueGets, product.id).toBeLessThanOrEqual(
        explained + (injected.http5xx ?? 0) + (injected.throttle429 ?? 0),
      );
      // Downloaded once: a second whole download would serve the product's bytes again.
      const servedWhole = 1 + (injected.corruptOnce ?? 0);
      expect(stats.bytesServed - servedWhole * product.sizeBytes, product.id).toBeLessThanOrEqual(
        (injected.resetAfterBytes ?? 0) * 256 * KIB,
      );
      downloaded.push(product.id);
    }
  }
  // No object without a DOWNLOADED granule, no multipart upload left open.
  const keys = await stores.listKeys();
  expect(keys.length).toBe(downloaded.length);
  const downloadedKeys = new Set(downloaded.map((id) => records.get(id)!.s3Key));
  expect(keys.filter((key) => !downloadedKeys.has(key))).toEqual([]);
  expect(await incompleteUploads(stores)).toEqual([]);
  return { downloaded, failed };
}

describe("the daily run under the issue's fault mix", () => {
  it("ends every small granule DOWNLOADED with its MD5 or FAILED with its fault's error, and a rerun downloads nothing", async () => {
    const dataDir = await tempDataDir(cleanups);
    const day = "2026-03-14";
    const params = {
      seed: "reliability-small",
      granulesPerDay: 100,
      productSize: { min: 64 * KIB, max: 512 * KIB },
    };
    const catalogue = buildCatalogue(params, [day]);

    const { summary, hub } = await runDay(dataDir, day, params, faultMixPlan("mix-3"));

    const injected = hub.stats.faultsInjected();
    // Seed "mix-3" draws every kind of the mix (8 5xx, 7 429, 6 resets, 2+1 corrupt, 1 gone, 2 late), so each branch below runs.
    for (const kind of [
      "http5xx",
      "throttle429",
      "resetAfterBytes",
      "corruptOnce",
      "corruptAlways",
      "gone",
      "checksumLate",
    ] as const) {
      expect(injected[kind], kind).toBeGreaterThan(0);
    }
    const opened = await reopen(dataDir, cleanups);
    const { downloaded, failed } = await expectEveryGranuleAccountedFor(opened, day, catalogue, hub);
    expect(downloaded.length + failed.length).toBe(100);
    // Within the Map's ToleratedFailurePercentage: the execution SUCCEEDED and Summarize ran.
    expect(failed.length).toBeLessThanOrEqual(10);
    expect(summary.status).toBe("SUCCEEDED");
    expect(summary.output?.totals.counts.FAILED).toBe(failed.length);
    expect(summary.totals).toMatchObject({
      found: 100,
      downloaded: downloaded.length,
      failed: failed.length,
      pending: 0,
    });
    await opened.stores.close();

    // Terminal failures (gone, always corrupt) are not listed again; only a failure whose name is
    // retryable (retries ran out) would be. The summary still shows every earlier failure.
    const retryable = Object.entries(summary.totals.failures)
      .filter(([name]) => !(TERMINAL_ERROR_NAMES as readonly string[]).includes(name))
      .reduce((sum, [, n]) => sum + n, 0);
    const rerun = await runDay(dataDir, day, params, faultMixPlan("mix-3"));
    expect(rerun.summary.run).toMatchObject({ manifest: retryable, downloaded: 0, bytes: 0 });
    expect(sumStats(rerun.hub, downloaded, "valueGets")).toBe(0);
    if (retryable === 0) expect(sumStats(rerun.hub, failed, "valueGets")).toBe(0);
    expect(rerun.summary.totals.failed).toBe(failed.length);
  }, 60_000);

  it("resumes products of several parts broken mid-body with Range requests that fetch only the missing bytes", async () => {
    const dataDir = await tempDataDir(cleanups);
    const day = "2026-03-15";
    const params = {
      seed: "reliability-large",
      granulesPerDay: 5,
      productSize: { min: 12 * MIB, max: 20 * MIB },
    };
    const catalogue = buildCatalogue(params, [day]);
    const ids = catalogue.products.map((product) => product.id);
    // Each body breaks at ~70% (past the first 16 MiB part for most), the first also a second time.
    const granules: FaultPlan["granules"] = {};
    for (const product of catalogue.products) {
      granules[product.id] = { kind: "resetAfterBytes", bytes: Math.floor(product.sizeBytes * 0.7) };
    }
    granules[ids[0]!] = {
      kind: "resetAfterBytes",
      bytes: Math.floor(catalogue.products[0]!.sizeBytes * 0.4),
      times: 2,
    };

    const { hub } = await runDay(dataDir, day, params, { granules });

    const opened = await reopen(dataDir, cleanups);
    const { downloaded } = await expectEveryGranuleAccountedFor(opened, day, catalogue, hub);
    expect(downloaded).toHaveLength(5);
    const size = catalogue.products.reduce((sum, product) => sum + product.sizeBytes, 0);
    const refetched = sumStats(hub, ids, "bytesServed") - size;
    expect(sumStats(hub, ids, "rangeGets")).toBe(6);
    expect(refetched).toBeGreaterThanOrEqual(0);
    expect(refetched / size).toBeLessThan(0.01);
  }, 60_000);
});
