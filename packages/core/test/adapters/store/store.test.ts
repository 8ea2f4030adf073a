import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { createDocumentClient } from "../../../src/adapters/store/client";
import { GranuleStore, type GranuleStoreOptions } from "../../../src/adapters/store/store";
import {
  GranuleNotFoundError,
  InvalidInputError,
  LeaseLostError,
  MISMATCH_MAX_ATTEMPTS,
} from "../../../src/domain/errors";
import { dayShardOf, dayShardsOf, type UploadProgress } from "../../../src/domain/granule";

const TABLE = "granules";
const T0 = Date.parse("2030-06-01T12:00:00.000Z");
const dynamo = useGranuleTable(TABLE);

/** A store whose clock reads `clock.ms`, so a test moves time by assigning it. */
function aStore(options: Partial<GranuleStoreOptions> = {}) {
  const clock = { ms: T0 };
  const store = new GranuleStore(dynamo.documentClient, {
    tableName: TABLE,
    leaseMs: 60_000,
    maxAttempts: 3,
    now: () => new Date(clock.ms),
    ...options,
  });
  return { store, clock };
}

async function aRecordedGranule(store: GranuleStore, day = aUniqueDay()) {
  const granule = aDiscoveredGranule();
  await store.recordDiscovered(granule, day);
  return { granule, day };
}

describe("GranuleStore options", () => {
  it("rejects a bad option by name", () => {
    expect(() => new GranuleStore(dynamo.documentClient, { tableName: "" })).toThrow(/tableName/);
    expect(() => new GranuleStore(dynamo.documentClient, { tableName: TABLE, leaseMs: 0 })).toThrow(
      InvalidInputError,
    );
    expect(() => new GranuleStore(dynamo.documentClient, { tableName: TABLE, maxAttempts: 1.5 })).toThrow(
      /maxAttempts/,
    );
  });
});

describe("recordDiscovered", () => {
  it("records a granule once and never overwrites its state", async () => {
    const { store } = aStore();
    const granule = aDiscoveredGranule({ md5: "0123456789ABCDEF0123456789ABCDEF" });
    const day = aUniqueDay();

    expect(await store.recordDiscovered(granule, day)).toEqual({ recorded: true });
    await store.claimGranule(granule.granuleId, "worker-1");
    expect(await store.recordDiscovered(granule, day)).toEqual({ recorded: false });

    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({
      granuleId: granule.granuleId,
      name: granule.name,
      day,
      status: "DOWNLOADING",
      attempts: 1,
      checksum: { algorithm: "MD5", value: "0123456789abcdef0123456789abcdef" },
    });
    expect(record).not.toHaveProperty("pk");
    expect(record).not.toHaveProperty("s3Key");
  });

  it("rejects a malformed day", async () => {
    const { store } = aStore();
    await expect(store.recordDiscovered(aDiscoveredGranule(), "2024-02-30")).rejects.toThrow(
      InvalidInputError,
    );
  });
});

describe("claimGranule", () => {
  it("lets exactly one of two concurrent owners claim a granule", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);

    const results = await Promise.all([
      store.claimGranule(granule.granuleId, "worker-a"),
      store.claimGranule(granule.granuleId, "worker-b"),
    ]);

    expect(results.map((r) => r.outcome).sort()).toEqual(["claimed", "leased"]);
    const winner = results.find((r) => r.outcome === "claimed")!;
    expect(winner.granule.attempts).toBe(1);
    expect((await store.getGranule(granule.granuleId))?.leaseOwner).toBe(winner.granule.leaseOwner);
  });

  it("sets the lease from the injected clock", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);

    const result = await store.claimGranule(granule.granuleId, "worker-1");

    expect(result).toMatchObject({
      outcome: "claimed",
      granule: { status: "DOWNLOADING", leaseOwner: "worker-1", leaseExpiresAt: T0 + 60_000 },
    });
  });

  it("refuses a downloaded granule", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");
    await store.markDownloaded(granule.granuleId, "worker-1", { s3Key: "a.zip", bytesWritten: 10 });

    const result = await store.claimGranule(granule.granuleId, "worker-2");

    expect(result.outcome).toBe("already-downloaded");
    expect(result.granule.attempts).toBe(1);
  });

  it("is blocked by a live lease and takes over an expired one", async () => {
    const { store, clock } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "crashed-worker");

    clock.ms = T0 + 59_999;
    expect((await store.claimGranule(granule.granuleId, "worker-2")).outcome).toBe("leased");

    clock.ms = T0 + 60_001;
    const takeover = await store.claimGranule(granule.granuleId, "worker-2");
    expect(takeover).toMatchObject({ outcome: "claimed", granule: { leaseOwner: "worker-2", attempts: 2 } });
  });

  it("lets the same owner re-claim its own live lease without counting another attempt", async () => {
    const { store, clock } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "execution-1");

    clock.ms = T0 + 1000;
    const again = await store.claimGranule(granule.granuleId, "execution-1");

    expect(again).toMatchObject({
      outcome: "claimed",
      granule: { attempts: 1, leaseExpiresAt: T0 + 1000 + 60_000 },
    });
  });

  it("throws GranuleNotFoundError for an unknown id", async () => {
    const { store } = aStore();
    await expect(store.claimGranule("no-such-granule", "worker-1")).rejects.toThrow(GranuleNotFoundError);
  });
});

describe("lease holder updates", () => {
  it("renews the lease, records the checksum and keeps upload progress for the holder only", async () => {
    const { store, clock } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");
    const progress: UploadProgress = {
      uploadId: "upload-1",
      key: "a.zip",
      parts: [{ PartNumber: 1, ETag: '"etag-1"' }],
      bytes: 16 * 1024 * 1024,
      hashState: "c3RhdGU=",
    };

    clock.ms = T0 + 30_000;
    expect(await store.renewLease(granule.granuleId, "worker-1")).toBe(T0 + 90_000);
    await store.recordChecksum(granule.granuleId, "worker-1", "FFEEDDCCBBAA99887766554433221100");
    await store.saveUploadProgress(granule.granuleId, "worker-1", progress);

    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      leaseExpiresAt: T0 + 90_000,
      checksum: { algorithm: "MD5", value: "ffeeddccbbaa99887766554433221100" },
      upload: progress,
    });
    await expect(store.renewLease(granule.granuleId, "worker-2")).rejects.toThrow(LeaseLostError);
    await expect(store.saveUploadProgress(granule.granuleId, "worker-2", null)).rejects.toThrow(
      LeaseLostError,
    );

    await store.saveUploadProgress(granule.granuleId, "worker-1", null);
    expect(await store.getGranule(granule.granuleId)).not.toHaveProperty("upload");
  });

  it("refuses markDownloaded from a worker that does not hold the lease", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");

    await expect(
      store.markDownloaded(granule.granuleId, "worker-2", { s3Key: "a.zip", bytesWritten: 1 }),
    ).rejects.toThrow(LeaseLostError);
    expect((await store.getGranule(granule.granuleId))?.status).toBe("DOWNLOADING");
  });

  it("marks a granule downloaded and drops its lease, progress and last error", async () => {
    const { store, clock } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");
    await store.markFailed(
      granule.granuleId,
      { name: "HubUnavailableError", message: "503" },
      { owner: "worker-1" },
    );
    await store.claimGranule(granule.granuleId, "worker-1");
    await store.saveUploadProgress(granule.granuleId, "worker-1", {
      uploadId: "u",
      key: "a.zip",
      parts: [],
      bytes: 0,
      hashState: "",
    });

    clock.ms = T0 + 5000;
    await store.markDownloaded(granule.granuleId, "worker-1", { s3Key: "a.zip", bytesWritten: 42 });
    // Repeating the same success (an SDK retry of a landed write) is harmless.
    await store.markDownloaded(granule.granuleId, "worker-1", { s3Key: "a.zip", bytesWritten: 42 });

    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({
      status: "DOWNLOADED",
      s3Key: "a.zip",
      bytesWritten: 42,
      downloadedAt: new Date(T0 + 5000).toISOString(),
    });
    for (const gone of ["leaseOwner", "leaseExpiresAt", "upload", "lastError"]) {
      expect(record).not.toHaveProperty(gone);
    }
  });

  it("throws GranuleNotFoundError instead of LeaseLostError for an unknown id", async () => {
    const { store } = aStore();
    await expect(store.renewLease("no-such-granule", "worker-1")).rejects.toThrow(GranuleNotFoundError);
  });
});

describe("markFailed", () => {
  it("records the error, keeps upload progress and lets the next claim count another attempt", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");
    const progress: UploadProgress = { uploadId: "u", key: "k", parts: [], bytes: 0, hashState: "" };
    await store.saveUploadProgress(granule.granuleId, "worker-1", progress);

    const failed = await store.markFailed(
      granule.granuleId,
      { name: "TransferInterruptedError", message: "x".repeat(5000) },
      { owner: "worker-1" },
    );

    expect(failed).toMatchObject({ status: "FAILED", attempts: 1, upload: progress });
    expect(failed.lastError?.name).toBe("TransferInterruptedError");
    expect(failed.lastError?.message.length).toBeLessThanOrEqual(1000);
    expect(failed).not.toHaveProperty("leaseOwner");

    const again = await store.claimGranule(granule.granuleId, "worker-2");
    expect(again).toMatchObject({ outcome: "claimed", granule: { attempts: 2, leaseOwner: "worker-2" } });
  });

  it("never overwrites a downloaded granule", async () => {
    const { store } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");
    await store.markDownloaded(granule.granuleId, "worker-1", { s3Key: "a.zip", bytesWritten: 1 });

    const record = await store.markFailed(granule.granuleId, { name: "HubAuthError", message: "late" });

    expect(record.status).toBe("DOWNLOADED");
    expect((await store.getGranule(granule.granuleId))?.lastError).toBeUndefined();
  });

  it("refuses an owner whose lease another worker holds, but accepts one whose lease expired", async () => {
    const { store, clock } = aStore();
    const { granule } = await aRecordedGranule(store);
    await store.claimGranule(granule.granuleId, "worker-1");

    await expect(
      store.markFailed(granule.granuleId, { name: "Error", message: "stale" }, { owner: "worker-2" }),
    ).rejects.toThrow(LeaseLostError);

    clock.ms = T0 + 120_000;
    const record = await store.markFailed(
      granule.granuleId,
      { name: "Error", message: "x" },
      { owner: "worker-2" },
    );
    expect(record.status).toBe("FAILED");
  });
});

describe("listing a day", () => {
  it("lists pending granules: discovered, failed with attempts left, expired leases", async () => {
    const { store, clock } = aStore({ maxAttempts: 2 });
    const day = aUniqueDay();
    const discovered = (await aRecordedGranule(store, day)).granule;
    const failedOnce = (await aRecordedGranule(store, day)).granule;
    const failedOut = (await aRecordedGranule(store, day)).granule;
    const live = (await aRecordedGranule(store, day)).granule;
    const downloaded = (await aRecordedGranule(store, day)).granule;
    const expired = (await aRecordedGranule(store, day)).granule;
    const error = { name: "HubUnavailableError", message: "503" };

    await store.claimGranule(failedOnce.granuleId, "w");
    await store.markFailed(failedOnce.granuleId, error, { owner: "w" });
    // Two executions each failed it once (a retry or redrive of one execution counts no new attempt).
    for (const owner of ["w1", "w2"]) {
      await store.claimGranule(failedOut.granuleId, owner);
      await store.markFailed(failedOut.granuleId, error, { owner });
    }
    await store.claimGranule(downloaded.granuleId, "w");
    await store.markDownloaded(downloaded.granuleId, "w", { s3Key: "k", bytesWritten: 1 });
    await store.claimGranule(expired.granuleId, "w");
    clock.ms = T0 + 50_000;
    await store.claimGranule(live.granuleId, "w");
    clock.ms = T0 + 70_000;

    const pending = await store.listPending(day);

    expect(pending.map((g) => g.granuleId).sort()).toEqual(
      [discovered.granuleId, failedOnce.granuleId, expired.granuleId].sort(),
    );
    expect((await store.listPending(day, { now: new Date(T0) })).map((g) => g.granuleId)).not.toContain(
      expired.granuleId,
    );
  });

  it("keeps terminal failures out of the pending list, giving a checksum mismatch one try a day later", async () => {
    const { store, clock } = aStore({ maxAttempts: 5 });
    const day = aUniqueDay();
    const gone = (await aRecordedGranule(store, day)).granule;
    const corrupt = (await aRecordedGranule(store, day)).granule;
    // One child execution (`owner`) records every failed attempt: its Retries claim again as the same owner.
    const fail = async (granuleId: string, name: string, owner: string, attempts = 1) => {
      for (let attempt = 0; attempt < attempts; attempt++) {
        await store.claimGranule(granuleId, owner);
        await store.markFailed(granuleId, { name, message: "x" }, { owner });
      }
    };
    const pendingIds = async () => (await store.listPending(day)).map((g) => g.granuleId).sort();
    await fail(gone.granuleId, "GranuleGoneError", "run-1");
    // The first run's child downloads it 1 + MISMATCH_MAX_ATTEMPTS times, each a recorded mismatch.
    await fail(corrupt.granuleId, "ChecksumMismatchError", "run-1", 1 + MISMATCH_MAX_ATTEMPTS);

    expect(await pendingIds()).toEqual([]);
    clock.ms = T0 + 24 * 3600_000 - 1;
    expect(await pendingIds()).toEqual([]);
    clock.ms = T0 + 24 * 3600_000 + 1;
    // A day later the mismatch gets its one more try (ESA may have corrected the checksum); gone stays out.
    expect(await pendingIds()).toEqual([corrupt.granuleId]);
    await fail(corrupt.granuleId, "ChecksumMismatchError", "run-2");
    clock.ms = T0 + 10 * 24 * 3600_000;
    expect(await pendingIds()).toEqual([]);

    // Only an operator's requeue brings either back.
    await store.requeueGranule(gone.granuleId);
    await store.requeueGranule(corrupt.granuleId);
    expect(await pendingIds()).toEqual([gone.granuleId, corrupt.granuleId].sort());
  });

  it("gives a broken archive the same one late try as a checksum mismatch, then keeps it out", async () => {
    const { store, clock } = aStore({ maxAttempts: 5 });
    const day = aUniqueDay();
    const broken = (await aRecordedGranule(store, day)).granule;
    const fail = async (owner: string, attempts: number) => {
      for (let attempt = 0; attempt < attempts; attempt++) {
        await store.claimGranule(broken.granuleId, owner);
        await store.markFailed(broken.granuleId, { name: "ArchiveInvalidError", message: "x" }, { owner });
      }
    };
    const pendingIds = async () => (await store.listPending(day)).map((g) => g.granuleId);
    await fail("run-1", 1 + MISMATCH_MAX_ATTEMPTS);

    expect(await pendingIds()).toEqual([]);
    clock.ms = T0 + 24 * 3600_000 + 1;
    expect(await pendingIds()).toEqual([broken.granuleId]);
    await fail("run-2", 1);
    clock.ms = T0 + 10 * 24 * 3600_000;
    expect(await pendingIds()).toEqual([]);
  });

  it("lists by status through the index, following pages, and counts every status", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const granules = [];
    for (let i = 0; i < 5; i++) granules.push((await aRecordedGranule(store, day)).granule);
    await store.claimGranule(granules[0]!.granuleId, "w");
    await store.markDownloaded(granules[0]!.granuleId, "w", { s3Key: "k", bytesWritten: 1 });
    await store.claimGranule(granules[1]!.granuleId, "w");

    const discovered = await store.listByStatus(day, "DISCOVERED");
    const limited = await store.listByStatus(day, "DISCOVERED", { limit: 2 });

    expect(discovered.map((g) => g.granuleId).sort()).toEqual(
      granules
        .slice(2)
        .map((g) => g.granuleId)
        .sort(),
    );
    expect(limited).toHaveLength(2);
    expect(await store.countByStatus(day)).toEqual({
      DISCOVERED: 3,
      DOWNLOADING: 1,
      DOWNLOADED: 1,
      FAILED: 0,
      DUPLICATE: 0,
    });
  });
});

describe("addMissingShardKeys", () => {
  it("gives granule items written before the sharded index their dayShard, so the index shows them", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const old = aDiscoveredGranule();
    // An item as the unsharded version wrote it: everything but dayShard.
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: `granule#${old.granuleId}`, ...old, day, status: "DISCOVERED", attempts: 0 },
      }),
    );
    expect(await store.listPending(day)).toEqual([]);

    expect(await store.addMissingShardKeys()).toBeGreaterThanOrEqual(1);

    expect((await store.listPending(day)).map((g) => g.granuleId)).toEqual([old.granuleId]);
    expect((await store.getGranule(old.granuleId)) as unknown).toMatchObject({
      dayShard: dayShardOf(day, old.granuleId),
    });
    expect(await store.addMissingShardKeys()).toBe(0);
  });
});

describe("requeueGranule", () => {
  it("puts a failed granule back to DISCOVERED with attempts reset, and leaves a live claim alone", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const { granule: failed } = await aRecordedGranule(store, day);
    const { granule: busy } = await aRecordedGranule(store, day);
    await store.claimGranule(failed.granuleId, "w");
    await store.markFailed(failed.granuleId, { name: "HubAuthError", message: "401" }, { owner: "w" });
    await store.claimGranule(busy.granuleId, "w");

    const requeued = await store.requeueGranule(failed.granuleId);
    const refused = await store.requeueGranule(busy.granuleId);

    expect(requeued).toMatchObject({ requeued: true, granule: { status: "DISCOVERED", attempts: 0 } });
    expect(refused).toMatchObject({ requeued: false, granule: { status: "DOWNLOADING", leaseOwner: "w" } });
    await expect(store.requeueGranule("no-such-granule")).rejects.toThrow(GranuleNotFoundError);
  });
});

describe("fetch progress", () => {
  it("adds fetched counts across pages and keeps the latest offset", async () => {
    const { store, clock } = aStore();
    const day = aUniqueDay();

    expect(await store.getFetchProgress(day, "S2A")).toBeUndefined();
    await store.recordFetchProgress(day, "S2A", {
      available: 250,
      fetchedDelta: 100,
      nextOffset: 100,
      finished: false,
    });
    clock.ms = T0 + 1000;
    await store.recordFetchProgress(day, "S2A", {
      available: 251,
      fetchedDelta: 100,
      nextOffset: 200,
      finished: false,
      filteredDelta: { tile: 2, level: 1 },
    });
    await store.recordFetchProgress(day, "S2A", {
      available: 251,
      fetchedDelta: 0,
      nextOffset: 200,
      finished: false,
      filteredDelta: { tile: 3, unsafeName: 1 },
    });
    await store.recordFetchProgress(day, "S2B", {
      available: 3,
      fetchedDelta: 3,
      nextOffset: 3,
      finished: true,
    });

    expect(await store.getFetchProgress(day, "S2A")).toEqual({
      available: 251,
      fetched: 200,
      nextOffset: 200,
      finished: false,
      lastFetchAt: new Date(T0 + 1000).toISOString(),
      recorded: 0,
      filtered: { tile: 5, level: 1, age: 0, platform: 0, unsafeName: 1, invalid: 0 },
    });
    expect((await store.getFetchProgress(day, "S2B"))?.finished).toBe(true);
    // Counter items carry a day but no status, so the sparse index never lists them.
    expect(await store.countByStatus(day)).toEqual({
      DISCOVERED: 0,
      DOWNLOADING: 0,
      DOWNLOADED: 0,
      FAILED: 0,
      DUPLICATE: 0,
    });
  });

  it("rejects an unknown platform", async () => {
    const { store } = aStore();
    await expect(store.getFetchProgress(aUniqueDay(), "S3A" as "S2A")).rejects.toThrow(/platform/);
  });

  it("accepts a Sentinel-2 unit not flying yet (S2D)", async () => {
    const { store } = aStore();
    await expect(store.getFetchProgress(aUniqueDay(), "S2D")).resolves.toBeUndefined();
  });

  it("rejects an unknown filter reason", async () => {
    const { store } = aStore();
    const update = { available: 1, fetchedDelta: 1, nextOffset: 1, finished: true };
    await expect(
      store.recordFetchProgress(aUniqueDay(), "S2A", { ...update, filteredDelta: { cloudy: 1 } as never }),
    ).rejects.toThrow(InvalidInputError);
  });

  it("counts each newly recorded granule in its (day, platform) counter, once", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const a = aDiscoveredGranule({ platform: "S2A" });
    const b = aDiscoveredGranule({ platform: "S2B" });
    await store.recordDiscovered(a, day);
    await store.recordDiscovered(a, day);
    await store.recordDiscovered(b, day);

    expect((await store.getFetchProgress(day, "S2A"))?.recorded).toBe(1);
    expect((await store.getFetchProgress(day, "S2B"))?.recorded).toBe(1);
    expect(await store.listPendingReconciled(day)).toMatchObject({ indexed: 2, recorded: 2 });
  });

  it("reconciles a platform outside the built-in list (S2D) against its own counter", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    await store.recordDiscovered(aDiscoveredGranule({ platform: "S2D" }), day);
    await store.recordDiscovered(aDiscoveredGranule({ platform: "S2D" }), day);

    expect(await store.listPendingReconciled(day)).toMatchObject({ indexed: 2, recorded: 2 });
  });
});

describe("unexpected SDK failures", () => {
  it("rethrows them with the operation and granule id, keeping name and cause", async () => {
    const documentClient = createDocumentClient(dynamo.client);
    const mock = mockClient(documentClient);
    // A refusal keeps its name; throttling becomes the declared AwsUnavailableError (next test).
    const refused = Object.assign(new Error("One or more parameter values were invalid"), {
      name: "ValidationException",
      $metadata: { httpStatusCode: 400 },
    });
    mock.on(UpdateCommand).rejects(refused);
    const store = new GranuleStore(documentClient, { tableName: TABLE });

    const error = await store.claimGranule("granule-7", "worker-1").catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: "ValidationException",
      message: expect.stringContaining("claimGranule granule-7"),
      cause: refused,
    });
    mock.restore();
  });

  it("rethrows throttling that outlived the SDK's retries as the retryable AwsUnavailableError, with operation and cause", async () => {
    const documentClient = createDocumentClient(dynamo.client);
    const mock = mockClient(documentClient);
    const throttled = Object.assign(new Error("Rate of requests exceeds the allowed throughput"), {
      name: "ProvisionedThroughputExceededException",
    });
    mock.on(UpdateCommand).rejects(throttled);
    const store = new GranuleStore(documentClient, { tableName: TABLE });

    const error = await store.claimGranule("granule-7", "worker-1").catch((e: unknown) => e);

    expect(error).toMatchObject({
      name: "AwsUnavailableError",
      awsError: "ProvisionedThroughputExceededException",
      message: expect.stringContaining("claimGranule granule-7"),
      cause: throttled,
    });
    mock.restore();
  });
});

describe("listByStatus paging", () => {
  it("follows LastEvaluatedKey until the index has no more pages", async () => {
    const documentClient = createDocumentClient(dynamo.client);
    const mock = mockClient(documentClient);
    const first = aDiscoveredGranule();
    const second = aDiscoveredGranule();
    const lastKey = { pk: `granule#${first.granuleId}`, dayShard: "2030-01-01#0", status: "DISCOVERED" };
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ pk: lastKey.pk, ...first }], LastEvaluatedKey: lastKey })
      .resolvesOnce({ Items: [{ pk: `granule#${second.granuleId}`, ...second }] })
      .resolves({ Items: [] });
    const store = new GranuleStore(documentClient, { tableName: TABLE });

    const records = await store.listByStatus("2030-01-01", "DISCOVERED");

    expect(records.map((r) => r.granuleId)).toEqual([first.granuleId, second.granuleId]);
    expect(records[0]).not.toHaveProperty("pk");
    const queries = mock.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries[1]?.ExclusiveStartKey).toEqual(lastKey);
    // Then every other shard of the day, from its start.
    expect(queries.map((q) => q.ExpressionAttributeValues?.[":dayShard"])).toEqual([
      "2030-01-01#0",
      ...dayShardsOf("2030-01-01"),
    ]);
    mock.restore();
  });
});
