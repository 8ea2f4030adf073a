import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { useGranuleTable } from "@hls-s2/testing/dynamo";
import { aDiscoveredGranule, aUniqueDay } from "@hls-s2/testing/granules";
import { describe, expect, it } from "vitest";
import { GranuleStore } from "../../src/adapters/store/store";
import { DAY_MS, formatDay, parseDay } from "../../src/domain/day";
import type { MetricSink } from "../../src/domain/metrics";
import {
  closedDaysOf,
  type DeliveryLine,
  deliveryManifestKey,
  writeDeliveryManifests,
} from "../../src/usecases/delivery-manifest";
import { measureDayProducts, reportClosedDays, reportDay } from "../../src/usecases/report-day";
import { summarizeWindow, tallyDay } from "../../src/usecases/summarize";

const TABLE = "report-day-test";
const dynamo = useGranuleTable(TABLE);
const BUCKET = "work-bucket";

/** A work bucket in memory: PutObject and GetObject, NoSuchKey as S3 names it. */
function memoryBucket() {
  const objects = new Map<string, string>();
  const s3 = {
    async send(command: unknown) {
      if (command instanceof PutObjectCommand) {
        objects.set(`${command.input.Bucket}/${command.input.Key}`, String(command.input.Body));
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const body = objects.get(`${command.input.Bucket}/${command.input.Key}`);
        if (body === undefined) throw Object.assign(new Error("no such key"), { name: "NoSuchKey" });
        return { Body: { transformToString: async () => body } };
      }
      throw new Error(`unexpected ${String(command)}`);
    },
  } as unknown as S3Client;
  return { s3, objects, body: (key: string) => objects.get(`${BUCKET}/${key}`) };
}

/** A store whose clock reads `at` (the search counter's lastFetchAt comes from it). */
function storeAt(at: string): GranuleStore {
  return new GranuleStore(dynamo.documentClient, { tableName: TABLE, now: () => new Date(at) });
}

function nextDay(day: string): string {
  return formatDay(parseDay(day)! + DAY_MS);
}

/** Records `n` granules of `platform` on `day`, delivers the first `delivered` of them; returns them. */
async function aDay(
  day: string,
  platform: "S2A" | "S2B",
  n: number,
  delivered: number,
): Promise<ReturnType<typeof aDiscoveredGranule>[]> {
  const { store } = dynamo;
  const granules = Array.from({ length: n }, () =>
    aDiscoveredGranule({ platform, publishedAt: `${day}T10:00:00.000Z` }),
  );
  for (const granule of granules) await store.recordDiscovered(granule, day);
  for (const granule of granules.slice(0, delivered)) {
    await store.claimGranule(granule.granuleId, "w");
    await store.recordChecksum(granule.granuleId, "w", "0123456789abcdef0123456789abcdef");
    await store.markDownloaded(granule.granuleId, "w", { s3Key: `${granule.name}.zip`, bytesWritten: 1000 });
  }
  return granules;
}

/** A page of the day's search read at `at`: the hub said `available`, `filtered` were not recorded. */
async function searched(day: string, platform: "S2A" | "S2B", available: number, at: string, filtered = 0) {
  await storeAt(at).recordFetchProgress(day, platform, {
    available,
    fetchedDelta: available,
    nextOffset: available,
    finished: true,
    filteredDelta: { tile: filtered },
  });
}

describe("writeDeliveryManifests", () => {
  it("writes one JSON line per delivered granule, sorted by key, and the same bytes when run twice", async () => {
    // Prepare
    const day = aUniqueDay();
    const granules = await aDay(day, "S2A", 4, 3);
    const bucket = memoryBucket();
    const deps = { store: dynamo.store, s3: bucket.s3, bucket: BUCKET };

    // Act
    const [written] = await writeDeliveryManifests([day], deps);
    const first = bucket.body(deliveryManifestKey(day));
    await writeDeliveryManifests([day], deps);

    // Assess
    expect(written).toEqual({ day, key: `delivery/${day}.jsonl`, lines: 3 });
    expect(bucket.body(written!.key)).toBe(first);
    const lines = first!
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as DeliveryLine);
    const expected = granules
      .slice(0, 3)
      .map((g) => `${g.name}.zip`)
      .sort();
    expect(lines.map((line) => line.key)).toEqual(expected);
    for (const line of lines) {
      expect(line).toEqual({
        name: line.key.replace(/\.zip$/, ""),
        key: line.key,
        md5: "0123456789abcdef0123456789abcdef",
        bytes: 1000,
        publishedAt: `${day}T10:00:00.000Z`,
        deliveredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      });
    }
  });
});

describe("closedDaysOf", () => {
  it("takes every day of a window that ends before today, and none of one that reaches today", () => {
    const now = new Date("2026-12-07T12:00:00.000Z");
    expect(closedDaysOf({ from: "2026-12-01", to: "2026-12-06" }, now)).toHaveLength(6);
    expect(closedDaysOf({ from: "2026-12-02", to: "2026-12-07" }, now)).toEqual([]);
  });
});

describe("reportDay", () => {
  it("shows both equations holding with the hub's count after the day closed, and the manifest matching", async () => {
    // Prepare: S2A 5 recorded (3 delivered) and 2 filtered of the hub's 7; S2B 2 recorded, none delivered.
    const day = aUniqueDay();
    await aDay(day, "S2A", 5, 3);
    await aDay(day, "S2B", 2, 0);
    await searched(day, "S2A", 7, `${nextDay(day)}T12:00:00.000Z`, 2);
    await searched(day, "S2B", 2, `${nextDay(day)}T12:00:00.000Z`);
    const bucket = memoryBucket();
    const deps = { store: dynamo.store, s3: bucket.s3, bucket: BUCKET };
    await writeDeliveryManifests([day], deps);

    // Act
    const report = await reportDay(day, deps, { now: new Date(`${nextDay(day)}T13:00:00.000Z`) });

    // Assess
    expect(report.found).toEqual({ holds: true });
    expect(report.recorded).toEqual({ holds: true });
    expect(report.closed).toBe(true);
    expect(report.totals).toMatchObject({
      hubCount: 9,
      found: 9,
      filtered: 2,
      recorded: 7,
      delivered: 3,
      failed: 0,
      pending: 4,
    });
    expect(report.platforms[0]).toMatchObject({ platform: "S2A", hubCount: 7, filteredBy: { tile: 2 } });
    expect(report.manifest).toEqual({
      bucket: BUCKET,
      key: `delivery/${day}.jsonl`,
      uri: `s3://${BUCKET}/delivery/${day}.jsonl`,
      lines: 3,
      matchesDelivered: true,
    });
  });

  it("does not call the found equation holding while the hub was last asked before the day closed", async () => {
    const day = aUniqueDay();
    await aDay(day, "S2A", 2, 0);
    await searched(day, "S2A", 2, `${day}T23:00:00.000Z`);
    const bucket = memoryBucket();

    const report = await reportDay(day, { store: dynamo.store, s3: bucket.s3, bucket: BUCKET });

    expect(report.found).toMatchObject({ holds: false, reason: expect.stringContaining("S2A") });
    expect(report.platforms[0]!.hubCount).toBeUndefined();
    // No manifest was written for the day.
    expect(report.manifest.lines).toBeUndefined();
  });

  it("names the withdrawn and the duplicates, and counts a withdrawn product out of the hub's count", async () => {
    const day = aUniqueDay();
    const [gone, original, second] = await aDay(day, "S2B", 3, 0);
    const { store } = dynamo;
    await store.markFailed(gone!.granuleId, { name: "GranuleGoneError", message: "410 Gone" });
    await store.claimGranule(second!.granuleId, "w");
    await store.markDuplicate(second!.granuleId, "w", original!.granuleId);
    // The hub lists 2 after the day closed: the withdrawn one is gone from it.
    await searched(day, "S2B", 2, `${nextDay(day)}T01:00:00.000Z`);

    const report = await reportDay(day, { store, s3: memoryBucket().s3, bucket: BUCKET });

    expect(report.found).toEqual({ holds: true });
    expect(report.withdrawn).toEqual([{ granuleId: gone!.granuleId, name: gone!.name, platform: "S2B" }]);
    expect(report.duplicates).toEqual([
      { granuleId: second!.granuleId, name: second!.name, duplicateOf: original!.granuleId },
    ]);
    expect(report.totals).toMatchObject({ recorded: 3, failed: 1, duplicates: 1, pending: 1, withdrawn: 1 });
  });

  it("does not hold the found equation when the hub lists more after the day closed than the searches found", async () => {
    const day = aUniqueDay();
    await aDay(day, "S2A", 3, 3);
    // The page read after midnight counted 5: two products published late, not yet searched.
    await searched(day, "S2A", 5, `${nextDay(day)}T00:30:00.000Z`);

    const report = await reportDay(day, { store: dynamo.store, s3: memoryBucket().s3, bucket: BUCKET });

    expect(report.found).toEqual({ holds: false, reason: "S2A: the hub lists 5, found 3 (0 withdrawn)" });
    expect(report.recorded).toEqual({ holds: true });
  });

  it("flags a manifest that lacks a delivered object", async () => {
    const day = aUniqueDay();
    const bucket = memoryBucket();
    await aDay(day, "S2A", 1, 1);
    await writeDeliveryManifests([day], { store: dynamo.store, s3: bucket.s3, bucket: BUCKET });
    await aDay(day, "S2A", 1, 1);

    const report = await reportDay(day, { store: dynamo.store, s3: bucket.s3, bucket: BUCKET });

    expect(report.manifest).toMatchObject({ lines: 1, matchesDelivered: false });
  });
});

describe("measureDayProducts", () => {
  it("sets the day's S2MSI1C count against the median of the searched days of the week before", async () => {
    // Prepare: a week of 100, 100, 90, 110, 100 found (two days never searched), then a day of 40.
    const day = aUniqueDay("2031-01-01");
    const week = [100, 100, undefined, 90, 110, undefined, 100];
    for (const [i, found] of week.entries()) {
      if (found === undefined) continue;
      const past = formatDay(parseDay(day)! - (7 - i) * DAY_MS);
      await searched(past, "S2A", found, `${nextDay(past)}T12:00:00.000Z`, found);
    }
    await searched(day, "S2A", 40, `${nextDay(day)}T12:00:00.000Z`, 40);
    const tally = await tallyDay(day, { store: dynamo.store });

    // Act
    const products = await measureDayProducts(tally, { store: dynamo.store });

    // Assess
    expect(products).toEqual({ day, found: 40, median: 100, ofMedianPercent: 40 });
  });

  it("gives no median with fewer than 4 searched days before", async () => {
    const day = aUniqueDay("2032-01-01");
    await searched(day, "S2A", 10, `${nextDay(day)}T12:00:00.000Z`, 10);
    const tally = await tallyDay(day, { store: dynamo.store });

    expect(await measureDayProducts(tally, { store: dynamo.store })).toEqual({ day, found: 10 });
  });
});

describe("reportClosedDays", () => {
  it("publishes the count of a window ending yesterday and writes every day's manifest", async () => {
    const day = aUniqueDay("2033-01-01");
    await aDay(day, "S2A", 2, 2);
    const summary = await summarizeWindow({ from: day, to: day }, { store: dynamo.store });
    const added: [string, number][] = [];
    const metrics: MetricSink = { add: (name, value) => added.push([name, value]) };
    const bucket = memoryBucket();

    const result = await reportClosedDays(
      summary,
      { store: dynamo.store, s3: bucket.s3, bucket: BUCKET, metrics },
      { now: new Date(`${nextDay(day)}T12:00:00.000Z`) },
    );

    expect(result.manifests).toEqual([{ day, key: `delivery/${day}.jsonl`, lines: 2 }]);
    expect(added).toEqual([["DayProductsFound", 2]]);
  });

  it("writes nothing and publishes nothing for a window that reaches today", async () => {
    const day = aUniqueDay("2034-01-01");
    await aDay(day, "S2A", 1, 1);
    const summary = await summarizeWindow({ from: day, to: day }, { store: dynamo.store });
    const added: string[] = [];
    const bucket = memoryBucket();

    const result = await reportClosedDays(
      summary,
      { store: dynamo.store, s3: bucket.s3, bucket: BUCKET, metrics: { add: (name) => added.push(name) } },
      { now: new Date(`${day}T18:00:00.000Z`) },
    );

    expect(result).toEqual({ manifests: [] });
    expect(added).toEqual([]);
    expect(bucket.objects.size).toBe(0);
  });
});
