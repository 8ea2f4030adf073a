import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { GranuleStore } from "../../src/adapters/store/store";
import { InvalidInputError } from "../../src/domain/errors";
import type { MetricName } from "../../src/domain/metrics";
import { measureUnfinishedAge, reportUnfinishedAge } from "../../src/usecases/unfinished-age";

const TABLE = "unfinished-age-test";
const dynamo = useGranuleTable(TABLE);
const HOUR = 3_600_000;

describe("measureUnfinishedAge", () => {
  it("counts every granule not ended over twice the horizon, those past the threshold, and the oldest's age", async () => {
    // A clock of its own, far from the other tests' days.
    const now = new Date(Date.parse(`${aUniqueDay("2045-01-01")}T12:00:00.000Z`));
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => now });
    const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * HOUR).toISOString();
    const record = async (hoursAgo: number) => {
      const granule = aDiscoveredGranule({ publishedAt: at(hoursAgo) });
      await store.recordDiscovered(granule, at(hoursAgo).slice(0, 10));
      return granule;
    };
    await record(2); // fresh, DISCOVERED
    const waiting = await record(60); // FAILED, not terminal: unfinished
    const gone = await record(70); // FAILED, terminal: ended
    const done = await record(80); // DOWNLOADED: ended
    const oldest = await record(24 * 10); // DISCOVERED 10 days ago: past the 7-day horizon, still counted
    await record(24 * 15); // beyond twice the horizon: not read
    await store.markFailed(waiting.granuleId, { name: "ChecksumNotPublishedError", message: "later" });
    await store.markFailed(gone.granuleId, { name: "GranuleGoneError", message: "410" });
    await store.claimGranule(done.granuleId, "w");
    await store.markDownloaded(done.granuleId, "w", { s3Key: "k", bytesWritten: 1 });

    const age = await measureUnfinishedAge({ store }, { horizonDays: 7, thresholdHours: 48, now: () => now });

    expect(age).toMatchObject({
      unfinished: 3,
      olderThanThreshold: 2,
      thresholdHours: 48,
      oldestAgeSeconds: 240 * 3600,
      oldest: { granuleId: oldest.granuleId, status: "DISCOVERED" },
    });
    expect([age.from, age.to]).toEqual([at(13 * 24).slice(0, 10), now.toISOString().slice(0, 10)]);
  });

  it("reports the three figures as metrics, and zero age when nothing is unfinished", async () => {
    const now = new Date(Date.parse(`${aUniqueDay("2046-01-01")}T12:00:00.000Z`));
    const store = new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => now });
    const added: [MetricName, number][] = [];

    reportUnfinishedAge(await measureUnfinishedAge({ store }, { now: () => now }), {
      add: (name, value) => void added.push([name, value]),
    });

    expect(added).toEqual([
      ["UnfinishedGranules", 0],
      ["UnfinishedGranulesOld", 0],
      ["OldestUnfinishedAge", 0],
    ]);
  });

  it("rejects a horizon or threshold that is not a positive integer", async () => {
    const store = dynamo.store;
    await expect(measureUnfinishedAge({ store }, { horizonDays: 0 })).rejects.toThrow(InvalidInputError);
    await expect(measureUnfinishedAge({ store }, { thresholdHours: 1.5 })).rejects.toThrow(InvalidInputError);
  });
});
