import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { GranuleStore } from "../../src/adapters/store/store";
import { InvalidInputError } from "../../src/domain/errors";
import { summarizeWindow, tallyDay } from "../../src/usecases/summarize";

const TABLE = "summary-test";
const dynamo = useGranuleTable(TABLE);
const { store } = dynamo;

async function recorded(day: string, platform: "S2A" | "S2B" | "S2D") {
  const granule = aDiscoveredGranule({ platform });
  await store.recordDiscovered(granule, day);
  return granule;
}

describe("tallyDay", () => {
  it("shows found = recorded + filtered and recorded = downloaded + failed + pending + missing per platform", async () => {
    const day = aUniqueDay();
    const done = await recorded(day, "S2A");
    const gone = await recorded(day, "S2A");
    await recorded(day, "S2A");
    const lost = await recorded(day, "S2B");
    await recorded(day, "S2B");
    await store.claimGranule(done.granuleId, "w");
    await store.markDownloaded(done.granuleId, "w", { s3Key: "k", bytesWritten: 1500 });
    await store.markFailed(gone.granuleId, { name: "GranuleGoneError", message: "410" });
    await store.recordFetchProgress(day, "S2A", {
      available: 7,
      fetchedDelta: 7,
      nextOffset: 7,
      finished: true,
      filteredDelta: { tile: 3, age: 1 },
    });
    // An index entry lost behind the store's back: the item is there, the index does not show it.
    await dynamo.documentClient.send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: `granule#${lost.granuleId}`, granuleId: lost.granuleId },
      }),
    );

    const tally = await tallyDay(day, { store });

    const [s2a, s2b] = tally.platforms;
    expect(s2a).toMatchObject({
      platform: "S2A",
      available: 7,
      searchFinished: true,
      found: 7,
      recorded: 3,
      filtered: 4,
      filteredBy: { tile: 3, age: 1, level: 0, unsafeName: 0 },
      downloaded: 1,
      failed: 1,
      pending: 1,
      missing: 0,
      failures: { GranuleGoneError: 1 },
      bytes: 1500,
    });
    expect(s2b).toMatchObject({ platform: "S2B", found: 2, recorded: 2, pending: 1, missing: 1 });
    expect(s2b?.available).toBeUndefined();
    expect(tally).toMatchObject({
      day,
      found: 9,
      recorded: 5,
      filtered: 4,
      missing: 1,
      counts: { DISCOVERED: 2, DOWNLOADING: 0, DOWNLOADED: 1, FAILED: 1 },
    });
  });
});

describe("summarizeWindow", () => {
  it("tallies every day of the window and adds them up", async () => {
    const first = aUniqueDay();
    const second = aUniqueDay();
    await recorded(first, "S2A");
    const failed = await recorded(second, "S2B");
    await store.markFailed(failed.granuleId, { name: "ChecksumMismatchError", message: "x" });

    const summary = await summarizeWindow({ from: first, to: second }, { store });

    expect(summary.days.map((d) => [d.day, d.recorded, d.failed])).toEqual([
      [first, 1, 0],
      [second, 1, 1],
    ]);
    expect(summary.totals).toMatchObject({
      recorded: 2,
      found: 2,
      pending: 1,
      failed: 1,
      failures: { ChecksumMismatchError: 1 },
      counts: { DISCOVERED: 1, DOWNLOADING: 0, DOWNLOADED: 0, FAILED: 1 },
    });
  });

  it("counts a platform outside the built-in list (S2D) in the day, the totals and its counter's figures", async () => {
    const day = aUniqueDay();
    const failed = await recorded(day, "S2D");
    await recorded(day, "S2D");
    await store.markFailed(failed.granuleId, { name: "GranuleGoneError", message: "410" });
    await store.recordFetchProgress(day, "S2D", {
      available: 3,
      fetchedDelta: 3,
      nextOffset: 3,
      finished: true,
      filteredDelta: { tile: 1 },
    });

    const summary = await summarizeWindow({ from: day, to: day }, { store });

    expect(summary.days[0]!.platforms).toMatchObject([
      { platform: "S2D", available: 3, found: 3, recorded: 2, filtered: 1, failed: 1, pending: 1 },
    ]);
    expect(summary.totals).toMatchObject({ found: 3, recorded: 2, failed: 1, pending: 1 });
  });

  it("gives each day's p50, p95 and max publication → verified-object latency from the same read", async () => {
    // Prepare: three granules published at 10:00, verified 2, 4 and 30 minutes later; one still pending.
    const day = aUniqueDay();
    let clock = new Date(`${day}T10:00:00.000Z`);
    const timed = new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => clock });
    for (const minutes of [2, 4, 30]) {
      const granule = aDiscoveredGranule({ publishedAt: `${day}T10:00:00.000Z` });
      await timed.recordDiscovered(granule, day);
      await timed.claimGranule(granule.granuleId, "w");
      clock = new Date(Date.parse(`${day}T10:00:00.000Z`) + minutes * 60_000);
      await timed.markDownloaded(granule.granuleId, "w", { s3Key: granule.name, bytesWritten: 1 });
    }
    await recorded(day, "S2A");

    // Act
    const summary = await summarizeWindow({ from: day, to: day }, { store });

    // Assess
    expect(summary.latency).toEqual([{ day, count: 3, p50Seconds: 240, p95Seconds: 1800, maxSeconds: 1800 }]);
    expect(summary.totals).toMatchObject({ downloaded: 3, pending: 1 });
  });

  it("rejects a window whose end comes before its start", async () => {
    await expect(summarizeWindow({ from: "2024-01-02", to: "2024-01-01" }, { store })).rejects.toThrow(
      InvalidInputError,
    );
  });
});
