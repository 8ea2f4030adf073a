import { S3Client } from "@aws-sdk/client-s3";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import type { Hub } from "../../src/adapters/hub/hub";
import {
  ChecksumNotPublishedError,
  GranuleOfflineError,
  HubThrottledError,
  HubUnavailableError,
  WAITING_ERROR_NAMES,
} from "../../src/domain/errors";
import { downloadGranule } from "../../src/usecases/download";
import { fakeHub, memoryS3 } from "../helpers/s3";

// Attempts count failures, not waiting: what a run of "not yet" answers does to MAX_ATTEMPTS (default 5).

const MIB = 1024 * 1024;
const TABLE = "download-attempts-test";
const { store } = useGranuleTable(TABLE);

/** A hub whose checksum answer is `answer(md5)` each time it is asked; the body is a real 6 MiB product. */
function hubAnswering(answer: (md5: string) => Promise<string>): Hub {
  const product = fakeHub({ size: 6 * MIB, chunkBytes: 256 * 1024 });
  return {
    kind: "cdse",
    async listSearchPage() {
      throw new Error("not used by downloads");
    },
    getChecksum: () => answer(product.md5),
    openDownload: (id, options) => product.openDownload(id, options),
  };
}

function deps(hub: Hub) {
  const s3 = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  memoryS3(s3);
  return { store, hub, s3, bucket: "upload-bucket", partSizeBytes: 5 * MIB, queueSize: 1 };
}

/**
 * One 5-minute pushed-downloads run after another: each is a new execution, so each child is a new lease
 * owner, and each run downloads only what listPending lists for the day.
 */
async function pushRuns(day: string, granuleId: string, hub: Hub, runs: number): Promise<number> {
  let listed = 0;
  for (let run = 1; run <= runs; run++) {
    const pending = await store.listPending(day);
    if (!pending.some((granule) => granule.granuleId === granuleId)) break;
    listed += 1;
    await downloadGranule({ granuleId, owner: `pushed-run-${run}:child` }, deps(hub)).catch(() => undefined);
  }
  return listed;
}

describe("attempts of a granule the hub answers 'not yet'", () => {
  it("never use up MAX_ATTEMPTS while the checksum is not published, so every later run still lists it", async () => {
    const day = aUniqueDay();
    const granule = aDiscoveredGranule();
    await store.recordDiscovered(granule, day);
    let published = false;
    const hub = hubAnswering(async (md5) => {
      if (!published) throw new ChecksumNotPublishedError(granule.granuleId);
      return md5;
    });

    // Twelve runs, an hour of 5-minute push runs: more than twice MAX_ATTEMPTS.
    expect(await pushRuns(day, granule.granuleId, hub, 12)).toBe(12);
    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      status: "FAILED",
      attempts: 1,
      lastError: { name: "ChecksumNotPublishedError" },
    });

    published = true;
    const done = await downloadGranule({ granuleId: granule.granuleId, owner: "daily:child" }, deps(hub));
    expect(done).toMatchObject({ outcome: "downloaded", attempts: 1 });
  });

  it.each([
    ["GranuleOfflineError", (id: string) => new GranuleOfflineError(id)],
    ["HubThrottledError", () => new HubThrottledError("429", { retryAfterSeconds: 30 })],
  ])("do not count a wait on %s either", async (_name, error) => {
    const day = aUniqueDay();
    const granule = aDiscoveredGranule();
    await store.recordDiscovered(granule, day);
    const hub = hubAnswering(async () => {
      throw error(granule.granuleId);
    });

    expect(await pushRuns(day, granule.granuleId, hub, 8)).toBe(8);
    expect((await store.getGranule(granule.granuleId))?.attempts).toBe(1);
  });

  it("still count every real failure, and a wait after four of them leaves the granule pending", async () => {
    const day = aUniqueDay();
    const granule = aDiscoveredGranule();
    await store.recordDiscovered(granule, day);
    let failures = 0;
    const hub = hubAnswering(async () => {
      failures += 1;
      if (failures <= 4) throw new HubUnavailableError("503", { status: 503 });
      throw new ChecksumNotPublishedError(granule.granuleId);
    });

    expect(await pushRuns(day, granule.granuleId, hub, 8)).toBe(8);
    expect((await store.getGranule(granule.granuleId))?.attempts).toBe(5);

    // Five real failures: MAX_ATTEMPTS is used up and no run lists the granule any more.
    const unavailable = hubAnswering(async () => {
      throw new HubUnavailableError("503", { status: 503 });
    });
    await pushRuns(day, granule.granuleId, unavailable, 1);
    expect(await store.getGranule(granule.granuleId)).toMatchObject({
      attempts: 5,
      lastError: { name: "HubUnavailableError" },
    });
    expect((await store.listPending(day)).map((g) => g.granuleId)).not.toContain(granule.granuleId);
  });

  it("are the classes that declare they wait: the hub's 'not yet' answers, the slot and session waits", () => {
    expect([...WAITING_ERROR_NAMES].sort()).toEqual(
      [
        "ChecksumNotPublishedError",
        "GranuleOfflineError",
        "HubSessionsExhaustedError",
        "HubSlotsBusyError",
        "HubThrottledError",
      ].sort(),
    );
  });
});
