import { spawn } from "node:child_process";
import { join } from "node:path";
import { type DiscoveredGranule, FILTER_REASONS, objectKeyFor } from "@hls-s2/core/domain";
import { InvalidHubDataError } from "@hls-s2/core/errors";
import { CdseHub, DhusHub } from "@hls-s2/core/hub";
import type { FetchProgress } from "@hls-s2/core/store";
import { transferGranule } from "@hls-s2/core/transfer";
import { type FetchLinksDeps, fetchPage } from "@hls-s2/core/usecases";
import { buildCatalogue, runLocal, startEmbeddedStores } from "@hls-s2/local";
import { createCatalogue, type FaultPlan, type MockHub, startMockHub } from "@hls-s2/mock-hub";
import {
  granulesOf,
  incompleteUploads,
  objectMd5,
  reopen,
  tempDataDir,
  useCleanups,
} from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { KIB, shareSynthesis, useSharedSynthesis } from "./helpers";

const cleanups = useCleanups();

const CREDENTIALS = { username: "u", password: "p" };
const FILTERS = { maxAcquisitionAgeDays: 3650 };
const FAST_HTTP = { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 };

async function mockHub(granulesPerDay: number, day: string, faults: FaultPlan): Promise<MockHub> {
  const hub = await startMockHub({
    catalogue: createCatalogue({
      seed: "lying",
      days: [day],
      platforms: ["S2A"],
      granulesPerDay,
      sizeBytes: 300 * KIB,
    }),
    faults,
  });
  cleanups.add(() => hub.close());
  return hub;
}

/** A fetch-progress store in memory: the paging test is about requests, not about DynamoDB. */
function memoryLinkStore(): FetchLinksDeps["store"] {
  const progress = new Map<string, FetchProgress>();
  return {
    async recordDiscovered(_granule: DiscoveredGranule) {
      return { recorded: true };
    },
    async getFetchProgress(day, platform) {
      return progress.get(`${day}|${platform}`);
    },
    async recordFetchProgress(day, platform, update) {
      const key = `${day}|${platform}`;
      const saved: FetchProgress = {
        available: update.available,
        fetched: (progress.get(key)?.fetched ?? 0) + update.fetchedDelta,
        nextOffset: update.nextOffset,
        finished: update.finished,
        lastFetchAt: new Date().toISOString(),
        recorded: (progress.get(key)?.recorded ?? 0) + (update.recordedDelta ?? 0),
        filtered: Object.fromEntries(
          FILTER_REASONS.map((reason) => [
            reason,
            (progress.get(key)?.filtered[reason] ?? 0) + (update.filteredDelta?.[reason] ?? 0),
          ]),
        ) as FetchProgress["filtered"],
      };
      progress.set(key, saved);
      return saved;
    },
  };
}

describe("a hub answering an endless 200 JSON body", () => {
  it("costs the searching process less than 300 MiB of peak RSS and ends in a typed retryable error", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "endless-json-child.ts")],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    cleanups.add(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));

    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as {
      errors: string[];
      peakRssMiB: number;
      searches: { dhus: number; cdse: number };
    };
    expect(result.errors).toEqual(["HubAnswerTooLargeError", "HubAnswerTooLargeError"]);
    expect(result.peakRssMiB).toBeLessThan(300);
    // Three attempts per client (first try and two retries), each cut at the cap.
    expect(result.searches).toEqual({ dhus: 3, cdse: 3 });
  }, 60_000);
});

describe("a search that ignores start / $skip", () => {
  const day = "2026-11-24";
  const total = 250;
  const pageSize = 100;

  it("stops a DHuS query after at most totalResults / pageSize + 2 requests with InvalidHubDataError", async () => {
    const hub = await mockHub(total, day, {
      search: [{ kind: "ignoreOffset", times: Number.POSITIVE_INFINITY }],
    });
    const client = new DhusHub({
      url: hub.url,
      credentials: CREDENTIALS,
      filterRules: FILTERS,
      pageSize,
      http: FAST_HTTP,
    });

    const error = await fetchPage(
      { day, platform: "S2A" },
      { hub: client, store: memoryLinkStore() },
      { deadline: Date.now() + 60_000 },
    ).catch((caught: Error) => caught);

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect(hub.stats.route("dhus.search")).toBeLessThanOrEqual(total / pageSize + 2);
  });

  it("stops a CDSE query after at most totalResults / pageSize + 2 requests with InvalidHubDataError", async () => {
    const hub = await mockHub(total, day, {
      search: [{ kind: "ignoreOffset", times: Number.POSITIVE_INFINITY }],
    });
    const client = new CdseHub({
      catalogueUrl: hub.url,
      downloadUrl: hub.url,
      credentials: CREDENTIALS,
      filterRules: FILTERS,
      pageSize,
      http: FAST_HTTP,
    });

    const error = await fetchPage(
      { day, platform: "S2A" },
      { hub: client, store: memoryLinkStore() },
      { deadline: Date.now() + 60_000 },
    ).catch((caught: Error) => caught);

    expect(error).toBeInstanceOf(InvalidHubDataError);
    expect(hub.stats.route("cdse.products")).toBeLessThanOrEqual(total / pageSize + 2);
  });
});

describe("a trickling hub", () => {
  it("has its body cut under the throughput floor and resumed by Range into the same upload", async () => {
    const day = "2026-11-25";
    const hub = await mockHub(1, day, {});
    const product = hub.catalogue.products[0]!;
    // 20 KiB/s for the first body, under a 100 KiB/s floor judged over 400 ms; the resume is served at full speed.
    hub.setFaults({ granules: { [product.id]: { kind: "trickle", bytesPerSecond: 20 * KIB, times: 1 } } });
    const stores = await startEmbeddedStores({ dynamo: "dynalite" });
    cleanups.add(() => stores.close());
    const client = new DhusHub({
      url: hub.url,
      credentials: CREDENTIALS,
      filterRules: FILTERS,
      http: FAST_HTTP,
    });
    const key = objectKeyFor(product.name);

    const result = await transferGranule(
      {
        granuleId: product.id,
        bucket: stores.bucketName,
        key,
        expectedMd5: hub.catalogue.expectedMd5(product.id),
        hub: client,
        s3: stores.s3,
        expectedSizeBytes: product.sizeBytes,
      },
      { minBytesPerSecond: 100 * KIB, floorWindowMs: 400 },
    );

    expect(result).toMatchObject({ resumes: 1, restarts: 0, bytes: product.sizeBytes });
    expect(hub.stats.granule(product.id)).toMatchObject({ valueGets: 2, rangeGets: 1 });
    expect(hub.stats.faultsInjected(product.id)).toEqual({ trickle: 1 });
    expect(await objectMd5(stores, key)).toBe(hub.catalogue.expectedMd5(product.id));
  });
});

describe("the daily run against a hub that lies about framing, ranges and availability", () => {
  it("fails the always-lying granules typed after one clean retry, leaves no upload, and downloads the rest", async () => {
    const dataDir = await tempDataDir(cleanups);
    const day = "2026-11-26";
    const params = { seed: "lying-hub", granulesPerDay: 9, productSize: { min: 200 * KIB, max: 600 * KIB } };
    const catalogue = buildCatalogue(params, [day]);
    const [longer, shorter, garbage, once, early, offline, ...honest] = catalogue.products.map(
      (p) => p.id,
    ) as [string, string, string, string, string, string, ...string[]];
    const always = Number.POSITIVE_INFINITY;
    const faults: FaultPlan = {
      granules: {
        [longer]: { kind: "lengthLonger", times: always },
        [shorter]: { kind: "lengthShorter", times: always },
        [garbage]: { kind: "trailingGarbage", times: always },
        [once]: { kind: "lengthLonger", times: 1 },
        // A reset forces a Range request, which is answered 1,000 bytes early.
        [early]: [
          { kind: "resetAfterBytes", bytes: 100 * KIB, times: 1 },
          { kind: "rangeEarly", bytes: 1000, times: 1 },
        ],
        [offline]: { kind: "offline", times: 2 },
      },
    };

    let hub: MockHub | undefined;
    await useSharedSynthesis(dataDir);
    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      from: day,
      to: day,
      ...params,
      // The test follows every catalogue product; the HLS tile filter is hls-tiles.test.ts's.
      allTiles: true,
      mockKind: "cdse",
      retryDelayMs: 5,
      faults,
      onMockHub: (mock) => {
        hub = mock;
      },
    });
    await shareSynthesis(dataDir);

    const opened = await reopen(dataDir, cleanups);
    const records = new Map(
      (await granulesOf(opened.store, day)).map((record) => [record.granuleId, record]),
    );
    for (const id of [longer, shorter, garbage]) {
      expect(records.get(id), id).toMatchObject({ status: "FAILED", lastError: { name: "HubFramingError" } });
      // Detected once, retried once from a clean upload: two GETs, never forty-two.
      expect(hub!.stats.granule(id).valueGets, id).toBe(2);
      expect(await objectMd5(opened.stores, objectKeyFor(catalogue.get(id)!.name))).toBeUndefined();
    }
    for (const id of [once, early, offline, ...honest]) {
      const product = catalogue.get(id)!;
      expect(records.get(id), id).toMatchObject({ status: "DOWNLOADED", bytesWritten: product.sizeBytes });
      expect(await objectMd5(opened.stores, objectKeyFor(product.name)), id).toBe(catalogue.expectedMd5(id));
    }
    expect(hub!.stats.granule(once).valueGets).toBe(2);
    // The early Content-Range restarted the attempt from byte 0 instead of ending the granule.
    expect(hub!.stats.faultsInjected(early)).toMatchObject({ resetAfterBytes: 1, rangeEarly: 1 });
    expect(hub!.stats.granule(early).valueGets).toBe(3);
    expect(hub!.stats.faultsInjected(offline)).toEqual({ offline: 2 });
    expect(await incompleteUploads(opened.stores)).toEqual([]);
    expect(summary.totals).toMatchObject({ found: 9, downloaded: 6, failed: 3, pending: 0 });
  }, 90_000);
});
