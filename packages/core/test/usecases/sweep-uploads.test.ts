import { AbortMultipartUploadCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { GranuleStore } from "../../src/adapters/store/store";
import type { UploadProgress } from "../../src/domain/granule";
import { DEFAULT_ABANDONED_LEASE_MS, sweepAbandonedUploads } from "../../src/usecases/sweep-uploads";
import { memoryS3, offlineS3Client } from "../helpers/s3";

const TABLE = "granules";
const BUCKET = "uploads";
const T0 = Date.parse("2030-06-01T12:00:00.000Z");
const HOUR = 60 * 60 * 1000;
const dynamo = useGranuleTable(TABLE);

function aStore() {
  const clock = { ms: T0 };
  const store = new GranuleStore(dynamo.documentClient, {
    tableName: TABLE,
    leaseMs: 60_000,
    now: () => new Date(clock.ms),
  });
  return { store, clock };
}

function anUpload(uploadId: string, extra: Partial<UploadProgress> = {}): UploadProgress {
  return {
    uploadId,
    key: `${uploadId}.zip`,
    parts: [{ PartNumber: 1, ETag: '"e1"' }],
    bytes: 5 * 1024 * 1024,
    hashState: "c3RhdGU=",
    createdAt: T0,
    ...extra,
  };
}

/** Records a granule of `day` that holds `upload`, leased by `owner` (left DOWNLOADING). */
async function aGranuleWithUpload(
  store: GranuleStore,
  day: string,
  upload: UploadProgress,
  owner = "worker",
) {
  const granule = aDiscoveredGranule();
  await store.recordDiscovered(granule, day);
  await store.claimGranule(granule.granuleId, owner);
  await store.saveUploadProgress(granule.granuleId, owner, upload);
  return granule.granuleId;
}

function anS3(openUploads: string[]) {
  const s3 = offlineS3Client();
  const memory = memoryS3(s3);
  for (const id of openUploads) {
    memory.state.uploads.set(id, { key: `${id}.zip`, metadata: {}, parts: new Map(), state: "open" });
  }
  return { s3, ...memory };
}

describe("sweepAbandonedUploads", () => {
  it("aborts the uploads of ended granules and long-dead leases, from the table alone", async () => {
    const { store, clock } = aStore();
    const day = aUniqueDay();
    const failed = await aGranuleWithUpload(store, day, anUpload("failed-up"));
    await store.markFailed(failed, { name: "HubUnavailableError", message: "503" }, { owner: "worker" });
    const dead = await aGranuleWithUpload(store, day, anUpload("dead-up"));
    const verified = await aGranuleWithUpload(
      store,
      day,
      anUpload("verified-up", { completing: { md5: "0".repeat(32) } }),
    );
    await store.markFailed(verified, { name: "TransferInterruptedError", message: "x" }, { owner: "worker" });
    // Swept once no Retry could still be waiting to resume them (the Download's ladders and a lease).
    const sweptAt = T0 + DEFAULT_ABANDONED_LEASE_MS + 2 * HOUR;
    // Claimed 10 minutes ago by a live worker, and one whose lease ended only minutes ago.
    clock.ms = sweptAt - 10 * 60_000;
    const live = await aGranuleWithUpload(store, day, anUpload("live-up"));
    clock.ms = sweptAt - 30 * 60_000;
    const recent = await aGranuleWithUpload(store, day, anUpload("recent-up"));
    const { s3, mock, state } = anS3(["failed-up", "dead-up", "verified-up", "live-up", "recent-up"]);

    const result = await sweepAbandonedUploads(
      { from: day, to: day },
      { store, s3, bucket: BUCKET, now: () => sweptAt },
    );

    expect(result.aborted.map((upload) => upload.uploadId).sort()).toEqual(["dead-up", "failed-up"]);
    expect(result.completing).toEqual([
      { granuleId: verified, status: "FAILED", key: "verified-up.zip", uploadId: "verified-up" },
    ]);
    expect(result.failed).toEqual([]);
    expect(
      mock
        .commandCalls(AbortMultipartUploadCommand)
        .map((call) => call.args[0].input.UploadId)
        .sort(),
    ).toEqual(["dead-up", "failed-up"]);
    expect(state.uploads.get("failed-up")!.state).toBe("aborted");
    expect(state.uploads.get("verified-up")!.state).toBe("open");
    expect(state.uploads.get("live-up")!.state).toBe("open");
    expect(state.uploads.get("recent-up")!.state).toBe("open");
    expect((await store.getGranule(failed))!.upload).toBeUndefined();
    expect((await store.getGranule(dead))!.upload).toBeUndefined();
    expect((await store.getGranule(verified))!.upload?.uploadId).toBe("verified-up");
    expect((await store.getGranule(live))!.upload?.uploadId).toBe("live-up");
    expect((await store.getGranule(recent))!.upload?.uploadId).toBe("recent-up");
  });

  it("leaves an upload alone when a worker claims its granule between the listing and the abort", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const granuleId = await aGranuleWithUpload(store, day, anUpload("resumed-up"));
    await store.markFailed(granuleId, { name: "GranuleGoneError", message: "410" }, { owner: "worker" });
    const { s3, mock } = anS3(["resumed-up"]);
    const racing = {
      listByStatus: store.listByStatus.bind(store),
      forgetAbandonedUpload: store.forgetAbandonedUpload.bind(store),
      releaseAbandonedUpload: store.releaseAbandonedUpload.bind(store),
      // A redrive claims the granule right after the sweeper listed it, to resume this very upload.
      markUploadAbandoned: async (...args: Parameters<GranuleStore["markUploadAbandoned"]>) => {
        await store.claimGranule(granuleId, "redrive");
        return store.markUploadAbandoned(...args);
      },
    };

    const result = await sweepAbandonedUploads({ from: day, to: day }, { store: racing, s3, bucket: BUCKET });

    expect(result.aborted).toEqual([]);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect(await store.getGranule(granuleId)).toMatchObject({
      status: "DOWNLOADING",
      leaseOwner: "redrive",
      upload: { uploadId: "resumed-up" },
    });
    expect((await store.getGranule(granuleId))!.upload?.abandonedAt).toBeUndefined();
  });

  it("refuses a late worker's checkpoint over an upload marked abandoned, but not over its new upload", async () => {
    const { store, clock } = aStore();
    const day = aUniqueDay();
    const granuleId = await aGranuleWithUpload(store, day, anUpload("stale-up"), "stale-worker");
    clock.ms = T0 + 2 * HOUR;
    expect(
      await store.markUploadAbandoned(granuleId, "stale-up", {
        status: "DOWNLOADING",
        leaseExpiredBefore: T0 + HOUR,
      }),
    ).toBe(true);

    // Its lease ran out long ago but the worker still runs: a completing record here would later take
    // the sweeper's abort for a completion.
    await expect(
      store.saveUploadProgress(
        granuleId,
        "stale-worker",
        anUpload("stale-up", { completing: { md5: "0".repeat(32) } }),
      ),
    ).rejects.toMatchObject({ name: "LeaseLostError" });
    // After NoSuchUpload it starts a new upload, which it may record.
    await store.saveUploadProgress(granuleId, "stale-worker", anUpload("fresh-up", { parts: [], bytes: 0 }));
    expect((await store.getGranule(granuleId))!.upload).toMatchObject({ uploadId: "fresh-up" });
  });

  it("leaves an upload resumable, not marked abandoned, when S3 refuses the abort, and takes NoSuchUpload as done", async () => {
    const { store } = aStore();
    const day = aUniqueDay();
    const refused = await aGranuleWithUpload(store, day, anUpload("refused-up"));
    await store.markFailed(refused, { name: "GranuleGoneError", message: "410" }, { owner: "worker" });
    const gone = await aGranuleWithUpload(store, day, anUpload("gone-up"));
    await store.markFailed(gone, { name: "GranuleGoneError", message: "410" }, { owner: "worker" });
    const { s3, mock } = anS3([]);
    mock.on(AbortMultipartUploadCommand, { UploadId: "refused-up" }).rejects(
      new S3ServiceException({
        name: "AccessDenied",
        $fault: "client",
        $metadata: { httpStatusCode: 403 },
        message: "denied",
      }),
    );
    mock.on(AbortMultipartUploadCommand, { UploadId: "gone-up" }).rejects(
      new S3ServiceException({
        name: "NoSuchUpload",
        $fault: "client",
        $metadata: { httpStatusCode: 404 },
        message: "gone",
      }),
    );

    const result = await sweepAbandonedUploads({ from: day, to: day }, { store, s3, bucket: BUCKET });

    expect(result.aborted.map((upload) => upload.uploadId)).toEqual(["gone-up"]);
    expect(result.failed).toEqual([
      expect.objectContaining({ uploadId: "refused-up", error: "AccessDenied" }),
    ]);
    expect((await store.getGranule(gone))!.upload).toBeUndefined();
    // Abandoned only once aborted: a refused abort leaves the upload as it was, for a later attempt.
    expect((await store.getGranule(refused))!.upload).toMatchObject({ uploadId: "refused-up" });
    expect((await store.getGranule(refused))!.upload?.abandonedAt).toBeUndefined();
  });

  it("keeps the upload of a granule whose child may still retry: not terminal, and idle less than its Retry ladders", async () => {
    const { store, clock } = aStore();
    const day = aUniqueDay();
    // Throttled an hour ago: its child may be waiting out the slot or sessions Retry, to resume this upload.
    const waiting = await aGranuleWithUpload(store, day, anUpload("waiting-up"));
    await store.markFailed(waiting, { name: "HubThrottledError", message: "429" }, { owner: "worker" });
    // A worker killed by its timeout two hours ago: a Retry or the next run's claim resumes its upload.
    clock.ms = T0 - 2 * HOUR;
    const killed = await aGranuleWithUpload(store, day, anUpload("killed-up"));
    const { s3, mock, state } = anS3(["waiting-up", "killed-up"]);

    const early = await sweepAbandonedUploads(
      { from: day, to: day },
      { store, s3, bucket: BUCKET, now: () => T0 + HOUR },
    );

    expect(early.aborted).toEqual([]);
    expect(mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
    expect((await store.getGranule(waiting))!.upload).toMatchObject({ uploadId: "waiting-up" });
    expect((await store.getGranule(killed))!.upload).toMatchObject({ uploadId: "killed-up" });

    // Past every Retry ladder plus a lease, nobody is left to resume them.
    const late = await sweepAbandonedUploads(
      { from: day, to: day },
      { store, s3, bucket: BUCKET, leaseMs: 60_000, now: () => T0 + DEFAULT_ABANDONED_LEASE_MS + 2 * 60_000 },
    );
    expect(late.aborted.map((upload) => upload.uploadId).sort()).toEqual(["killed-up", "waiting-up"]);
    expect(state.uploads.get("waiting-up")!.state).toBe("aborted");
  });

  it("waits the Download's Retry ladders end to end, derived from core's policies (~84 h)", () => {
    expect(DEFAULT_ABANDONED_LEASE_MS / 3_600_000).toBeGreaterThan(83);
    expect(DEFAULT_ABANDONED_LEASE_MS / 3_600_000).toBeLessThan(85);
  });
});
