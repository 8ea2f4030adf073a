import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { objectKeyFor } from "@hls-s2/core/domain";
import type { GranuleStore } from "@hls-s2/core/store";
import { type DownloadDeps, downloadGranule } from "@hls-s2/core/usecases";
import { completedUploads, type LocalRunSummary } from "@hls-s2/local";
import { requeue } from "@hls-s2/ops";
import { objectMd5, useCleanups } from "@hls-s2/testing/data-folder";
import { discoveredGranuleOf } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { DAY, LEASE_MS, losingFirstComplete, world } from "./once-world";

const cleanups = useCleanups();

/**
 * A store whose markDownloaded dies once: the process is gone after S3 completed, before the table knew.
 * With `recordsFailure`, the attempt instead fails there and lives on to record FAILED itself, as the
 * Download step does; without it nothing more reaches the table (a SIGKILL).
 */
function crashingBeforeMark(
  store: GranuleStore,
  options: { recordsFailure?: boolean } = {},
): DownloadDeps["store"] {
  let crashed = false;
  return {
    markFailed: async (...args) => {
      if (crashed && options.recordsFailure !== true) throw new Error("process killed: nothing recorded");
      return store.markFailed(...args);
    },
    getGranule: store.getGranule.bind(store),
    claimGranule: store.claimGranule.bind(store),
    claimObjectKey: store.claimObjectKey.bind(store),
    takeOverObjectKey: store.takeOverObjectKey.bind(store),
    markDuplicate: store.markDuplicate.bind(store),
    recordChecksum: store.recordChecksum.bind(store),
    saveUploadProgress: store.saveUploadProgress.bind(store),
    markUploadCreating: store.markUploadCreating.bind(store),
    renewLease: store.renewLease.bind(store),
    markDownloaded: async (...args) => {
      if (!crashed) {
        crashed = true;
        throw new Error("process killed after CompleteMultipartUpload");
      }
      return store.markDownloaded(...args);
    },
  };
}

describe("exactly one object per granule", () => {
  it("is created once across duplicate workers, reruns, pushes, requeues, redrives and crashes around Complete", async () => {
    // Multi-part products: each crash here lands after a recorded completing upload, which the next attempt
    // only completes. (A one-part product has no upload to complete: one-name.test.ts shows its crash.)
    const { catalogue, hub, opened, store, clock, deps } = await world(cleanups, 6, {
      sizeBytes: { min: 6 * 1024 * 1024, max: 8 * 1024 * 1024 },
    });
    const [twice, crashed, retried, redriven, requeued, lostComplete] = catalogue.products;

    // Two executions list the same granule at once: one downloads, the other finds it leased.
    const raced = await Promise.all([
      downloadGranule({ granuleId: twice!.id, owner: "exec-a" }, deps()),
      downloadGranule({ granuleId: twice!.id, owner: "exec-b" }, deps()),
    ]);
    expect(raced.map((result) => result.outcome).sort()).toEqual(["downloaded", "leased-elsewhere"]);
    // A rerun of the day and a duplicate push of the same product find it downloaded.
    expect((await downloadGranule({ granuleId: twice!.id, owner: "rerun" }, deps())).outcome).toBe(
      "already-downloaded",
    );
    expect(await store.recordDiscovered(discoveredGranuleOf(twice!), DAY)).toEqual({ recorded: false });
    expect((await downloadGranule({ granuleId: twice!.id, owner: "push" }, deps())).outcome).toBe(
      "already-downloaded",
    );

    // Killed after S3 completed, before DOWNLOADED: another execution takes over once the lease lapsed.
    await expect(
      downloadGranule(
        { granuleId: crashed!.id, owner: "killed" },
        deps({ store: crashingBeforeMark(store) }),
      ),
    ).rejects.toThrow(/killed/);
    clock.ms += LEASE_MS + 1;
    expect(await downloadGranule({ granuleId: crashed!.id, owner: "next-run" }, deps())).toMatchObject({
      outcome: "downloaded",
      bytes: crashed!.sizeBytes,
    });

    // The same crash, then a Step Functions Retry of the same child (it holds its own lease still).
    const retrying = deps({ store: crashingBeforeMark(store) });
    await expect(downloadGranule({ granuleId: retried!.id, owner: "child" }, retrying)).rejects.toThrow();
    expect((await downloadGranule({ granuleId: retried!.id, owner: "child" }, retrying)).outcome).toBe(
      "downloaded",
    );

    // The same failure, recorded FAILED by the Download step itself, then redriven.
    await expect(
      downloadGranule(
        { granuleId: redriven!.id, owner: "child-r" },
        deps({ store: crashingBeforeMark(store, { recordsFailure: true }) }),
      ),
    ).rejects.toThrow();
    expect((await store.getGranule(redriven!.id))?.status).toBe("FAILED");
    expect((await downloadGranule({ granuleId: redriven!.id, owner: "redrive" }, deps())).outcome).toBe(
      "downloaded",
    );

    // Verified and recorded completing, but the Complete itself was lost: the retry completes it.
    const losing = deps({ s3: losingFirstComplete(opened.stores.s3) });
    await expect(
      downloadGranule({ granuleId: lostComplete!.id, owner: "child-l" }, losing),
    ).rejects.toMatchObject({ name: "TransferInterruptedError" });
    expect((await downloadGranule({ granuleId: lostComplete!.id, owner: "child-l" }, deps())).outcome).toBe(
      "downloaded",
    );

    // The same crash, recorded FAILED, then `ops requeue` of the day (which also sees every DOWNLOADED one).
    await expect(
      downloadGranule(
        { granuleId: requeued!.id, owner: "child-q" },
        deps({ store: crashingBeforeMark(store, { recordsFailure: true }) }),
      ),
    ).rejects.toThrow();
    expect((await store.getGranule(requeued!.id))?.status).toBe("FAILED");
    const requeueRun = await requeue(
      { day: DAY },
      {
        store,
        now: new Date(clock.ms),
        launch: async () => {
          for (const granule of await store.listPending(DAY)) {
            await downloadGranule({ granuleId: granule.granuleId, owner: "requeue-run" }, deps());
          }
          return { mode: "local", executionName: "requeue-run", summary: {} as LocalRunSummary };
        },
      },
    );
    expect(requeueRun.requeued).toEqual([requeued!.id]);
    expect(await store.requeueGranule(twice!.id)).toMatchObject({ requeued: false });

    // A last rerun over everything: nothing to do.
    for (const product of catalogue.products) {
      expect((await downloadGranule({ granuleId: product.id, owner: "final-rerun" }, deps())).outcome).toBe(
        "already-downloaded",
      );
    }

    const completions = await completedUploads(opened.stores.s3Directory, opened.stores.bucketName);
    const keys = catalogue.products.map((product) => objectKeyFor(product.name));
    expect(Object.fromEntries(completions)).toEqual(Object.fromEntries(keys.map((key) => [key, 1])));
    for (const product of catalogue.products) {
      expect(await store.getGranule(product.id)).toMatchObject({ status: "DOWNLOADED" });
      expect(await objectMd5(opened.stores, objectKeyFor(product.name))).toBe(
        catalogue.expectedMd5(product.id),
      );
      // Each product was fetched from the hub once: no path downloaded it a second time.
      expect(hub.stats.granule(product.id)).toMatchObject({
        valueGets: 1,
        bytesServed: product.sizeBytes,
        checksumGets: 1,
      });
    }
    const open = await opened.stores.s3.send(
      new ListMultipartUploadsCommand({ Bucket: opened.stores.bucketName }),
    );
    expect(open.Uploads ?? []).toEqual([]);
  }, 60_000);
});
