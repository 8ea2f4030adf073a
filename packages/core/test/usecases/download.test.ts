import { S3Client } from "@aws-sdk/client-s3";
import { createGranuleTable, useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { Hub } from "../../src/adapters/hub/hub";
import { SlotPool } from "../../src/adapters/store/slots";
import { GranuleStore } from "../../src/adapters/store/store";
import {
  ChecksumMismatchError,
  GranuleGoneError,
  HubSlotsBusyError,
  TransferInterruptedError,
} from "../../src/domain/errors";
import { objectKeyFor } from "../../src/domain/granule";
import type { MetricName, MetricSink } from "../../src/domain/metrics";
import { type DownloadDeps, downloadGranule } from "../../src/usecases/download";
import { type FakeHub, type FakeHubOptions, fakeHub, memoryS3 } from "../helpers/s3";

const MIB = 1024 * 1024;
const TABLE = "download-test";
const dynamo = useGranuleTable(TABLE);
const { store } = dynamo;

/** A whole Hub around the transfer tests' fake product; the checksum answer can be replaced. */
function hubFor(product: FakeHub, checksum: () => Promise<string> = async () => product.md5.toUpperCase()) {
  let checksumCalls = 0;
  const hub: Hub = {
    kind: "dhus",
    async listSearchPage() {
      throw new Error("not used by downloads");
    },
    async getChecksum() {
      checksumCalls += 1;
      return checksum();
    },
    openDownload: (id, options) => product.openDownload(id, options),
  };
  return { hub, checksumCalls: () => checksumCalls };
}

async function aDiscoveredRecord() {
  const granule = aDiscoveredGranule();
  await store.recordDiscovered(granule, aUniqueDay());
  return granule;
}

function depsWith(hub: Hub, overrides: Partial<DownloadDeps> = {}) {
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const memory = memoryS3(s3);
  const deps: DownloadDeps = {
    store,
    hub,
    s3,
    bucket: "upload-bucket",
    objectPrefix: "incoming",
    partSizeBytes: 5 * MIB,
    queueSize: 1,
    ...overrides,
  };
  return { deps, memory: memory.state };
}

function product(options: Partial<FakeHubOptions> = {}) {
  return fakeHub({ size: 6 * MIB, chunkBytes: 256 * 1024, ...options });
}

describe("downloadGranule", () => {
  it("claims, verifies and uploads the granule under its object key, then marks it downloaded", async () => {
    const granule = await aDiscoveredRecord();
    const source = product();
    const { hub } = hubFor(source);
    const { deps, memory } = depsWith(hub);

    const result = await downloadGranule({ granuleId: granule.granuleId, owner: "exec-1" }, deps);

    const key = objectKeyFor(granule.name, "incoming");
    expect(result).toMatchObject({
      granuleId: granule.granuleId,
      outcome: "downloaded",
      key,
      bytes: 6 * MIB,
      resumedFromBytes: 0,
    });
    expect(result.seconds).toBeGreaterThanOrEqual(0);
    expect(memory.objects.get(key)?.length).toBe(6 * MIB);
    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      status: "DOWNLOADED",
      s3Key: key,
      bytesWritten: 6 * MIB,
      checksum: { algorithm: "MD5", value: source.md5 },
    });
  });

  it("reports a granule already downloaded without touching the hub", async () => {
    const granule = await aDiscoveredRecord();
    await store.claimGranule(granule.granuleId, "earlier");
    await store.markDownloaded(granule.granuleId, "earlier", { s3Key: "k.zip", bytesWritten: 7 });
    const { hub, checksumCalls } = hubFor(product());

    const result = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-2" },
      depsWith(hub).deps,
    );

    expect(result).toEqual({
      granuleId: granule.granuleId,
      outcome: "already-downloaded",
      key: "k.zip",
      bytes: 7,
    });
    expect(checksumCalls()).toBe(0);
  });

  it("leaves a granule another worker holds a live lease on", async () => {
    const granule = await aDiscoveredRecord();
    await store.claimGranule(granule.granuleId, "other-worker");
    const { hub, checksumCalls } = hubFor(product());

    const result = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-3" },
      depsWith(hub).deps,
    );

    expect(result).toEqual({ granuleId: granule.granuleId, outcome: "leased-elsewhere" });
    expect(checksumCalls()).toBe(0);
  });

  it("checkpoints when its signal aborts and resumes the saved upload on the next attempt", async () => {
    const granule = await aDiscoveredRecord();
    const controller = new AbortController();
    const source = product({ size: 11 * MIB, onServed: (served) => served >= 6 * MIB && controller.abort() });
    const { hub } = hubFor(source);
    const { deps, memory } = depsWith(hub, { signal: controller.signal });

    await expect(downloadGranule({ granuleId: granule.granuleId, owner: "exec-4" }, deps)).rejects.toThrow(
      TransferInterruptedError,
    );
    expect((await store.getGranule(granule.granuleId))?.upload?.bytes).toBe(5 * MIB);

    const retry = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-4" },
      { ...deps, signal: undefined },
    );

    expect(retry).toMatchObject({ outcome: "downloaded", bytes: 11 * MIB, resumedFromBytes: 5 * MIB });
    expect(memory.objects.get(retry.key!)?.length).toBe(11 * MIB);
    expect(source.opens.at(-1)?.requested).toBe(5 * MIB);
  });

  it("renews its lease from the upload checkpoints once half of it has passed", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product({ size: 11 * MIB }));
    const renewals: string[] = [];
    const renewingStore: DownloadDeps["store"] = {
      getGranule: (id) => store.getGranule(id),
      claimGranule: (id, owner) => store.claimGranule(id, owner),
      recordChecksum: (id, owner, md5) => store.recordChecksum(id, owner, md5),
      saveUploadProgress: (id, owner, progress) => store.saveUploadProgress(id, owner, progress),
      markUploadCreating: (id, owner, key) => store.markUploadCreating(id, owner, key),
      markFailed: (id, error, options) => store.markFailed(id, error, options),
      markDownloaded: (id, owner, result) => store.markDownloaded(id, owner, result),
      claimObjectKey: (key, id) => store.claimObjectKey(key, id),
      takeOverObjectKey: (key, from, to) => store.takeOverObjectKey(key, from, to),
      markDuplicate: (id, owner, of) => store.markDuplicate(id, owner, of),
      renewLease: (id, owner) => {
        renewals.push(id);
        return store.renewLease(id, owner);
      },
    };
    // A clock ten minutes ahead: the 15-minute lease taken at the claim is past its half-life at once.
    let calls = 0;
    const now = () => Date.now() + (calls++ === 0 ? 0 : 600_000);
    const { deps } = depsWith(hub, { store: renewingStore, now });

    await downloadGranule({ granuleId: granule.granuleId, owner: "exec-9" }, deps);

    expect(renewals.length).toBeGreaterThan(0);
    expect(renewals.every((id) => id === granule.granuleId)).toBe(true);
  });

  it("asks the hub for the checksum on every attempt and forgets the aborted upload after a mismatch", async () => {
    const granule = await aDiscoveredRecord();
    const source = product();
    let answer = "0".repeat(32);
    const { hub, checksumCalls } = hubFor(source, async () => answer);
    const { deps, memory } = depsWith(hub);

    await expect(downloadGranule({ granuleId: granule.granuleId, owner: "exec-5" }, deps)).rejects.toThrow(
      ChecksumMismatchError,
    );
    expect((await store.getGranule(granule.granuleId))?.upload).toBeUndefined();
    expect([...memory.uploads.values()].every((upload) => upload.state === "aborted")).toBe(true);

    // ESA corrected its MD5: the retry must compare against the new one, not a stored copy.
    answer = source.md5;
    const retry = await downloadGranule({ granuleId: granule.granuleId, owner: "exec-5" }, deps);

    expect(retry.outcome).toBe("downloaded");
    expect(checksumCalls()).toBe(2);
  });

  it("propagates the hub's GranuleGoneError unchanged", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product(), async () => {
      throw new GranuleGoneError(granule.granuleId, 410);
    });

    await expect(
      downloadGranule({ granuleId: granule.granuleId, owner: "exec-6" }, depsWith(hub).deps),
    ).rejects.toMatchObject({ name: "GranuleGoneError", status: 410 });
  });

  it("raises TransferInterruptedError, not an AbortError, when the attempt has no time left", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product());

    await expect(
      downloadGranule(
        { granuleId: granule.granuleId, owner: "exec-7" },
        depsWith(hub, { signal: AbortSignal.abort(new DOMException("timed out", "TimeoutError")) }).deps,
      ),
    ).rejects.toMatchObject({ name: "TransferInterruptedError" });
  });
});

describe("downloadGranule's failure record", () => {
  it("records FAILED with the error name and message before the error reaches Step Functions", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product(), async () => {
      throw new GranuleGoneError(granule.granuleId, 410);
    });

    const error = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-8" },
      depsWith(hub).deps,
    ).then(
      () => new Error("resolved"),
      (e: unknown) => e as Error,
    );

    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({
      status: "FAILED",
      attempts: 1,
      failedBy: "exec-8",
      lastError: { name: "GranuleGoneError", message: error.message },
    });
    expect(record?.leaseOwner).toBeUndefined();
  });

  it("lets a retry or redrive of the same child re-claim its FAILED record without counting an attempt", async () => {
    const granule = await aDiscoveredRecord();
    const source = product();
    let fail = true;
    const { hub } = hubFor(source, async () => {
      if (fail) throw new GranuleGoneError(granule.granuleId, 503);
      return source.md5;
    });
    const { deps } = depsWith(hub);
    await expect(downloadGranule({ granuleId: granule.granuleId, owner: "exec-9" }, deps)).rejects.toThrow(
      GranuleGoneError,
    );

    fail = false;
    const again = await downloadGranule({ granuleId: granule.granuleId, owner: "exec-9" }, deps);

    expect(again.outcome).toBe("downloaded");
    const record = await store.getGranule(granule.granuleId);
    expect(record).toMatchObject({ status: "DOWNLOADED", attempts: 1 });
    expect(record?.lastError).toBeUndefined();
  });

  it("records nothing when its lease was taken over: the granule is left to the new holder, then finished by a later run", async () => {
    // Issue 22: a worker whose lease lapsed and was claimed by another (which then died too) recorded
    // FAILED LeaseLostError, a terminal end for a granule nobody failed, possibly over a delivered object.
    const granule = await aDiscoveredRecord();
    const clock = { ms: Date.parse("2026-12-01T12:00:00Z") };
    const atClock = new GranuleStore(dynamo.documentClient, {
      tableName: TABLE,
      now: () => new Date(clock.ms),
    });
    let stolen = false;
    // At A's first checkpoint, twenty minutes have passed: A's 15-minute lease is over and B takes the
    // granule; twenty more, and B's lease is over too (B died).
    const stealing = new (class extends GranuleStore {
      override async saveUploadProgress(...args: Parameters<GranuleStore["saveUploadProgress"]>) {
        if (!stolen) {
          stolen = true;
          clock.ms += 20 * 60_000;
          expect((await atClock.claimGranule(granule.granuleId, "exec-B")).outcome).toBe("claimed");
          clock.ms += 20 * 60_000;
        }
        return super.saveUploadProgress(...args);
      }
    })(dynamo.documentClient, { tableName: TABLE, now: () => new Date(clock.ms) });
    const { hub } = hubFor(product({ size: 16 * MIB }));
    const { deps, memory } = depsWith(hub, { store: stealing, now: () => clock.ms });

    const first = await downloadGranule({ granuleId: granule.granuleId, owner: "exec-A" }, deps);

    expect(stolen).toBe(true);
    expect(first).toEqual({ granuleId: granule.granuleId, outcome: "leased-elsewhere" });
    const left = await atClock.getGranule(granule.granuleId);
    expect(left).toMatchObject({ status: "DOWNLOADING", leaseOwner: "exec-B" });
    expect(left?.lastError).toBeUndefined();

    const later = await downloadGranule({ granuleId: granule.granuleId, owner: "exec-C" }, deps);
    expect(later.outcome).toBe("downloaded");
    expect(await atClock.getGranule(granule.granuleId)).toMatchObject({ status: "DOWNLOADED" });
    expect(memory.objects.get(later.key!)?.length).toBe(16 * MIB);
  });

  it("counts a new attempt when another execution claims the FAILED granule", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product(), async () => {
      throw new GranuleGoneError(granule.granuleId, 410);
    });
    const { deps } = depsWith(hub);
    await downloadGranule({ granuleId: granule.granuleId, owner: "exec-10" }, deps).catch(() => undefined);
    await downloadGranule({ granuleId: granule.granuleId, owner: "exec-11" }, deps).catch(() => undefined);

    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      status: "FAILED",
      attempts: 2,
      failedBy: "exec-11",
    });
  });
});

describe("downloadGranule's hub slot", () => {
  async function aPool(slots: number) {
    const tableName = `download-slots-${Math.random().toString(36).slice(2)}`;
    await createGranuleTable(dynamo.client, tableName);
    return new SlotPool(dynamo.documentClient, { tableName, defaultSlots: slots, leaseMs: 60_000 });
  }

  it("throws HubSlotsBusyError before touching the hub or the granule when every slot is held", async () => {
    const granule = await aDiscoveredRecord();
    const { hub, checksumCalls } = hubFor(product());
    const slots = await aPool(1);
    await slots.acquire("another-execution");
    const { deps } = depsWith(hub, { slots });

    await expect(
      downloadGranule({ granuleId: granule.granuleId, owner: "exec-waits" }, deps),
    ).rejects.toBeInstanceOf(HubSlotsBusyError);

    // Waiting is not failing: the granule is exactly as discovered, no attempt counted, no hub request.
    expect(checksumCalls()).toBe(0);
    expect(await store.getGranule(granule.granuleId)).toMatchObject({ status: "DISCOVERED", attempts: 0 });
    expect((await store.getGranule(granule.granuleId))?.lastError).toBeUndefined();
  });

  it("needs no slot for a granule another execution downloaded or is downloading", async () => {
    const slots = await aPool(1);
    const downloaded = await aDiscoveredRecord();
    await downloadGranule(
      { granuleId: downloaded.granuleId, owner: "exec-day" },
      depsWith(hubFor(product()).hub, { slots }).deps,
    );
    const leased = await aDiscoveredRecord();
    await store.claimGranule(leased.granuleId, "exec-day");
    // Every slot held: only a download that needs one would have to wait.
    await slots.acquire("exec-day");
    const { hub, checksumCalls } = hubFor(product());

    await expect(
      downloadGranule(
        { granuleId: downloaded.granuleId, owner: "exec-backfill" },
        depsWith(hub, { slots }).deps,
      ),
    ).resolves.toMatchObject({
      outcome: "already-downloaded",
      key: expect.stringContaining(objectKeyFor(downloaded.name)),
    });
    await expect(
      downloadGranule({ granuleId: leased.granuleId, owner: "exec-backfill" }, depsWith(hub, { slots }).deps),
    ).resolves.toMatchObject({ outcome: "leased-elsewhere" });
    expect(checksumCalls()).toBe(0);
    expect((await slots.usage()).held.map((lease) => lease.owner)).toEqual(["exec-day"]);
  });

  it("frees its slot after a download, after nothing to do and after a failure", async () => {
    const slots = await aPool(1);
    const done = await aDiscoveredRecord();
    await downloadGranule(
      { granuleId: done.granuleId, owner: "exec-a" },
      depsWith(hubFor(product()).hub, { slots }).deps,
    );
    expect((await slots.usage()).held).toHaveLength(0);

    await downloadGranule(
      { granuleId: done.granuleId, owner: "exec-b" },
      depsWith(hubFor(product()).hub, { slots }).deps,
    );
    expect((await slots.usage()).held).toHaveLength(0);

    const gone = await aDiscoveredRecord();
    const goneHub = hubFor(product(), async () => {
      throw new GranuleGoneError(gone.granuleId, 410);
    }).hub;
    await expect(
      downloadGranule({ granuleId: gone.granuleId, owner: "exec-c" }, depsWith(goneHub, { slots }).deps),
    ).rejects.toBeInstanceOf(GranuleGoneError);
    expect((await slots.usage()).held).toHaveLength(0);
  });
});

describe("downloadGranule's hub slot metrics", () => {
  async function aPool(slots: number) {
    const tableName = `download-slot-metrics-${Math.random().toString(36).slice(2)}`;
    await createGranuleTable(dynamo.client, tableName);
    return new SlotPool(dynamo.documentClient, { tableName, defaultSlots: slots, leaseMs: 60_000 });
  }

  it("reports the slots in use, its own included, and the quota once it holds a slot", async () => {
    const granule = await aDiscoveredRecord();
    const slots = await aPool(3);
    await slots.acquire("another-execution");
    const { sink, added, reported } = recordingSink();

    await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-gauge" },
      depsWith(hubFor(product()).hub, { slots, metrics: sink }).deps,
    );

    expect(reported("HubSlotsInUse")).toBe(2);
    expect(reported("HubSlotQuota")).toBe(3);
    // Read once, right after the acquire, before the granule's own figures.
    expect(added.slice(0, 2).map((entry) => entry.name)).toEqual(["HubSlotsInUse", "HubSlotQuota"]);
    expect(added.filter((entry) => entry.name === "HubSlotsInUse")).toHaveLength(1);
    expect(added.some((entry) => entry.name === "HubSlotWaits")).toBe(false);
  });

  it("counts a wait for a slot, and only that, when every slot is held", async () => {
    const granule = await aDiscoveredRecord();
    const slots = await aPool(1);
    await slots.acquire("another-execution");
    const { sink, added } = recordingSink();

    await expect(
      downloadGranule(
        { granuleId: granule.granuleId, owner: "exec-waits" },
        depsWith(hubFor(product()).hub, { slots, metrics: sink }).deps,
      ),
    ).rejects.toBeInstanceOf(HubSlotsBusyError);

    // A wait is not a failed attempt: no DownloadFailed, and no gauge (no slot was taken).
    expect(added).toEqual([{ name: "HubSlotWaits", value: 1 }]);
  });

  it("downloads and frees its slot when the slots in use cannot be read", async () => {
    const granule = await aDiscoveredRecord();
    const pool = await aPool(1);
    const slots = {
      acquire: pool.acquire.bind(pool),
      renew: pool.renew.bind(pool),
      release: pool.release.bind(pool),
      inUse: async () => {
        throw new Error("ProvisionedThroughputExceededException");
      },
    };
    const { sink, added } = recordingSink();

    const result = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-unread" },
      depsWith(hubFor(product()).hub, { slots, metrics: sink }).deps,
    );

    expect(result.outcome).toBe("downloaded");
    expect(added.some((entry) => entry.name.startsWith("HubSlot"))).toBe(false);
    expect((await pool.usage()).held).toHaveLength(0);
  });
});

/** A MetricSink that keeps what it was given, in order. */
function recordingSink() {
  const added: { name: MetricName; value: number; errorName?: string }[] = [];
  const sink: MetricSink = {
    add: (name, value, dimensions) => added.push({ name, value, ...dimensions }),
  };
  const reported = (name: MetricName) => added.find((entry) => entry.name === name)?.value;
  return { sink, added, reported };
}

describe("downloadGranule metrics", () => {
  it("reports bytes, seconds, MB/s, bytes resumed, attempts and publication latency of a verified object", async () => {
    const publishedAt = new Date(Date.now() - 2 * 3600 * 1000).toISOString();
    const granule = aDiscoveredGranule({ publishedAt });
    await store.recordDiscovered(granule, aUniqueDay());
    const { hub } = hubFor(product());
    const { sink, added, reported } = recordingSink();

    const result = await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-m" },
      depsWith(hub, { metrics: sink }).deps,
    );

    expect(added.map((entry) => entry.name)).toEqual([
      "GranuleBytes",
      "GranuleSeconds",
      "GranuleThroughput",
      "GranuleBytesResumed",
      "GranuleAttempts",
      "GranuleLatency",
    ]);
    expect(reported("GranuleBytes")).toBe(6 * MIB);
    expect(reported("GranuleSeconds")).toBe(result.seconds);
    expect(reported("GranuleThroughput")).toBeCloseTo((6 * MIB) / 1e6 / result.seconds!, 6);
    expect(reported("GranuleBytesResumed")).toBe(0);
    expect(reported("GranuleAttempts")).toBe(1);
    // Two hours before the object was verified, give or take the test's own seconds.
    expect(reported("GranuleLatency")).toBeGreaterThanOrEqual(7200);
    expect(reported("GranuleLatency")).toBeLessThan(7200 + 30);
    expect(result.latencySeconds).toBe(reported("GranuleLatency"));
  });

  it("counts a failed attempt by its error name and reports no per-granule figure", async () => {
    const granule = await aDiscoveredRecord();
    const { hub } = hubFor(product(), async () => {
      throw new GranuleGoneError(granule.granuleId, 410);
    });
    const { sink, added } = recordingSink();

    await expect(
      downloadGranule(
        { granuleId: granule.granuleId, owner: "exec-f" },
        depsWith(hub, { metrics: sink }).deps,
      ),
    ).rejects.toThrow(GranuleGoneError);

    expect(added).toEqual([{ name: "DownloadFailed", value: 1, errorName: "GranuleGoneError" }]);
  });

  it("reports nothing for a granule already downloaded", async () => {
    const granule = await aDiscoveredRecord();
    await store.claimGranule(granule.granuleId, "earlier");
    await store.markDownloaded(granule.granuleId, "earlier", { s3Key: "k.zip", bytesWritten: 7 });
    const { sink, added } = recordingSink();

    await downloadGranule(
      { granuleId: granule.granuleId, owner: "exec-again" },
      depsWith(hubFor(product()).hub, { metrics: sink }).deps,
    );

    expect(added).toEqual([]);
  });
});
