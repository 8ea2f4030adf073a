import { createDocumentClient, GranuleStore, SlotPool } from "@hls-s2/core/store";
import { loadSynthesizedWorkflow, runLocal, runLocalOverlapping, startEmbeddedStores } from "@hls-s2/local";
import type { MockHub } from "@hls-s2/mock-hub";
import { tempDataDir, useCleanups } from "@hls-s2/testing/data-folder";
import { beforeAll, describe, expect, it } from "vitest";

const DAY = "2026-03-14";
const MIB = 1024 * 1024;
const cleanups = useCleanups();

beforeAll(async () => {
  await loadSynthesizedWorkflow();
});

describe("one hub quota across every execution", () => {
  it("keeps a day, its backfill and a download-only run together within 4 hub downloads, each granule once", async () => {
    const dataDir = await tempDataDir(cleanups);
    let hub: MockHub | undefined;
    const summaries = await runLocalOverlapping(
      {
        dataDir,
        dynamo: "dynalite",
        from: DAY,
        to: DAY,
        seed: "quota",
        granulesPerDay: 18,
        productSize: { min: 2 * MIB, max: 4 * MIB },
        // Each Map Run alone would open 6 downloads; together 18 against a hub that allows 4.
        concurrency: 6,
        hubSlots: 4,
        mockMaxDownloads: 4,
        // ~0.3 s a product: downloads overlap as they do at a real hub's 20 MB/s.
        mockBandwidthBytesPerSecond: 10 * MIB,
        retryDelayMs: 20,
        allTiles: true,
        onMockHub: (mock) => {
          hub = mock;
        },
      },
      [{}, {}, { downloadOnly: true, delayMs: 1500 }],
    );

    const downloads = hub!.stats.downloads.snapshot();
    expect(downloads.refused).toBe(0);
    expect(downloads.peak).toBeLessThanOrEqual(4);
    expect(downloads.peak).toBeGreaterThan(1);
    const products = hub!.catalogue.products;
    for (const product of products) expect(hub!.stats.granule(product.id).valueGets).toBe(1);
    expect(summaries.every((summary) => summary.status === "SUCCEEDED")).toBe(true);
    const last = summaries.at(-1)!;
    expect(last.totals).toMatchObject({
      found: products.length,
      downloaded: products.length,
      failed: 0,
      pending: 0,
    });
    expect(summaries.reduce((sum, summary) => sum + summary.run.downloaded, 0)).toBe(products.length);
    // The runs did wait for slots (HubSlotsBusyError retried), and no slot stays held after them.
    expect(summaries.reduce((sum, summary) => sum + summary.run.retries, 0)).toBeGreaterThan(0);
    const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
    cleanups.add(() => stores.close());
    const pool = new SlotPool(createDocumentClient(stores.dynamo), { tableName: stores.tableName });
    expect((await pool.usage()).held).toEqual([]);
    // Three executions of 18 granules: 21 s on a quiet machine, over the default 30 s at load ~11.
  }, 120_000);

  it("completes the day with no HubAuthError while the identity service refuses new sessions for a while", async () => {
    const dataDir = await tempDataDir(cleanups);
    let hub: MockHub | undefined;
    const summary = await runLocal({
      dataDir,
      dynamo: "dynalite",
      from: DAY,
      to: DAY,
      seed: "sessions",
      granulesPerDay: 6,
      productSize: MIB,
      mockKind: "cdse",
      concurrency: 3,
      retryDelayMs: 50,
      allTiles: true,
      onMockHub: (mock) => {
        hub = mock;
        // Sessions opened elsewhere have not expired yet: the first grants are refused, then accepted.
        mock.tokens.denyNextSessions(3);
      },
    });

    expect(hub!.tokens.sessionRefusals).toBe(3);
    expect(summary.run.failures).toEqual({});
    expect(summary.totals).toMatchObject({ found: 6, downloaded: 6, failed: 0 });
    const stores = await startEmbeddedStores({ dataDir, dynamo: "dynalite" });
    cleanups.add(() => stores.close());
    const store = new GranuleStore(createDocumentClient(stores.dynamo), {
      tableName: stores.tableName,
    });
    const downloaded = await store.listByStatus(DAY, "DOWNLOADED");
    expect(downloaded.every((granule) => granule.lastError?.name !== "HubAuthError")).toBe(true);
  });
});
