import { GranuleStore } from "@hls-s2/core/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "../src/commands/status";
import { formatStatus } from "../src/format";
import {
  buildGranule,
  documentClient,
  seedGranule,
  startTable,
  type TestTable,
  uniqueDay,
} from "./helpers/granules";

let stores: TestTable;
beforeAll(async () => {
  stores = await startTable();
});
afterAll(async () => {
  await stores?.close();
});

/** A granule of `day` published at 00:00 UTC and verified in the bucket `hours` later. */
async function downloadedAfter(day: string, hours: number): Promise<void> {
  const publishedAt = `${day}T00:00:00.000Z`;
  const granule = buildGranule(day, "S2A", { publishedAt });
  // The store stamps downloadedAt with its clock: this one reads the verification time.
  const store = new GranuleStore(documentClient(stores), {
    tableName: stores.tableName,
    now: () => new Date(Date.parse(publishedAt) + hours * 3_600_000),
  });
  await store.recordDiscovered(granule, day);
  await store.claimGranule(granule.granuleId, "owner");
  await store.markDownloaded(granule.granuleId, "owner", { s3Key: `${granule.name}.zip`, bytesWritten: 1 });
}

describe("status latency", () => {
  it("reports each day's publication → verified-object p50, p95 and max and prints them", async () => {
    const day = uniqueDay();
    const quiet = uniqueDay();
    // 1 … 10 hours; a failed and a pending granule have no latency and must not count.
    for (let hours = 1; hours <= 10; hours++) await downloadedAfter(day, hours);
    await seedGranule(stores, day, "S2B", { status: "FAILED", error: "GranuleGoneError" });
    await seedGranule(stores, day, "S2B", { status: "DISCOVERED" });
    const [from, to] = [day, quiet].sort() as [string, string];

    const report = await status(
      { from, to },
      {
        store: new GranuleStore(documentClient(stores), { tableName: stores.tableName }),
        today: new Date(Date.parse(to) + 2 * 86_400_000),
      },
    );

    expect(report.latency).toEqual(
      expect.arrayContaining([
        { day, count: 10, p50Seconds: 5 * 3600, p95Seconds: 10 * 3600, maxSeconds: 10 * 3600 },
        { day: quiet, count: 0 },
      ]),
    );
    const text = formatStatus(report, "test");
    expect(text).toContain("Latency publication → verified object:");
    expect(text).toMatch(new RegExp(`${day}\\s+10\\s+5\\.0 h\\s+10\\.0 h\\s+10\\.0 h`));
    expect(text).not.toMatch(new RegExp(`${quiet}\\s+0\\s`));
  });
});
