import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HubSlotsBusyError } from "@hls-s2/core/errors";
import { DhusHub } from "@hls-s2/core/hub";
import { createDocumentClient, GranuleStore, SlotPool } from "@hls-s2/core/store";
import { downloadGranule } from "@hls-s2/core/usecases";
import { MOCK_CREDENTIALS, startEmbeddedStores } from "@hls-s2/local";
import { createCatalogue, startMockHub } from "@hls-s2/mock-hub";
import { useCleanups } from "@hls-s2/testing/data-folder";
import { describe, expect, it } from "vitest";
import { MIB } from "./helpers";

const DAY = "2026-03-18";
/** The leases of slot and claim: short, so the test waits out a dead holder's in seconds. */
const LEASE_MS = 3_000;
const cleanups = useCleanups();

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe("a hub slot holder killed mid-download", () => {
  it("frees its slot when its lease ends, and the granules then download, each once more at most", async () => {
    const stores = await startEmbeddedStores({ dynamo: "dynalite" });
    cleanups.add(() => stores.close());
    const catalogue = createCatalogue({ seed: "slot-kill", days: [DAY], granulesPerDay: 2, sizeBytes: MIB });
    // One download at a time at the hub, each ~2 s: the kill lands mid-body.
    const hub = await startMockHub({
      catalogue,
      credentials: MOCK_CREDENTIALS,
      maxDownloads: 1,
      bandwidthBytesPerSecond: 512 * 1024,
    });
    cleanups.add(() => hub.close());
    const client = createDocumentClient(stores.dynamo);
    const store = new GranuleStore(client, { tableName: stores.tableName, leaseMs: LEASE_MS });
    const pool = new SlotPool(client, { tableName: stores.tableName, defaultSlots: 1, leaseMs: LEASE_MS });
    for (const p of catalogue.products) {
      const { id: granuleId, name, tileId, platform, sensingStart, sensingEnd, publishedAt, sizeBytes } = p;
      await store.recordDiscovered(
        { granuleId, name, tileId, platform, sensingStart, sensingEnd, publishedAt, sizeBytes },
        DAY,
      );
    }
    const [first, second] = catalogue.products;

    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "slot-holder-child.ts"),
        ...["--dynamo-endpoint", stores.dynamoEndpoint, "--s3-endpoint", stores.s3Endpoint],
        ...["--table", stores.tableName, "--bucket", stores.bucketName, "--hub-url", hub.url],
        ...["--granule", first!.id, "--owner", "killed-execution", "--lease-ms", String(LEASE_MS)],
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    cleanups.add(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    await until(() => hub.stats.granule(first!.id).bytesServed > 0, 20_000);
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");

    // The dead holder's slot stays held until its lease ends: nobody else opens a hub connection.
    const [held] = (await pool.usage()).held;
    expect(held).toMatchObject({ owner: "killed-execution", granuleId: first!.id });
    await expect(pool.acquire("next-execution")).rejects.toBeInstanceOf(HubSlotsBusyError);

    // Then the next execution's downloads, retried as the state machine would, get it and finish.
    let firstSlotAt: number | undefined;
    const deps = {
      store,
      // The pool as the next downloads use it, noting when the first of them got a slot.
      slots: {
        acquire: async (...args: Parameters<SlotPool["acquire"]>) => {
          const lease = await pool.acquire(...args);
          firstSlotAt ??= Date.now();
          return lease;
        },
        renew: (lease: Parameters<SlotPool["renew"]>[0]) => pool.renew(lease),
        release: (lease: Parameters<SlotPool["release"]>[0]) => pool.release(lease),
      },
      hub: new DhusHub({
        url: hub.url,
        credentials: MOCK_CREDENTIALS,
        filterRules: { maxAcquisitionAgeDays: 3650 },
      }),
      s3: stores.s3,
      bucket: stores.bucketName,
    };
    const retried = async (granuleId: string) => {
      for (;;) {
        try {
          const result = await downloadGranule({ granuleId, owner: `next-${granuleId}` }, deps);
          // The dead worker's claim may outlive its slot by the moment between the two writes: a
          // later run picks the granule up then (here: the same loop).
          if (result.outcome !== "leased-elsewhere") return result;
        } catch (error) {
          if (!(error instanceof HubSlotsBusyError)) throw error;
        }
        await sleep(50);
      }
    };
    const results = await Promise.all([retried(first!.id), retried(second!.id)]);
    expect(results.map((result) => result.outcome)).toEqual(["downloaded", "downloaded"]);
    // Freed by its lease: no download got the slot before the dead holder's lease ended, and one got
    // it right after (the 50 ms retry, with room for a loaded machine).
    expect(firstSlotAt).toBeGreaterThanOrEqual(held!.expiresAt);
    expect(firstSlotAt! - held!.expiresAt).toBeLessThan(1_000);

    expect(hub.stats.downloads.snapshot()).toMatchObject({ peak: 1, refused: 0, inFlight: 0 });
    expect(hub.stats.granule(first!.id).valueGets).toBe(2);
    expect(hub.stats.granule(second!.id).valueGets).toBe(1);
    for (const p of catalogue.products) expect((await store.getGranule(p.id))?.status).toBe("DOWNLOADED");
    expect((await pool.usage()).held).toEqual([]);
  });
});
